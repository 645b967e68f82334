"""Fast bulk inserts for the demo: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

Rows are tuples of backend-neutral values that both databases read the same way:
integers, strings (money as ``"52000"`` or ``"1234.5"``, dates as ``"2026-03-05"``,
moments as naive UTC ``"2026-03-05 07:15:00"`` — what Django itself stores on SQLite, and
what PostgreSQL reads in the connection's UTC session), JSON as text and ``None``. Ids are
given by the generator, so that rows can point at each other without reading anything
back; sequences are moved past them at the end.

Columns the generator does not give get their model default (Django defaults live in
Python, not in the table, so a raw insert must write them).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from django.core.management.color import no_style
from django.db import connection

from vrop.core import bulkload


def neutral(value):
    """A Python value as the neutral form the writer sends to either database."""
    if value is None or isinstance(value, int | str):
        return int(value) if isinstance(value, bool) else value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        raise ValueError("give moments as naive UTC strings")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class Table:
    def __init__(self, writer: BulkWriter, model, fields: list[str]):
        self.writer = writer
        self.model = model
        opts = model._meta
        given = [opts.get_field(name) for name in fields]
        given_names = {field.attname for field in given}
        missing = [
            field
            for field in opts.concrete_fields
            if field.attname not in given_names and not field.primary_key
        ]
        constant = []
        for field in missing:
            if field.has_default():
                constant.append(neutral(field.get_default()))
            elif field.null:
                constant.append(None)
            else:
                raise ValueError(f"{opts.label}.{field.name} needs a value")
        self.constant = tuple(constant)
        self.columns = [field.column for field in given] + [field.column for field in missing]
        self.rows: list[tuple] = []
        self.count = 0
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX({opts.pk.column}) FROM {opts.db_table}")
            self.last_id = cursor.fetchone()[0] or 0

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def add(self, row: tuple) -> None:
        self.rows.append(row + self.constant if self.constant else row)
        if len(self.rows) >= self.writer.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        table = self.model._meta.db_table
        raw = connection.connection
        quoted = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        if connection.vendor == "postgresql":
            with raw.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for row in self.rows:
                        copy.write_row(row)
        else:
            marks = ", ".join("?" * len(self.columns))
            raw.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", self.rows)
        self.count += len(self.rows)
        self.rows = []


class BulkWriter:
    """Tables written in batches inside the caller's transaction."""

    def __init__(self, batch_size: int = 10000):
        self.batch_size = batch_size
        self.tables: dict[str, Table] = {}
        connection.ensure_connection()

    def table(self, model, fields: list[str]) -> Table:
        key = model._meta.label
        if key not in self.tables:
            self.tables[key] = Table(self, model, fields)
        return self.tables[key]

    def flush(self) -> None:
        for table in self.tables.values():
            table.flush()

    def finish(self) -> dict[str, int]:
        """Flush everything and move the id sequences past the ids given."""
        self.flush()
        if connection.vendor == "postgresql":
            models = [table.model for table in self.tables.values()]
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(statement)
        return {table.model._meta.label: table.count for table in self.tables.values()}


class DeferredKeys:
    """PostgreSQL only: drop the foreign keys and the plain (non-unique) indexes of the
    given tables for a bulk load and put them back afterwards, the way ``pg_restore``
    loads — rebuilding an index once and checking each foreign key by one join costs a
    fraction of maintaining them row by row (measured: a third of the demo's time went into
    the deferred per-row key checks at commit).

    Runs inside the caller's transaction, so a failed load rolls the drop back with it.
    Primary keys and unique constraints stay (they keep the load honest).
    """

    def __init__(self, models):
        self.tables = [model._meta.db_table for model in models]
        self.foreign_keys: list[tuple[str, str, str]] = []
        self.indexes: list[tuple[str, str, str]] = []

    def __enter__(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
                "FROM pg_constraint c WHERE c.contype = 'f' "
                "AND c.conrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
                [self.tables],
            )
            self.foreign_keys = list(cursor.fetchall())
            self.indexes = bulkload.plain_indexes(self.tables)
            for table, name, _definition in self.foreign_keys:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        bulkload.drop_indexes(self.indexes)
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            return False  # the caller's transaction rolls the drop back
        bulkload.build_indexes(self.indexes)
        with connection.cursor() as cursor:
            for table, name, definition in self.foreign_keys:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for table in self.tables:
                cursor.execute(f"ANALYZE {table}")
        return False
