"""A large import's tables get their plain indexes built once, not maintained per row.

PostgreSQL maintains every index of a table for each row written: for the 47,000 new
deals of a 240,000-row import, 1.6 s of the insert's 1.85 s went into `crm_deal`'s
twelve indexes. When an import brings at least as many new rows as a table holds (a
first load from another CRM, not the daily exchange), building the table's plain indexes
again after the insert costs a fraction of that (as ``pg_restore`` loads): the importer
drops them just before its insert and builds them right after it, inside its
transaction (a failed import rolls the drop back with everything else).

Dropping an index takes the table's ``ACCESS EXCLUSIVE`` lock, held to the commit: the
application's readers of that table wait for the end of the import (seconds). So only
for loads of ``MIN_ROWS`` rows or more, and only when the lock comes within
``LOCK_WAIT`` (a long report holding the table keeps it): otherwise, and where the role
may not drop the indexes, they are maintained row by row as usual, with the same result.
Primary keys and unique indexes always stay. See
docs/decisions/0012-first-loads-build-indexes-after-the-insert.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, transaction

from vrop.core import bulkload
from vrop.integrations.exchange.sql import Dialect, qn

MIN_ROWS = 10_000
LOCK_WAIT = "500ms"


class IndexRebuild:
    def __init__(self, sql: Dialect, *, enabled: bool = True) -> None:
        self.sql = sql
        self.enabled = enabled
        self.rebuilt: list[str] = []  # tables whose indexes this import built again

    @contextmanager
    def inserting(self, models, coming: int) -> Iterator[None]:
        """Statements inside insert ``coming`` new rows into each of these models'
        tables."""
        taken = []
        if self.enabled and self.sql.is_postgres and coming >= MIN_ROWS:
            for model in models:
                table = model._meta.db_table
                if table in self.rebuilt or not self._worth(table, coming):
                    continue
                indexes = self._take(table)
                if indexes is not None:
                    taken.extend(indexes)
                    self.rebuilt.append(table)
        yield
        bulkload.build_indexes(taken)

    def _worth(self, table: str, coming: int) -> bool:
        """Whether the rows coming are at least as many as the table holds."""
        estimate = self.sql.fetchone(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table]
        )[0]
        if estimate is not None and estimate > 10 * coming:
            return False
        return self.sql.fetchone(f"SELECT COUNT(*) FROM {qn(table)}")[0] <= coming

    def _take(self, table: str) -> list | None:
        """Lock the table and drop its plain indexes; None if the lock does not come in
        time or the role may not drop them (nothing changed then)."""
        previous = self.sql.fetchone("SHOW lock_timeout")[0]
        try:
            with transaction.atomic(using=self.sql.connection.alias):
                self.sql.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
                self.sql.execute(f"LOCK TABLE {qn(table)} IN ACCESS EXCLUSIVE MODE")
                indexes = bulkload.plain_indexes([table])
                bulkload.drop_indexes(indexes)
                self.sql.fetchone("SELECT set_config('lock_timeout', %s, true)", [previous])
        except DatabaseError:
            return None
        return indexes
