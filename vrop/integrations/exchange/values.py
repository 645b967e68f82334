"""Parsing one cell of the exchange format; a refusal carries its reason in the user's
language.

Dates are ISO 8601 (``2026-03-05``); date-times too (``2026-03-05T10:15:00+03:00``,
``2026-03-05 10:15``, ``…Z``); a date-time without an offset is company time, a date
alone is midnight company time. Money has a dot (or, in ``;`` files, a comma) decimal
separator and is rounded half up to kopecks; quantities to 0.001.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from vrop.core.errors import ValidationError
from vrop.core.money import to_decimal
from vrop.core.validators import clean_inn
from vrop.integrations.exchange import spec

KOPECK = Decimal("0.01")
THOUSANDTH = Decimal("0.001")
MONEY_LIMIT = Decimal("1e16")  # max_digits=18, decimal_places=2
QTY_LIMIT = Decimal("1e11")  # max_digits=14, decimal_places=3


class Problem(Exception):
    """A cell that cannot be accepted; ``str()`` is the reason for the user."""


def parse_datetime(text: str, tz: tzinfo) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Problem(
            _(
                "“%(value)s” is not a date and time: use ISO 8601, "
                "e.g. 2026-03-05T10:15:00+03:00 or 2026-03-05."
            )
            % {"value": text}
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def parse_date(text: str, tz: tzinfo) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Problem(
            _("“%(value)s” is not a date: use ISO 8601, e.g. 2026-03-05.") % {"value": text}
        )
    if value.tzinfo is not None:
        value = value.astimezone(tz)
    return value.date()


def _number(column: spec.Column, text: str, quantum: Decimal, limit: Decimal) -> Decimal:
    try:
        value = to_decimal(text)
    except ValidationError:
        raise Problem(_("“%(value)s” is not a number.") % {"value": text})
    value = value.quantize(quantum, rounding=ROUND_HALF_UP)
    if abs(value) >= limit:
        raise Problem(_("The number %(value)s is too large.") % {"value": text})
    _check_bounds(column, value, text)
    return value


def _check_bounds(column: spec.Column, value, text: str) -> None:
    if column.positive and value <= 0:
        raise Problem(
            _("%(column)s must be greater than zero, not %(value)s.")
            % {"column": column.name, "value": text}
        )
    if column.nonzero and value == 0:
        raise Problem(_("%(column)s cannot be zero.") % {"column": column.name})
    if column.minimum is not None and value < column.minimum:
        if column.minimum == 0:
            raise Problem(
                _("%(column)s cannot be negative: %(value)s.")
                % {"column": column.name, "value": text}
            )
        raise Problem(
            _("%(column)s must be at least %(minimum)s, not %(value)s.")
            % {"column": column.name, "minimum": column.minimum, "value": text}
        )
    if column.maximum is not None and value > column.maximum:
        raise Problem(
            _("%(column)s must be at most %(maximum)s, not %(value)s.")
            % {"column": column.name, "maximum": column.maximum, "value": text}
        )


def parse_cell(column: spec.Column, raw: str, tz: tzinfo):
    """The typed value of one cell, or None when it is empty; ``Problem`` if bad."""
    text = raw.strip()
    if not text:
        if column.required:
            raise Problem(_("%(column)s is empty.") % {"column": column.name})
        return None
    kind = column.kind
    if kind in (spec.TEXT, spec.PATH):
        if column.max_length and len(text) > column.max_length:
            raise Problem(
                _("%(column)s is longer than %(limit)s characters.")
                % {"column": column.name, "limit": column.max_length}
            )
        return text
    if kind in (spec.ID, spec.REF, spec.USER):
        if len(text) > 128:
            raise Problem(
                _("%(column)s is longer than %(limit)s characters.")
                % {"column": column.name, "limit": 128}
            )
        return text
    if kind == spec.DATETIME:
        return parse_datetime(text, tz)
    if kind == spec.DATE:
        return parse_date(text, tz)
    if kind == spec.MONEY:
        return _number(column, text, KOPECK, MONEY_LIMIT)
    if kind == spec.QTY:
        return _number(column, text, THOUSANDTH, QTY_LIMIT)
    if kind == spec.INT:
        try:
            value = int(text.replace(" ", "").replace("\u00a0", ""))
        except ValueError:
            raise Problem(_("“%(value)s” is not a whole number.") % {"value": text})
        _check_bounds(column, value, text)
        return value
    if kind == spec.CHOICE:
        value = text.lower()
        if value not in column.choices:
            raise Problem(
                _("Unknown %(column)s “%(value)s”: use %(choices)s.")
                % {"column": column.name, "value": text, "choices": ", ".join(column.choices)}
            )
        return value
    if kind == spec.INN:
        try:
            return clean_inn(text)
        except ValidationError as error:
            raise Problem(
                _(
                    "INN “%(inn)s” is not valid: it must have 10 or 12 digits with a correct checksum."
                )
                % {"inn": text}
            ) from error
    if kind == spec.EMAIL:
        value = text.lower()
        try:
            validate_email(value)
        except DjangoValidationError:
            raise Problem(_("“%(value)s” is not an e-mail address.") % {"value": text})
        return value
    raise AssertionError(kind)


def parser_for(column: spec.Column, tz: tzinfo):
    """A fast parser of one column: the common, well-formed cases without detours.

    Anything unusual falls back to ``parse_cell``, which gives the reasons.
    """
    kind = column.kind
    fallback = parse_cell

    if kind in (spec.ID, spec.REF, spec.USER):

        def parse_id(raw: str):
            text = raw.strip()
            if text and len(text) <= 128:
                return text
            return fallback(column, raw, tz)

        return parse_id
    if kind in (spec.TEXT, spec.PATH):
        limit = column.max_length or 10**9

        def parse_text(raw: str):
            text = raw.strip()
            if text and len(text) <= limit:
                return text
            return fallback(column, raw, tz)

        return parse_text
    if kind == spec.INT:
        low = -(10**18) if column.minimum is None else column.minimum
        high = 10**18 if column.maximum is None else column.maximum

        def parse_int(raw: str):
            try:
                value = int(raw)
            except ValueError:
                return fallback(column, raw, tz)
            return value if low <= value <= high else fallback(column, raw, tz)

        return parse_int
    if kind == spec.DATETIME:
        fromisoformat = datetime.fromisoformat

        def parse_moment(raw: str):
            if not raw:
                return fallback(column, raw, tz)
            try:
                value = fromisoformat(raw)
            except ValueError:
                return fallback(column, raw, tz)
            return value if value.tzinfo is not None else value.replace(tzinfo=tz)

        return parse_moment
    if kind == spec.DATE:
        day = date.fromisoformat

        def parse_day(raw: str):
            if len(raw) == 10:
                try:
                    return day(raw)
                except ValueError:
                    pass
            return fallback(column, raw, tz)

        return parse_day
    if kind in (spec.MONEY, spec.QTY) and not column.nonzero:
        quantum, limit = (KOPECK, MONEY_LIMIT) if kind == spec.MONEY else (THOUSANDTH, QTY_LIMIT)
        floor = Decimal(0) if column.positive else column.minimum

        def parse_number(raw: str):
            try:
                value = Decimal(raw).quantize(quantum, rounding=ROUND_HALF_UP)
            except (ArithmeticError, ValueError):
                return fallback(column, raw, tz)
            if (
                not value.is_finite()
                or abs(value) >= limit
                or (floor is not None and (value < floor or (column.positive and value == 0)))
            ):
                return fallback(column, raw, tz)
            return value

        return parse_number
    if kind == spec.CHOICE:
        choices = frozenset(column.choices)
        return lambda raw: raw if raw in choices else fallback(column, raw, tz)
    return lambda raw: fallback(column, raw, tz)
