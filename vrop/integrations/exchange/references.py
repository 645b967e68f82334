"""The foreign keys of the import's bulk writes, checked once per import, not per row.

PostgreSQL checks each foreign key of each row written with a query of its own (the
project's constraints are ``DEFERRABLE INITIALLY DEFERRED``, so all of them at the
commit): for an import of 240,000 rows about 550,000 queries, a fifth of the server's
time. Where the database role may set ``session_replication_role`` (a superuser, or a
role granted ``SET ON PARAMETER session_replication_role``, PostgreSQL 15+), the bulk
writes run with it set to ``replica`` — their rows fire no triggers, hence no checks —
and this ledger does the checks itself, set-based:

- ``inserting``: the statement writes rows whose foreign-key columns are the given
  expressions over ``source``; the distinct ids they refer to are noted per parent table;
- ``keys_kept``: the statements write no foreign-key column (derived fields, history rows
  with no user), so there is nothing to check;
- ``creating``: the ids of rows the import itself creates in a parent table (new deals,
  new invoices, reserved ahead): references to them are not noted (no other transaction
  sees them, nothing to lock); ``verify`` checks instead that each of them was written;
- ``verify`` (before the commit): the noted rows of each parent table are locked as the
  per-row check locks them (``FOR KEY SHARE``: a concurrent delete of a row the import
  refers to waits for the import, then fails on its own foreign key) and counted; one
  missing (deleted meanwhile, or a fault of the importer) fails the import as a whole.

Every other write keeps PostgreSQL's own checks. Where the setting is not allowed, and on
SQLite, the statements simply run with the database's checks. See
docs/decisions/0011-imports-check-foreign-keys-per-table.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from vrop.integrations.exchange.sql import Dialect, qn

PREFIX = "exch_refs_"


class ReferenceLedger:
    def __init__(self, sql: Dialect) -> None:
        self.sql = sql
        self.active = False
        self.parents: dict[str, str] = {}  # parent table -> its ledger (a staging table)
        self.created: dict[str, str] = {}  # parent table -> a SELECT of the ids created

    def start(self) -> bool:
        """Whether the bulk writes may skip the per-row checks (PostgreSQL, and the role
        may set ``session_replication_role``); tried once, in a savepoint."""
        if not self.sql.is_postgres:
            return False
        try:
            with transaction.atomic(using=self.sql.connection.alias):
                self._replica(True)
                self._replica(False)
        except DatabaseError:
            return False
        self.active = True
        return True

    def _replica(self, on: bool) -> None:
        role = "replica" if on else "origin"
        self.sql.execute(f"SET LOCAL session_replication_role = {role}")

    @contextmanager
    def _unchecked(self) -> Iterator[None]:
        if not self.active:
            yield
            return
        self._replica(True)
        try:
            yield
        except BaseException:
            try:
                self._replica(False)
            except DatabaseError:
                pass  # the transaction failed: it rolls back, the setting with it
            raise
        self._replica(False)

    @contextmanager
    def inserting(
        self, model, values: Mapping[str, str], source: str, params: list | tuple = ()
    ) -> Iterator[None]:
        """Statements inside write rows of ``model``: ``values`` maps each column they
        write to its expression over ``source`` (``FROM … WHERE …`` giving exactly those
        rows; ``params`` its parameters). Columns not written are NULL or their default."""
        if self.active:
            self.note(model, values, source, params)
        with self._unchecked():
            yield

    @contextmanager
    def keys_kept(self) -> Iterator[None]:
        """Statements inside write no foreign-key column (or only NULLs)."""
        with self._unchecked():
            yield

    def creating(self, model, ids: str) -> None:
        """The import creates rows of ``model`` with the ids ``ids`` (a SELECT) gives."""
        if self.active:
            self.created[model._meta.db_table] = ids

    def note(self, model, values: Mapping[str, str], source: str, params) -> None:
        for field in model._meta.concrete_fields:
            if not field.is_relation or not getattr(field, "db_constraint", False):
                continue
            expression = values.get(field.column)
            if expression is None:
                if not field.null:
                    raise AssertionError(f"{model._meta.label}.{field.name} is not written")
                continue
            if expression.strip().upper() == "NULL":
                continue
            parent = field.related_model._meta.db_table
            ledger = self.parents.get(parent)
            if ledger is None:
                ledger = self.parents[parent] = f"{PREFIX}{parent}"
                self.sql.create_temp(ledger, [("pk", "bigint")])
            own = self.created.get(parent)
            not_own = f" AND ({expression}) NOT IN ({own})" if own else ""
            self.sql.execute(
                f"INSERT INTO {qn(ledger)} (pk) SELECT DISTINCT {expression} {source} "
                f"AND ({expression}) IS NOT NULL{not_own} ON CONFLICT DO NOTHING",
                list(params),
            )

    def verify(self) -> list[tuple[str, int, list[int]]]:
        """Lock and count the rows the import refers to; returns, per parent table with
        rows missing, (table, how many, a few of their ids)."""
        missing = []
        for parent, ids in self.created.items():
            p = qn(parent)
            lost = [
                row[0]
                for row in self.sql.fetchall(
                    f"SELECT c.id FROM ({ids}) c WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {p} p WHERE p.id = c.id) ORDER BY c.id"
                )
            ]
            if lost:
                missing.append((parent, len(lost), lost[:5]))
        for parent, ledger in self.parents.items():
            p, r = qn(parent), qn(ledger)
            wanted, locked = self.sql.fetchone(
                f"WITH locked AS (SELECT p.id FROM {p} p JOIN {r} r ON r.pk = p.id "
                f"FOR KEY SHARE OF p) "
                f"SELECT (SELECT COUNT(*) FROM {r}), (SELECT COUNT(*) FROM locked)"
            )
            if wanted != locked:
                examples = [
                    row[0]
                    for row in self.sql.fetchall(
                        f"SELECT pk FROM {r} WHERE pk NOT IN (SELECT id FROM {p}) "
                        f"ORDER BY pk LIMIT 5"
                    )
                ]
                missing.append((parent, wanted - locked, examples))
        return missing

    @staticmethod
    def message(table: str, count: int, examples: list[int]) -> str:
        return _(
            "%(count)s records of %(table)s that the imported rows refer to no longer exist "
            "(ids %(ids)s): they were deleted while the import ran. Nothing was imported; "
            "run the import again."
        ) % {"count": count, "table": table, "ids": ", ".join(map(str, examples))}
