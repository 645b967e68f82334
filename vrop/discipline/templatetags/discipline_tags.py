"""Links to other apps' pages that may not exist yet (skipped when they do not)."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

register = template.Library()


def _url(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


@register.filter
def deal_url(deal_id) -> str:
    return _url("deal-detail", deal_id) if deal_id else ""


@register.filter
def client_url(client_id) -> str:
    return _url("client-detail", client_id) if client_id else ""


@register.filter
def local_input(moment) -> str:
    """A moment as the value of ``<input type="datetime-local">`` in company time."""
    if not moment:
        return ""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")
