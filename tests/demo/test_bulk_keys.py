"""PostgreSQL bulk load of the demo: the big tables' foreign keys and plain indexes are
dropped for the load and put back exactly as they were."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from vrop.demo.generator import BULK_MODELS
from vrop.demo.writer import DeferredKeys

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only"),
]


def keys_and_indexes() -> set:
    tables = [model._meta.db_table for model in BULK_MODELS]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            [tables],
        )
        found = {("fk", *row) for row in cursor.fetchall()}
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)",
            [tables],
        )
        return found | {("index", *row) for row in cursor.fetchall()}


def test_keys_are_dropped_for_the_load_and_restored_after():
    before = keys_and_indexes()
    assert sum(1 for kind, *_ in before if kind == "fk") >= 15
    with transaction.atomic(), DeferredKeys(BULK_MODELS) as deferred:
        during = keys_and_indexes()
        assert not any(kind == "fk" for kind, *_ in during)
        assert len(deferred.indexes) > 10
        # Primary keys and unique constraints stay.
        assert any("deal_source_id_unique" in name for _k, _t, name, _d in during)
    assert keys_and_indexes() == before


def test_a_failed_load_rolls_the_drop_back():
    before = keys_and_indexes()
    with pytest.raises(RuntimeError):
        with transaction.atomic(), DeferredKeys(BULK_MODELS):
            raise RuntimeError("the load failed")
    assert keys_and_indexes() == before
