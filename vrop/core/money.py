"""Money and quantities: Decimal only, formatted the Russian way (``1 234 567,89 ₽``)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext as _

from vrop.core.errors import ValidationError

KOPECK = Decimal("0.01")
ZERO = Decimal("0")
NBSP = "\u00a0"


def to_decimal(value, *, field: str = "") -> Decimal:
    """Parse money or a quantity from user or file input: dot or comma, spaces allowed."""
    if isinstance(value, Decimal):
        return value
    if value is None or value == "":
        return ZERO
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise ValidationError(
            _("“%(value)s” is not a number.") % {"value": value}, field=field or None
        )
    if not result.is_finite():
        raise ValidationError(
            _("“%(value)s” is not a number.") % {"value": value}, field=field or None
        )
    return result


def round_money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


def percent(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    """part / whole × 100, rounded to 0.01; None when the whole is zero (undefined)."""
    if part is None or not whole:
        return None
    return (Decimal(part) / Decimal(whole) * 100).quantize(KOPECK, rounding=ROUND_HALF_UP)


def group_digits(text_integer: str) -> str:
    sign = "-" if text_integer.startswith("-") else ""
    digits = text_integer.lstrip("-")
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return sign + NBSP.join(groups or ["0"])


def format_number(value, places: int = 2) -> str:
    """``1234567.891`` → ``1 234 567,89`` (non-breaking spaces)."""
    if value is None or value == "":
        return "—"
    quantum = Decimal(1).scaleb(-places) if places else Decimal(1)
    number = Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)
    text = f"{number:f}"
    integer, _sep, fraction = text.partition(".")
    result = group_digits(integer)
    if places:
        result += "," + fraction.ljust(places, "0")
    return result


def format_money(value, places: int = 2, currency: str = "₽") -> str:
    if value is None or value == "":
        return "—"
    return f"{format_number(value, places)}{NBSP}{currency}"


def format_percent(value, places: int = 1) -> str:
    if value is None:
        return "—"
    return f"{format_number(value, places)}{NBSP}%"
