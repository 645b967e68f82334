"""Bulk loads on PostgreSQL: the plain indexes of a table, dropped for a load and built
again after it (as ``pg_restore`` loads). Building an index once over the table costs a
fraction of maintaining it row by row when the load brings as many rows as the table
holds. Used by the demo generator (``demo.writer.DeferredKeys``) and by large imports
(``integrations.exchange.indexes``).

Primary keys and unique indexes are never dropped: they keep the load honest.
"""

from __future__ import annotations

from django.db import connection


def plain_indexes(tables: list[str]) -> list[tuple[str, str, str]]:
    """(table, index, its ``CREATE INDEX`` statement) of every index of these tables that
    is neither a primary key nor unique."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, "
            "pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i WHERE i.indrelid::regclass::text = ANY(%s) "
            "AND NOT i.indisunique AND NOT i.indisprimary ORDER BY 1, 2",
            [tables],
        )
        return list(cursor.fetchall())


def drop_indexes(indexes: list[tuple[str, str, str]]) -> None:
    with connection.cursor() as cursor:
        for _table, name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")


def build_indexes(indexes: list[tuple[str, str, str]]) -> None:
    with connection.cursor() as cursor:
        for _table, _name, definition in indexes:
            cursor.execute(definition)
