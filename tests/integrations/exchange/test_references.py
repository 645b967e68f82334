"""The import's own foreign-key checks on PostgreSQL (``exchange.references``): its bulk
writes skip PostgreSQL's per-row checks where the role may, and the ledger checks and
locks what they refer to, once per table; elsewhere PostgreSQL checks as usual."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg
import pytest
import time_machine
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.utils import translation

from tests.factories import DealFactory
from tests.integrations.exchange.conftest import BASIC, model_counts
from vrop.crm.models import Deal, StageChange
from vrop.integrations.exchange.importer import import_path
from vrop.integrations.exchange.references import ReferenceLedger
from vrop.integrations.exchange.sql import Dialect

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")

PLAIN_ROLE = "vrop_test_plain"
VALUES = {"deal_id": "s.deal_id", "from_stage": "''", "stage": "'lead'", "changed_at": "now()"}
SOURCE = "FROM (VALUES (%s::bigint), (%s::bigint)) s(deal_id) WHERE true"
INSERT = (
    "INSERT INTO crm_stagechange (deal_id, from_stage, stage, changed_at) "
    f"SELECT s.deal_id, '', 'lead', now() {SOURCE}"
)


def _as_plain_role() -> None:
    """For the rest of the transaction: a role that may write the tables but may not set
    ``session_replication_role`` (as an application's own database role)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DO $$ BEGIN CREATE ROLE {PLAIN_ROLE} NOLOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {PLAIN_ROLE}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {PLAIN_ROLE}")
        cursor.execute(f"SET LOCAL ROLE {PLAIN_ROLE}")


@pytest.mark.django_db
def test_the_ledger_finds_a_reference_to_a_missing_row():
    deal = DealFactory()
    missing = deal.pk + 1000
    sql = Dialect(connection)
    ledger = ReferenceLedger(sql)
    with transaction.atomic():
        assert ledger.start()
        with ledger.inserting(StageChange, VALUES, SOURCE, [deal.pk, missing]):
            assert sql.execute(INSERT, [deal.pk, missing]) == 2
        # PostgreSQL would have refused the commit; here nothing of it was queued
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        assert ledger.verify() == [("crm_deal", 1, [missing])]
        message = ReferenceLedger.message("crm_deal", 1, [missing])
        assert str(missing) in message and "crm_deal" in message
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_without_the_right_postgresql_checks_each_row_as_usual():
    deal = DealFactory()
    missing = deal.pk + 1000
    sql = Dialect(connection)
    ledger = ReferenceLedger(sql)
    with transaction.atomic():
        _as_plain_role()
        assert not ledger.start()
        with ledger.inserting(StageChange, VALUES, SOURCE, [deal.pk, missing]):
            sql.execute(INSERT, [deal.pk, missing])
        assert ledger.parents == {}  # nothing noted: PostgreSQL checks
        with pytest.raises(IntegrityError), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
def test_a_row_the_import_refers_to_cannot_be_deleted_until_it_ends():
    deal = DealFactory()  # committed: another connection sees it
    sql = Dialect(connection)
    ledger = ReferenceLedger(sql)
    params = connection.get_connection_params()
    with transaction.atomic():
        assert ledger.start()
        with ledger.inserting(StageChange, VALUES, SOURCE, [deal.pk, deal.pk]):
            sql.execute(INSERT, [deal.pk, deal.pk])
        assert ledger.verify() == []
        with psycopg.connect(**params, autocommit=True) as other:
            other.execute("SET lock_timeout = '300ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("DELETE FROM crm_deal WHERE id = %s", [deal.pk])
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_an_import_reports_and_writes_the_same_with_either_check(monkeypatch):
    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    results, started = [], []
    start = ReferenceLedger.start
    monkeypatch.setattr(ReferenceLedger, "start", lambda self: started.append(start(self)))
    with time_machine.travel(now, tick=False):
        for plain in (False, True):
            with transaction.atomic():
                if plain:
                    _as_plain_role()
                report = import_path(BASIC)
                assert report.ok, report.render()
                results.append(
                    (
                        {file: c.as_dict() for file, c in report.counts.items()},
                        report.flagged_deals,
                        model_counts(),
                    )
                )
                transaction.set_rollback(True)
    assert started == [True, False]
    assert results[0] == results[1]
    assert results[0][0]["deal_lines.csv"]["created"] > 0


@pytest.mark.django_db
def test_rows_the_import_creates_are_not_locked_but_checked_to_be_written():
    deal = DealFactory()
    never_written = deal.pk + 1000
    sql = Dialect(connection)
    ledger = ReferenceLedger(sql)
    with transaction.atomic():
        assert ledger.start()
        ledger.creating(Deal, f"SELECT unnest(ARRAY[{deal.pk}, {never_written}]::bigint[]) AS id")
        with ledger.inserting(StageChange, VALUES, SOURCE, [deal.pk, never_written]):
            sql.execute(INSERT, [deal.pk, never_written])
        assert sql.fetchone('SELECT COUNT(*) FROM "exch_refs_crm_deal"')[0] == 0
        assert ledger.verify() == [("crm_deal", 1, [never_written])]
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_a_failing_bulk_statement_keeps_its_own_error():
    deal = DealFactory()
    sql = Dialect(connection)
    ledger = ReferenceLedger(sql)
    with transaction.atomic():
        assert ledger.start()
        with (
            pytest.raises(ProgrammingError, match="exch_no_such_table"),
            ledger.inserting(StageChange, VALUES, SOURCE, [deal.pk, deal.pk]),
        ):
            sql.execute("INSERT INTO exch_no_such_table VALUES (1)")
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_an_import_whose_references_fail_the_check_writes_nothing(monkeypatch):
    """The importer hands a failed check to the report, in Russian, and rolls back."""
    monkeypatch.setattr(ReferenceLedger, "verify", lambda self: [("crm_client", 2, [7, 9])])
    before = model_counts()
    with translation.override("ru"):
        report = import_path(BASIC)
        rendered = report.render()
    assert not report.ok
    assert "удалили во время загрузки" in rendered and "7, 9" in rendered
    assert model_counts() == before
