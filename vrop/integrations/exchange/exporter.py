"""``export_path``: every file of the exchange format from the database.

UTF-8 without BOM, ``,`` as the delimiter, a header row, ``\\n`` line ends, quoting only
where needed; dates ISO 8601; date-times in company time with their offset
(``2026-03-05T10:15:00+03:00``), written as a date alone when they fall exactly on
midnight company time; money with two decimals and a dot, quantities with three.
Rows are in the order of their primary keys (lines by position, stage changes by
time), so that an export imported into an empty database exports byte for byte the
same. Ids follow ``spec`` (the exchange id, ``vrop-<pk>`` or ``<source>:<id>``).
Extra attributes (unknown columns of earlier imports) come back as columns after the
standard ones, in alphabetical order; only text and number values are written.
Transcripts are written as JSON files beside the CSVs.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from vrop.accounts.models import User
from vrop.callaudit.models import Call
from vrop.core.policy import company_settings
from vrop.crm.models import Client, Deal, DealLine, Product, StageChange, Task
from vrop.integrations.exchange import spec
from vrop.planning.models import Plan
from vrop.receivables.models import Invoice, Payment, Shipment

CHUNK = 2000
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class _Formatter:
    def __init__(self, tz) -> None:
        self.tz = tz

    def moment(self, value: datetime | None) -> str:
        if value is None:
            return ""
        local = value.astimezone(self.tz)
        if local.time() == time(0, 0):
            return local.date().isoformat()
        return local.isoformat()

    @staticmethod
    def day(value: date | None) -> str:
        return "" if value is None else value.isoformat()

    @staticmethod
    def money(value: Decimal | None) -> str:
        return "" if value is None else f"{Decimal(value):.2f}"

    @staticmethod
    def qty(value: Decimal | None) -> str:
        return "" if value is None else f"{Decimal(value):.3f}"

    @staticmethod
    def text(value) -> str:
        return "" if value is None else str(value)


def _taken(model) -> set[str]:
    return set(
        model.objects.filter(
            source=spec.SOURCE, external_id__startswith=spec.APP_ID_PREFIX
        ).values_list("external_id", flat=True)
    )


class _Ids:
    """Export ids per model, with the collision guard of ``spec.export_id``."""

    def __init__(self) -> None:
        self._taken: dict[type, set[str]] = {}

    def __call__(self, model, pk, source, external_id) -> str:
        if pk is None:
            return ""
        if model not in self._taken:
            self._taken[model] = _taken(model)
        return spec.export_id(pk, source or "", external_id or "", self._taken[model])


def _extra_columns(queryset, standard: list[str]) -> list[str]:
    keys: set[str] = set()
    for extra in queryset.exclude(extra={}).values_list("extra", flat=True).iterator(CHUNK):
        if isinstance(extra, dict):
            keys.update(k for k, v in extra.items() if _scalar(v))
    return sorted(keys - set(standard))


def _scalar(value) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _extra_value(extra, key: str) -> str:
    value = (extra or {}).get(key) if isinstance(extra, dict) else None
    if value is None or not _scalar(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write(path: Path, header: list[str], rows: Iterable[list[str]]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def export_path(path: Path) -> dict[str, int]:
    """Write every file of the exchange format into the folder ``path``; rows per file."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    fmt = _Formatter(ZoneInfo(company_settings().time_zone or "Europe/Moscow"))
    ids = _Ids()
    counts: dict[str, int] = {}
    for file in spec.FILES:
        header = spec.header(file)
        queryset, rows = _EXPORTS[file](fmt, ids)
        extra_columns = _extra_columns(queryset, header) if queryset is not None else []
        counts[file] = _write(
            folder / file,
            header + extra_columns,
            _with_extra(rows(queryset, folder), extra_columns),
        )
    return counts


def _with_extra(rows, extra_columns: list[str]):
    for row, extra in rows:
        if extra_columns:
            row = row + [_extra_value(extra, key) for key in extra_columns]
        yield row


# --- the files ------------------------------------------------------------------------------


def _managers(fmt: _Formatter, ids: _Ids):
    queryset = User.objects.exclude(email="").order_by("pk")

    def rows(qs, folder):
        for user in qs.select_related("team").iterator(CHUNK):
            name = f"{user.first_name} {user.last_name}".strip()
            yield (
                [
                    ids(User, user.pk, user.source, user.external_id),
                    name,
                    user.email,
                    user.role,
                    user.team.name if user.team_id else "",
                    fmt.day(user.hired_on),
                    fmt.day(user.left_on),
                ],
                user.extra,
            )

    return queryset, rows


