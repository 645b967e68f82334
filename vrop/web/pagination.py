"""Keyset pagination for long lists: no ``COUNT(*)`` and no ``OFFSET``.

A page is fetched as ``size + 1`` rows after (or before) the cursor of a row; the extra
row only says that another page exists. The cursor is the row's values of the ordering
fields, so page 10 000 of a million deals costs the same as page 1. The ordering must
end with a unique field (``id``) and its fields must be non-null columns of the model.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, QuerySet

PAGE_SIZE = 50


@dataclass
class KeysetPage:
    items: list
    has_next: bool = False
    has_previous: bool = False
    next_cursor: str = ""
    previous_cursor: str = ""
    size: int = PAGE_SIZE
    ordering: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _plain(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _fields(ordering: Sequence[str]) -> list[tuple[str, bool]]:
    return [(name.lstrip("-"), name.startswith("-")) for name in ordering]


def encode_cursor(obj, ordering: Sequence[str]) -> str:
    values = [_plain(getattr(obj, name)) for name, _desc in _fields(ordering)]
    raw = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, model, ordering: Sequence[str]) -> list | None:
    """The ordering values of a cursor, or None when it is not one of ours."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        fields = _fields(ordering)
        if not isinstance(values, list) or len(values) != len(fields):
            return None
        return [
            model._meta.get_field(name).to_python(value)
            for (name, _desc), value in zip(fields, values, strict=True)
        ]
    except Exception:  # noqa: BLE001 - a broken or forged cursor means "first page"
        return None


def _beyond(ordering: Sequence[str], values: list, *, backwards: bool) -> Q:
    """Rows that come after ``values`` in ``ordering`` (before them when ``backwards``).

    ``(a < x) OR (a = x AND id < y)``, with the redundant ``a <= x`` in front: it is a
    plain range on the leading column, so the database seeks in its index instead of
    scanning from the top (SQLite does not derive the range from the OR by itself).
    """
    condition = Q()
    fields = _fields(ordering)
    for index, (name, descending) in enumerate(fields):
        equal = Q(**{earlier: values[i] for i, (earlier, _d) in enumerate(fields[:index])})
        operator = "lt" if descending != backwards else "gt"
        condition |= equal & Q(**{f"{name}__{operator}": values[index]})
    leading, descending = fields[0]
    bound = "lte" if descending != backwards else "gte"
    return Q(**{f"{leading}__{bound}": values[0]}) & condition


def _reversed(ordering: Sequence[str]) -> list[str]:
    return [name[1:] if name.startswith("-") else f"-{name}" for name in ordering]


def keyset_page(
    queryset: QuerySet,
    *,
    ordering: Sequence[str],
    after: str = "",
    before: str = "",
    size: int = PAGE_SIZE,
) -> KeysetPage:
    """One page of ``queryset`` in ``ordering``, after or before a cursor."""
    ordering = list(ordering)
    model = queryset.model
    before_values = decode_cursor(before, model, ordering) if before else None
    after_values = None if before_values is not None else decode_cursor(after, model, ordering)
    if before_values is not None:
        rows = list(
            queryset.filter(_beyond(ordering, before_values, backwards=True)).order_by(
                *_reversed(ordering)
            )[: size + 1]
        )
        has_previous = len(rows) > size
        items = list(reversed(rows[:size]))
        has_next = True
    else:
        if after_values is not None:
            queryset = queryset.filter(_beyond(ordering, after_values, backwards=False))
        rows = list(queryset.order_by(*ordering)[: size + 1])
        has_next = len(rows) > size
        items = rows[:size]
        has_previous = after_values is not None
    page = KeysetPage(
        items=items, has_next=has_next, has_previous=has_previous, size=size, ordering=ordering
    )
    if items:
        page.next_cursor = encode_cursor(items[-1], ordering) if has_next else ""
        page.previous_cursor = encode_cursor(items[0], ordering) if has_previous else ""
    else:
        page.has_next = False
    return page


def page_from_request(request, queryset: QuerySet, *, ordering: Sequence[str], size=PAGE_SIZE):
    return keyset_page(
        queryset,
        ordering=ordering,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        size=size,
    )
