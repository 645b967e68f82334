"""Large imports build the plain indexes of the tables they at least double once, after
their insert, instead of row by row (PostgreSQL, ``exchange.indexes``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg
import pytest
import time_machine
from django.db import connection, transaction

from tests.integrations.exchange.conftest import BASIC, model_counts
from vrop.integrations.exchange import indexes
from vrop.integrations.exchange.importer import import_path

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only"),
]
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))


def index_definitions() -> set[tuple[str, str]]:
    """(table, index) of the project's tables. Names, not definitions: PostgreSQL prints
    an ``IN`` list of a partial index's predicate in another, equivalent form once the
    index is built from its printed definition (as after ``pg_restore``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' "
            "AND (tablename LIKE 'crm_%%' OR tablename LIKE 'receivables_%%')"
        )
        return set(cursor.fetchall())


@pytest.fixture
def rebuilds(monkeypatch):
    """The tables each import rebuilt the indexes of (one list per import)."""
    found: list[list[str]] = []
    init = indexes.IndexRebuild.__init__

    def recording(self, sql, **options):
        init(self, sql, **options)
        found.append(self.rebuilt)

    monkeypatch.setattr(indexes.IndexRebuild, "__init__", recording)
    return found


def _import() -> tuple:
    with transaction.atomic():
        report = import_path(BASIC)
        assert report.ok, report.render()
        result = (
            {file: c.as_dict() for file, c in report.counts.items()},
            report.flagged_deals,
            model_counts(),
            index_definitions(),
        )
        transaction.set_rollback(True)
    return result


def test_a_first_load_builds_the_indexes_again_with_the_same_result(monkeypatch, rebuilds):
    before = index_definitions()
    with time_machine.travel(NOW, tick=False):
        monkeypatch.setattr(indexes, "MIN_ROWS", 1)
        rebuilt = _import()
        monkeypatch.setattr(indexes, "MIN_ROWS", 10**9)
        maintained = _import()
    assert "crm_deal" in rebuilds[0] and "crm_dealline" in rebuilds[0]
    assert rebuilds[1] == []
    assert rebuilt == maintained
    assert rebuilt[3] == before  # every index is back, as it was


def test_a_table_busy_with_a_reader_keeps_its_indexes_and_the_import_does_not_wait(
    monkeypatch, rebuilds
):
    monkeypatch.setattr(indexes, "MIN_ROWS", 1)
    params = connection.get_connection_params()
    with psycopg.connect(**params) as reader, time_machine.travel(NOW, tick=False):
        reader.execute("SELECT 1 FROM crm_deal LIMIT 1")  # holds the table until it ends
        result = _import()
        reader.rollback()
    assert "crm_deal" not in rebuilds[0]
    assert "crm_dealline" in rebuilds[0]
    assert result[0]["deals.csv"]["created"] > 0


def test_an_unchanged_reimport_or_a_dry_run_locks_and_rebuilds_nothing(monkeypatch, rebuilds):
    monkeypatch.setattr(indexes, "MIN_ROWS", 1)
    with time_machine.travel(NOW, tick=False), transaction.atomic():
        assert import_path(BASIC).ok
        assert import_path(BASIC).ok  # everything unchanged
        assert import_path(BASIC, dry_run=True).ok
        transaction.set_rollback(True)
    assert "crm_deal" in rebuilds[0]
    assert rebuilds[1] == [] and rebuilds[2] == []
