"""The two databases the importer writes to, behind one small interface.

Rows are loaded into temporary staging tables (SQLite: ``executemany``; PostgreSQL:
``COPY … FROM STDIN`` with psycopg 3) and merged into the real tables with set-based
``UPDATE … FROM`` and ``INSERT … SELECT``. Staging columns take the types of the model
fields they feed, so that comparisons in SQL mean what they mean on the real table.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

CHUNK = 5000
logger = logging.getLogger(__name__)


def qn(name: str) -> str:
    escaped = name.replace('"', '""')
    return f'"{escaped}"'


class Dialect:
    def __init__(self, connection) -> None:
        self.connection = connection
        self.is_postgres = connection.vendor == "postgresql"
        if connection.vendor not in ("postgresql", "sqlite"):
            raise NotImplementedError(connection.vendor)
        self._tables: list[str] = []
        self._types: dict[str, dict[str, str]] = {}

    # --- types and expressions -----------------------------------------------------------

    def field_type(self, field) -> str:
        if field.get_internal_type() in ("ForeignKey", "BigAutoField", "AutoField"):
            return "bigint"
        if field.get_internal_type() == "JSONField":
            return self.json_type
        return field.db_type(self.connection)

    @property
    def json_type(self) -> str:
        return "jsonb" if self.is_postgres else "text"

    def distinct(self, left: str, right: str) -> str:
        if self.is_postgres:
            return f"({left} IS DISTINCT FROM {right})"
        return f"({left} IS NOT {right})"

    def json_merge(self, left: str, right: str) -> str:
        """``left`` with the keys of ``right`` set (top level)."""
        if self.is_postgres:
            return f"({left} || {right})"
        return f"json_patch({left}, {right})"

    def json_normal(self, expression: str) -> str:
        return expression if self.is_postgres else f"json({expression})"

    def json_literal(self, value: dict) -> str:
        text = json.dumps(value).replace("'", "''")
        return f"'{text}'::jsonb" if self.is_postgres else f"'{text}'"

    def no_index(self, column: str) -> str:
        """Keep SQLite's planner (which has no statistics) from probing by this column's
        index when a better one exists (the unary plus is SQLite's documented way)."""
        return column if self.is_postgres else f"+{column}"

    def add_days(self, day: str, days: str) -> str:
        if self.is_postgres:
            return f"({day} + {days})"
        return f"date({day}, '+' || {days} || ' days')"

    def param(self, value):
        """A Python value as the driver takes it in a query parameter."""
        if self.is_postgres:
            return value
        if isinstance(value, datetime):
            return str(value.astimezone(UTC).replace(tzinfo=None))
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    def tune_session(self) -> None:
        """PostgreSQL: settings for the import's transaction only (``SET LOCAL``).

        The commit does not wait for its WAL flush (a crash right after it may lose the
        import as a whole, never half of it), sorts and hashes of the merges stay in
        memory, and temporary tables get enough buffers: for the session, since it is
        possible only before the session's first temporary table (hence the savepoint);
        the buffers are taken only as temporary tables use them."""
        if not self.is_postgres:
            return
        from django.db import DatabaseError, transaction

        self.execute("SET LOCAL synchronous_commit = off")
        self.execute("SET LOCAL work_mem = '64MB'")
        try:
            with transaction.atomic(using=self.connection.alias):
                self.execute("SET temp_buffers = '128MB'")
        except DatabaseError:
            pass

    # --- statements ----------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence = ()) -> int:
        started = time.monotonic()
        with self.connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            count = cursor.rowcount
        elapsed = time.monotonic() - started
        if elapsed > 0.2:
            logger.debug("%.2f s, %s rows: %s", elapsed, count, " ".join(sql.split())[:300])
        return count

    def fetchall(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.fetchall()

    def fetchone(self, sql: str, params: Sequence = ()):
        with self.connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.fetchone()

    def create_temp(self, name: str, columns: Sequence[tuple[str, str]]) -> None:
        """A staging table; the first column is its primary key."""
        self.execute(f"DROP TABLE IF EXISTS {qn(name)}")
        definition = ", ".join(f"{qn(column)} {kind}" for column, kind in columns)
        definition += f", PRIMARY KEY ({qn(columns[0][0])})"
        # PostgreSQL: room in each page, so that the updates that resolve references
        # and fill derived columns stay on the page and skip the primary key's index
        suffix = " WITH (fillfactor = 60) ON COMMIT DROP" if self.is_postgres else ""
        self.execute(f"CREATE TEMP TABLE {qn(name)} ({definition}){suffix}")
        self._tables.append(name)
        self._types[name] = dict(columns)

    def drop_temps(self) -> None:
        for name in self._tables:
            self.execute(f"DROP TABLE IF EXISTS {qn(name)}")
        self._tables.clear()

    def load(self, name: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
        """Load rows (Python values) into a staging table; returns the count."""
        count = 0
        batch: list = []
        moments = [i for i, c in enumerate(columns) if self._types[name].get(c) == "datetime"]
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK:
                self._load_batch(name, columns, batch, moments)
                count += len(batch)
                batch = []
        if batch:
            self._load_batch(name, columns, batch, moments)
            count += len(batch)
        return count

    def _load_batch(self, name: str, columns: Sequence[str], batch: list, moments) -> None:
        names = ", ".join(qn(column) for column in columns)
        if self.is_postgres:
            with self.connection.cursor() as wrapper:
                with wrapper.cursor.copy(f"COPY {qn(name)} ({names}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            return
        if moments:
            # as Django stores them on SQLite: naive UTC text (dates and Decimals have
            # adapters that Django registers with the driver)
            for row in batch:
                for index in moments:
                    value = row[index]
                    if value is not None:
                        row[index] = str(value.astimezone(UTC).replace(tzinfo=None))
        marks = ", ".join("?" for _ in columns)
        with self.connection.cursor() as wrapper:
            # the driver's own cursor: executemany without Django's %s rewriting
            wrapper.cursor.executemany(f"INSERT INTO {qn(name)} ({names}) VALUES ({marks})", batch)

    def copy_text(self, name: str, columns: Sequence[str], chunks: Iterable[bytes]) -> None:
        """PostgreSQL: load a staging table from rows already in ``COPY`` text format."""
        names = ", ".join(qn(column) for column in columns)
        with self.connection.cursor() as wrapper:
            with wrapper.cursor.copy(f"COPY {qn(name)} ({names}) FROM STDIN") as copy:
                for chunk in chunks:
                    copy.write(chunk)

    def analyze(self, name: str, *columns: str) -> None:
        """Temporary tables get no statistics by themselves on PostgreSQL. ``columns``:
        only those (the ones later statements join or filter on), for a cheaper pass."""
        if self.is_postgres:
            listed = f" ({', '.join(qn(column) for column in columns)})" if columns else ""
            self.execute(f"ANALYZE {qn(name)}{listed}")

    def new_ids(self, model_table: str, order: str) -> tuple[str, list]:
        """An expression (and its parameters) giving each row of a SELECT a new primary key
        of ``model_table``, ascending in ``order`` (the SELECT must be ordered by it on
        PostgreSQL): the table's sequence on PostgreSQL; on SQLite, numbers after the
        largest one ever given. Rows can then be written with these ids later in the
        transaction (foreign keys to them are checked at commit)."""
        if self.is_postgres:
            return "nextval(pg_get_serial_sequence(%s, 'id'))", [model_table]
        last = self.fetchone(
            f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
            f"COALESCE((SELECT MAX(id) FROM {qn(model_table)}), 0))",
            [model_table],
        )[0]
        return f"(%s + ROW_NUMBER() OVER (ORDER BY {order}))", [int(last)]

    def refresh_statistics(self, model, written: int) -> bool:
        """PostgreSQL: ANALYZE a model's table after the import wrote ``written`` rows to it
        when they are a large share of it (as autovacuum would after the commit), so that
        the statements later in the transaction are planned for the rows as they are now
        (ANALYZE samples the transaction's own new rows). Only the columns the planner
        estimates joins and index scans by (keys and indexed columns; autovacuum renews
        the rest after the commit). Returns whether it ran."""
        if not self.is_postgres or written < 1000:
            return False
        table = model._meta.db_table
        known = self.fetchone("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        if known and known[0] is not None and written < 0.2 * max(float(known[0]), 0.0):
            return False
        columns = ", ".join(qn(column) for column in indexed_columns(model))
        self.execute(f"ANALYZE {qn(table)} ({columns})")
        return True

    def index(self, table: str, *columns: str) -> None:
        index_name = f"{table}_{'_'.join(columns)}_idx"
        self.execute(
            f"CREATE INDEX {qn(index_name)} ON {qn(table)} "
            f"({', '.join(qn(column) for column in columns)})"
        )


def indexed_columns(model) -> list[str]:
    """The columns of a model that are a key, a foreign key, or in one of its indexes or
    unique constraints."""
    meta = model._meta
    names: set[str] = set()
    for index in [*meta.indexes, *meta.constraints]:
        for name in [*getattr(index, "fields", ()), *getattr(index, "include", ())]:
            names.add(name.lstrip("-"))
    for field_names in meta.unique_together:
        names.update(field_names)
    return [
        field.column
        for field in meta.concrete_fields
        if field.primary_key
        or field.is_relation
        or field.db_index
        or field.unique
        or field.name in names
        or field.attname in names
    ]
