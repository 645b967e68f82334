"""The files of the exchange format, their columns, and how ids name objects.

Ids are strings. An object that came from the exchange keeps its id in
``external_id`` (with ``source="exchange"``). An object created in the app is exported as
``vrop-<pk>`` (``vrop-<pk>-<n>`` in the rare case that this string is already the id of
an exchange object of the same kind); an object that came from another system
(amoCRM, Bitrix24, ...) is exported as ``<source>:<external_id>``. The importer reads
an id in this order: an exchange object with that id; for ``vrop-<pk>``, the object
created in the app with that pk; for ``<source>:<id>``, the object of that system; else
a new exchange object with that id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SOURCE = "exchange"
APP_ID_PREFIX = "vrop-"
_APP_ID = re.compile(r"^vrop-(\d{1,18})(?:-\d{1,6})?$")
_OTHER_SOURCE_ID = re.compile(r"^([a-z][a-z0-9_]{0,31}):(.+)$")

# Column kinds.
ID = "id"
REF = "ref"  # an id of another file
USER = "user"  # an id of managers.csv
TEXT = "text"
INT = "int"
MONEY = "money"
QTY = "qty"
DATE = "date"
DATETIME = "datetime"
CHOICE = "choice"
INN = "inn"
EMAIL = "email"
PATH = "path"  # a transcript file relative to the import folder


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = False
    target: str = ""  # for REF: the referenced file
    choices: tuple[str, ...] = ()
    max_length: int = 0
    minimum: int | None = None  # numbers: the smallest allowed value
    positive: bool = False  # numbers: must be > 0
    nonzero: bool = False  # numbers: must not be 0
    maximum: int | None = None


def _col(name, kind, **kwargs) -> Column:
    return Column(name, kind, **kwargs)


STAGES = ("lead", "contact", "quote", "won", "lost")
ROLES = ("owner", "head", "manager", "finance", "supply")
METRICS = ("gross_profit", "revenue", "volume")
UNITS = ("t", "m", "pcs", "kg", "m2")
DIRECTIONS = ("in", "out")

COLUMNS: dict[str, tuple[Column, ...]] = {
    "managers.csv": (
        _col("id", ID, required=True),
        _col("name", TEXT, max_length=301),
        _col("email", EMAIL, required=True),
        _col("role", CHOICE, choices=ROLES),
        _col("team", TEXT, max_length=100),
        _col("hired_on", DATE),
        _col("left_on", DATE),
    ),
    "clients.csv": (
        _col("id", ID, required=True),
        _col("name", TEXT, required=True, max_length=300),
        _col("inn", INN),
        _col("segment", TEXT, max_length=64),
        _col("manager_id", USER),
        _col("payment_terms_days", INT, minimum=0, maximum=365),
        _col("credit_limit", MONEY, minimum=0),
    ),
    "products.csv": (
        _col("id", ID, required=True),
        _col("name", TEXT, required=True, max_length=300),
        _col("category", TEXT, max_length=100),
        _col("unit", CHOICE, choices=UNITS),
        _col("cost_price", MONEY, minimum=0),
        _col("list_price", MONEY, minimum=0),
    ),
    "deals.csv": (
        _col("id", ID, required=True),
        _col("client_id", REF, target="clients.csv"),
        _col("manager_id", USER),
        _col("channel", TEXT, max_length=32),
        _col("received_at", DATETIME, required=True),
        _col("stage", CHOICE, required=True, choices=STAGES),
        _col("lost_reason", TEXT, max_length=300),
        _col("amount", MONEY, minimum=0),
    ),
    "deal_lines.csv": (
        _col("deal_id", REF, required=True, target="deals.csv"),
        _col("product_id", REF, required=True, target="products.csv"),
        _col("qty", QTY, required=True, positive=True),
        _col("price", MONEY, minimum=0),
        _col("cost_price", MONEY, minimum=0),
        _col("list_price", MONEY, minimum=0),
    ),
    "stage_changes.csv": (
        _col("deal_id", REF, required=True, target="deals.csv"),
        _col("stage", CHOICE, required=True, choices=STAGES),
        _col("changed_at", DATETIME, required=True),
    ),
    "tasks.csv": (
        _col("id", ID, required=True),
        _col("deal_id", REF, target="deals.csv"),
        _col("manager_id", USER),
        _col("title", TEXT, required=True, max_length=300),
        _col("due_at", DATETIME),
        _col("done_at", DATETIME),
    ),
    "invoices.csv": (
        _col("id", ID, required=True),
        _col("deal_id", REF, target="deals.csv"),
        _col("number", TEXT, required=True, max_length=64),
        _col("issued_on", DATE, required=True),
        _col("due_on", DATE),
        _col("amount", MONEY, required=True, positive=True),
    ),
    "payments.csv": (
        _col("id", ID, required=True),
        _col("invoice_id", REF, target="invoices.csv"),
        _col("paid_on", DATE, required=True),
        _col("amount", MONEY, required=True, nonzero=True),
    ),
    "shipments.csv": (
        _col("id", ID, required=True),
        _col("deal_id", REF, required=True, target="deals.csv"),
        _col("shipped_on", DATE, required=True),
        _col("amount", MONEY, required=True, minimum=0),
        _col("cost", MONEY, required=True, minimum=0),
    ),
    "plans.csv": (
        _col("period_start", DATE, required=True),
        _col("period_end", DATE, required=True),
        _col("manager_id", USER),
        _col("team", TEXT, max_length=100),
        _col("metric", CHOICE, required=True, choices=METRICS),
        _col("target", MONEY, required=True, minimum=0),
    ),
    "calls.csv": (
        _col("id", ID, required=True),
        _col("deal_id", REF, target="deals.csv"),
        _col("manager_id", USER),
        _col("started_at", DATETIME, required=True),
        _col("direction", CHOICE, required=True, choices=DIRECTIONS),
        _col("duration_s", INT, minimum=0, maximum=2_000_000_000),
        _col("recording", TEXT, max_length=500),
        _col("transcript", PATH, max_length=500),
    ),
}

# The order of import: every file refers only to files before it.
FILES: tuple[str, ...] = tuple(COLUMNS)
REQUIRED_FILES = ("managers.csv",)


def header(file: str) -> list[str]:
    return [column.name for column in COLUMNS[file]]


@dataclass(frozen=True)
class ParsedId:
    """An id as the importer reads it (see the module docstring)."""

    text: str
    app_pk: int | None = None
    other_source: str | None = None
    other_id: str | None = None


def parse_id(text: str) -> ParsedId:
    if text.startswith(APP_ID_PREFIX):
        match = _APP_ID.match(text)
        if match:
            return ParsedId(text, app_pk=int(match.group(1)))
    if ":" in text:
        match = _OTHER_SOURCE_ID.match(text)
        if match and match.group(1) != SOURCE:
            return ParsedId(text, other_source=match.group(1), other_id=match.group(2))
    return ParsedId(text)


def export_id(pk: int, source: str, external_id: str, taken: frozenset | set = frozenset()) -> str:
    """The id under which an object is exported (see the module docstring).

    ``taken``: the ``vrop-…`` ids already used by exchange objects of the same kind.
    """
    if external_id:
        if source == SOURCE:
            return external_id
        if source:
            return f"{source}:{external_id}"
    candidate = f"{APP_ID_PREFIX}{pk}"
    suffix = 0
    while candidate in taken:
        suffix += 1
        candidate = f"{APP_ID_PREFIX}{pk}-{suffix}"
    return candidate