def _clients(fmt: _Formatter, ids: _Ids):
    queryset = Client.objects.order_by("pk")

    def rows(qs, folder):
        for r in qs.values_list(
            "pk", "source", "external_id", "name", "inn", "segment",
            "manager_id", "manager__source", "manager__external_id",
            "payment_terms_days", "credit_limit", "extra",
        ).iterator(CHUNK):  # fmt: skip
            yield (
                [
                    ids(Client, r[0], r[1], r[2]),
                    r[3],
                    r[4],
                    r[5],
                    ids(User, r[6], r[7], r[8]),
                    str(r[9]),
                    fmt.money(r[10]),
                ],
                r[11],
            )

    return queryset, rows


def _products(fmt: _Formatter, ids: _Ids):
    queryset = Product.objects.order_by("pk")

    def rows(qs, folder):
        for r in qs.values_list(
            "pk", "source", "external_id", "name", "category", "unit",
            "cost_price", "list_price", "extra",
        ).iterator(CHUNK):  # fmt: skip
            yield (
                [
                    ids(Product, r[0], r[1], r[2]),
                    r[3],
                    r[4],
                    r[5],
                    fmt.money(r[6]),
                    fmt.money(r[7]),
                ],
                r[8],
            )

    return queryset, rows


def _deals(fmt: _Formatter, ids: _Ids):
    queryset = Deal.objects.order_by("pk")

    def rows(qs, folder):
        for r in qs.values_list(
            "pk", "source", "external_id",
            "client_id", "client__source", "client__external_id",
            "manager_id", "manager__source", "manager__external_id",
            "channel", "received_at", "stage", "lost_reason", "amount", "extra",
        ).iterator(CHUNK):  # fmt: skip
            yield (
                [
                    ids(Deal, r[0], r[1], r[2]),
                    ids(Client, r[3], r[4], r[5]),
                    ids(User, r[6], r[7], r[8]),
                    r[9],
                    fmt.moment(r[10]),
                    r[11],
                    r[12],
                    fmt.money(r[13]),
                ],
                r[14],
            )

    return queryset, rows


def _deal_lines(fmt: _Formatter, ids: _Ids):
    def rows(qs, folder):
        lines = DealLine.objects.order_by("deal_id", "position", "pk").values_list(
            "deal_id", "deal__source", "deal__external_id",
            "product_id", "product__source", "product__external_id",
            "qty", "price", "cost_price", "list_price",
        )  # fmt: skip
        for r in lines.iterator(CHUNK):
            yield (
                [
                    ids(Deal, r[0], r[1], r[2]),
                    ids(Product, r[3], r[4], r[5]),
                    fmt.qty(r[6]),
                    fmt.money(r[7]),
                    fmt.money(r[8]),
                    fmt.money(r[9]),
                ],
                None,
            )

    return None, rows


def _stage_changes(fmt: _Formatter, ids: _Ids):
    def rows(qs, folder):
        changes = StageChange.objects.order_by("deal_id", "changed_at", "pk").values_list(
            "deal_id", "deal__source", "deal__external_id", "stage", "changed_at"
        )
        for r in changes.iterator(CHUNK):
            yield [ids(Deal, r[0], r[1], r[2]), r[3], fmt.moment(r[4])], None

    return None, rows


def _tasks(fmt: _Formatter, ids: _Ids):
    queryset = Task.objects.order_by("pk")

    def rows(qs, folder):
        for r in qs.values_list(
            "pk", "source", "external_id",
            "deal_id", "deal__source", "deal__external_id",
            "manager_id", "manager__source", "manager__external_id",
            "title", "due_at", "done_at", "extra",
        ).iterator(CHUNK):  # fmt: skip
            yield (
                [
                    ids(Task, r[0], r[1], r[2]),
                    ids(Deal, r[3], r[4], r[5]),
                    ids(User, r[6], r[7], r[8]),
                    r[9],
                    fmt.moment(r[10]),
                    fmt.moment(r[11]),
                ],
                r[12],
            )

    return queryset, rows


def _invoices(fmt: _Formatter, ids: _Ids):
    queryset = Invoice.objects.order_by("pk")

    def rows(qs, folder):
        for r in qs.values_list(
            "pk", "source", "external_id",
            "deal_id", "deal__source", "deal__external_id",
            "number", "issued_on", "due_on", "amount", "extra",
        ).iterator(CHUNK):  # fmt: skip
            yield (
                [
                    ids(Invoice, r[0], r[1], r[2]),
                    ids(Deal, r[3], r[4], r[5]),
                    r[6],
                    fmt.day(r[7]),
                    fmt.day(r[8]),
                    fmt.money(r[9]),
                ],
                r[10],
            )

    return queryset, rows


