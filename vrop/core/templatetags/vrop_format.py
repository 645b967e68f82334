"""Template filters: money, percent, quantity and dates the Russian way."""

from __future__ import annotations

from django import template
from django.utils import formats, timezone

from vrop.core import money

register = template.Library()


@register.filter
def rub(value, places=2):
    return money.format_money(value, int(places))


@register.filter
def num(value, places=2):
    return money.format_number(value, int(places))


@register.filter
def pct(value, places=1):
    return money.format_percent(value, int(places))


@register.filter
def qty(value, unit=""):
    if value is None:
        return "—"
    text = money.format_number(value, 3).rstrip("0").rstrip(",")
    return f"{text}\u00a0{unit}" if unit else text


@register.filter
def dmy(value):
    """``ДД.ММ.ГГГГ`` for a date; ``ДД.ММ.ГГГГ ЧЧ:ММ`` in local time for a datetime."""
    if value is None or value == "":
        return "—"
    if hasattr(value, "hour"):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime("%d.%m.%Y %H:%M")
    return value.strftime("%d.%m.%Y")


@register.filter
def localnum(value):
    return formats.localize(value)
