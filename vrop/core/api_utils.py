"""Building blocks shared by the per-app API routers (``vrop/<app>/api.py``).

- Field types that refuse, with a 422, every value the database would refuse with a
  500: ids beyond a 64-bit integer, text with NUL characters or lone surrogates, text
  longer than its column, money and quantities with too many digits, dates outside the
  years a business works in. Naive datetimes are read in the company's time zone.
- Money goes out as a string (``"1234.50"``), so that no client reads it as a float.
- ``paginate``: pages without COUNT over big tables: one more row than asked is read, and
  ``next`` is the URL of the following page (a keyset cursor where the ordering allows
  one), or null on the last one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Schema
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import AfterValidator, Field, PlainSerializer, WithJsonSchema

from vrop.core.money import KOPECK

MAX_ID = 2**63 - 1
MAX_OFFSET = 2**31 - 1
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
FIRST_YEAR, LAST_YEAR = 1990, 2200

# --- input types ------------------------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
Cursor = Annotated[str, Field(max_length=1000, pattern=r"^[A-Za-z0-9_-]*$")]


def _storable_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode") from None
    return value


def Text(max_length: int) -> Any:  # noqa: N802 - a type factory, used like a type
    """A string that fits a column of ``max_length`` and that every database stores."""
    return Annotated[str, Field(max_length=max_length), AfterValidator(_storable_text)]


LongText = Annotated[str, Field(max_length=20000), AfterValidator(_storable_text)]
Email = Annotated[
    str,
    Field(max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    AfterValidator(_storable_text),
]


def _business_moment(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"the year must be between {FIRST_YEAR} and {LAST_YEAR}")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _business_day(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"the year must be between {FIRST_YEAR} and {LAST_YEAR}")
    return value


Moment = Annotated[datetime, AfterValidator(_business_moment)]
Day = Annotated[date, AfterValidator(_business_day)]

# Money and quantities in. Bounds keep every total inside its column (18 digits, 2 places):
# a line is under 10^9 per unit × 10^5 units, and a deal has at most MAX_LINES lines.
MAX_LINES = 100


def _decimal(*, digits: int, places: int, minimum: int | None, exclusive: bool, example: str):
    """A Decimal in: a JSON number or a string, at most ``digits`` digits, ``places`` after
    the point; the OpenAPI schema says so, so that clients and fuzzers see the bounds."""
    integer_digits = digits - places
    largest = Decimal(10) ** integer_digits - Decimal(10) ** -places
    number: dict = {"type": "number", "maximum": float(largest)}
    bounds: dict = {}
    if minimum is not None:
        number["exclusiveMinimum" if exclusive else "minimum"] = minimum
        bounds = {"gt": minimum} if exclusive else {"ge": minimum}
    sign = "" if minimum is not None else "-?"
    pattern = rf"^{sign}[0-9]{{1,{integer_digits}}}(\.[0-9]{{1,{places}}})?$"
    return Annotated[
        Decimal,
        Field(max_digits=digits, decimal_places=places, allow_inf_nan=False, **bounds),
        WithJsonSchema(
            {"anyOf": [number, {"type": "string", "pattern": pattern}], "examples": [example]}
        ),
    ]


Price = _decimal(digits=11, places=2, minimum=0, exclusive=False, example="56000.00")
Quantity = _decimal(digits=8, places=3, minimum=0, exclusive=True, example="2.5")
Stock = _decimal(digits=14, places=3, minimum=None, exclusive=False, example="120.000")
CreditLimit = _decimal(digits=16, places=2, minimum=0, exclusive=False, example="500000.00")

# --- output types -----------------------------------------------------------------------

MoneyOut = Annotated[
    Decimal,
    PlainSerializer(
        lambda value: format(Decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP), "f"),
        return_type=str,
    ),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["137500.00"]}),
]
DecimalOut = Annotated[
    Decimal,
    PlainSerializer(lambda value: format(value, "f"), return_type=str),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["2.500"]}),
]
PercentOut = Annotated[
    Decimal | None,
    PlainSerializer(lambda value: None if value is None else format(value, "f")),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "format": "decimal"}, {"type": "null"}], "examples": ["9.09"]}
    ),
]


# --- errors ---------------------------------------------------------------------------


class ErrorOut(Schema):
    """Every refusal: ``detail`` in the caller's language, ``code`` stable for programs."""

    detail: str
    code: str
    field: str | None = None
    errors: list[dict] | None = None


# --- pagination -------------------------------------------------------------------------


def _sane(values: list | None) -> bool:
    """A decoded cursor whose values every database can compare with (a forged one may not)."""
    if values is None:
        return False
    for value in values:
        if isinstance(value, int) and not -MAX_ID <= value <= MAX_ID:
            return False
        if isinstance(value, str) and "\x00" in value:
            return False
        if isinstance(value, date) and not FIRST_YEAR <= value.year <= LAST_YEAR:
            return False
    return True


def paginate(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    limit: int,
    offset: int = 0,
    after: str = "",
    ordering: Sequence[str] = (),
) -> dict:
    """One page of ``queryset`` as ``{"items": [...], "next": url|None}``, without COUNT.

    With ``ordering`` (non-null columns ending with a unique one) the list is keyset
    paginated: ``next`` carries ``after=<cursor of the last row>``, so a page deep in a
    million rows costs what the first one does; ``offset`` still jumps, at OFFSET's cost.
    Without ``ordering`` (a nullable sort key), ``next`` carries the next offset.
    """
    from vrop.web.pagination import decode_cursor, keyset_page

    params = request.GET.copy()
    params["limit"] = str(limit)
    if ordering and (after or not offset):
        if after and not _sane(decode_cursor(after, queryset.model, ordering)):
            error = {"loc": ("query", "after"), "msg": "not a cursor of this list"}
            raise NinjaValidationError([{**error, "type": "value_error"}])
        page = keyset_page(queryset, ordering=ordering, after=after, size=limit)
        next_url = None
        if page.has_next:
            params.pop("offset", None)
            params["after"] = page.next_cursor
            next_url = f"{request.path}?{params.urlencode()}"
        return {"items": page.items, "next": next_url}
    rows = list(queryset[offset : offset + limit + 1])
    next_url = None
    if len(rows) > limit:
        params.pop("after", None)
        params["offset"] = str(offset + limit)
        next_url = f"{request.path}?{params.urlencode()}"
    return {"items": rows[:limit], "next": next_url}