def _payments(fmt: _Formatter, ids: _Ids):
    queryset = Payment.objects.order_by("pk")

    def rows(qs, folder):
        for r in qs.values_list(
            "pk", "source", "external_id",
            "invoice_id", "invoice__source", "invoice__external_id",
            "paid_on", "amount", "extra",
        ).iterator(CHUNK):  # fmt: skip
            yield (
                [
                    ids(Payment, r[0], r[1], r[2]),
                    ids(Invoice, r[3], r[4], r[5]),
                    fmt.day(r[6]),
                    fmt.money(r[7]),
                ],
                r[8],
            )

    return queryset, rows


def _shipments(fmt: _Formatter, ids: _Ids):
    queryset = Shipment.objects.order_by("pk")

    def rows(qs, folder):
        for r in qs.values_list(
            "pk", "source", "external_id",
            "deal_id", "deal__source", "deal__external_id",
            "shipped_on", "amount", "cost", "extra",
        ).iterator(CHUNK):  # fmt: skip
            yield (
                [
                    ids(Shipment, r[0], r[1], r[2]),
                    ids(Deal, r[3], r[4], r[5]),
                    fmt.day(r[6]),
                    fmt.money(r[7]),
                    fmt.money(r[8]),
                ],
                r[9],
            )

    return queryset, rows


def _plans(fmt: _Formatter, ids: _Ids):
    queryset = Plan.objects.order_by("pk")

    def rows(qs, folder):
        for r in qs.values_list(
            "period_start", "period_end",
            "manager_id", "manager__source", "manager__external_id",
            "team__name", "metric", "target", "extra",
        ).iterator(CHUNK):  # fmt: skip
            yield (
                [
                    fmt.day(r[0]),
                    fmt.day(r[1]),
                    ids(User, r[2], r[3], r[4]),
                    r[5] or "",
                    r[6],
                    fmt.money(r[7]),
                ],
                r[8],
            )

    return queryset, rows


def _transcript_path(ident: str, stored: str) -> str:
    if stored:
        pure = PurePosixPath(stored.replace("\\", "/"))
        if not pure.is_absolute() and ".." not in pure.parts:
            return str(pure)
    return f"transcripts/{_SAFE.sub('_', ident)}.json"


SEGMENT_KEYS = ("speaker", "start", "end", "text")


def _transcript_json(segments) -> str:
    """Segments as JSON, keys in a fixed order (PostgreSQL's jsonb does not keep it)."""
    ordered = []
    for segment in segments or []:
        if isinstance(segment, dict):
            keys = [k for k in SEGMENT_KEYS if k in segment]
            keys += sorted(k for k in segment if k not in SEGMENT_KEYS)
            segment = {k: segment[k] for k in keys}
        ordered.append(segment)
    return json.dumps(ordered, ensure_ascii=False, indent=2) + "\n"


def _calls(fmt: _Formatter, ids: _Ids):
    queryset = Call.objects.order_by("pk")

    def rows(qs, folder):
        for r in qs.values_list(
            "pk", "source", "external_id",
            "deal_id", "deal__source", "deal__external_id",
            "manager_id", "manager__source", "manager__external_id",
            "started_at", "direction", "duration_s", "recording",
            "transcript_path", "transcript", "extra",
        ).iterator(CHUNK):  # fmt: skip
            ident = ids(Call, r[0], r[1], r[2])
            transcript = ""
            if r[13] or r[14]:
                transcript = _transcript_path(ident, r[13])
                target = folder / Path(*PurePosixPath(transcript).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(_transcript_json(r[14]), encoding="utf-8")
            yield (
                [
                    ident,
                    ids(Deal, r[3], r[4], r[5]),
                    ids(User, r[6], r[7], r[8]),
                    fmt.moment(r[9]),
                    r[10],
                    str(r[11]),
                    r[12],
                    transcript,
                ],
                r[15],
            )

    return queryset, rows


_EXPORTS = {
    "managers.csv": _managers,
    "clients.csv": _clients,
    "products.csv": _products,
    "deals.csv": _deals,
    "deal_lines.csv": _deal_lines,
    "stage_changes.csv": _stage_changes,
    "tasks.csv": _tasks,
    "invoices.csv": _invoices,
    "payments.csv": _payments,
    "shipments.csv": _shipments,
    "plans.csv": _plans,
    "calls.csv": _calls,
}
