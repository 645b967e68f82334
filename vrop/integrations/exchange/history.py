"""django-simple-history rows for what an import writes, in bulk, in its transaction.

The services save one object at a time and simple-history records each save. The import
writes set-based, so it writes the history rows itself, also set-based: one row per
deal, deal line, client and product that it created or changed, with the values after
the import (``history_type`` ``+`` for an object it created, ``~`` for one it changed,
``-`` for a deal line it replaced; no user; the reason ``import``).

"Changed" is judged against the object's latest history row: an object whose tracked
fields equal its latest history row gets none (so importing the same data again writes
no history), and an object without any history gets its first row when an import
touches it.
"""

from __future__ import annotations

from datetime import datetime

from vrop.integrations.exchange.sql import Dialect, qn

REASON = "import"
NONE = "(SELECT 0 WHERE 1 = 0)"  # no pks: the import created none


def _tracked(model) -> list:
    """The model fields its history rows copy (the history model's own fields aside)."""
    history = model.history.model._meta
    return [f for f in history.concrete_fields if not f.name.startswith("history_")]


def write(
    sql: Dialect, model, candidates: str, now: datetime, created: str = "", fresh: bool = False
) -> int:
    """History rows for the objects of ``model`` among ``candidates`` (a subquery of pks)
    that differ from their latest history row or have none; ``created`` (a subquery of
    pks) names those the import created (else: those without history). ``fresh``: all
    candidates are new rows (no history to compare with)."""
    history = qn(model.history.model._meta.db_table)
    table = qn(model._meta.db_table)
    fields = _tracked(model)
    columns = ", ".join(qn(f.column) for f in fields)
    values = ", ".join(f"t.{qn(f.column)}" for f in fields)
    differs = []
    for field in fields:
        if field.column == "id":
            continue
        left, right = f"h.{qn(field.column)}", f"t.{qn(field.column)}"
        if field.get_internal_type() == "JSONField":
            left, right = sql.json_normal(left), sql.json_normal(right)
        differs.append(sql.distinct(left, right))
    params: list = [sql.param(now), REASON]
    insert = (
        f"INSERT INTO {history} ({columns}, history_date, history_change_reason, "
        f"history_type, history_user_id)"
    )
    if fresh:
        return sql.execute(
            f"{insert} SELECT {values}, %s, %s, '+', NULL FROM {table} t "
            f"WHERE t.id IN {candidates} ORDER BY t.id",
            params,
        )
    new = f"t.id IN {created}" if created else "h.history_id IS NULL"
    kind = f"CASE WHEN {new} THEN '+' ELSE '~' END"
    # the latest history row of each candidate: one grouped pass, then a join by its pk
    return sql.execute(
        f"""
        {insert}
        SELECT {values}, %s, %s, {kind}, NULL FROM {table} t
        LEFT JOIN (
            SELECT l.id, MAX(l.history_id) AS latest FROM {history} l
            WHERE l.id IN {candidates} GROUP BY l.id
        ) m ON m.id = t.id
        LEFT JOIN {history} h ON h.history_id = m.latest
        WHERE t.id IN {candidates} AND (h.history_id IS NULL OR {" OR ".join(differs)})
        ORDER BY t.id
        """,
        params,
    )


def insert_with_history(sql: Dialect, model, insert: str, params: list, now: datetime) -> int:
    """PostgreSQL: run ``insert`` (an ``INSERT`` of new rows of ``model``) and write the
    ``+`` history row of each row it inserts in the same statement (from its
    ``RETURNING``, without looking the rows up again). Returns how many it inserted."""
    history = qn(model.history.model._meta.db_table)
    fields = _tracked(model)
    columns = ", ".join(qn(f.column) for f in fields)
    return sql.execute(
        f"""
        WITH new AS ({insert} RETURNING {columns})
        INSERT INTO {history} ({columns}, history_date, history_change_reason, history_type,
            history_user_id)
        SELECT {columns}, %s, %s, '+', NULL FROM new ORDER BY id
        """,
        [*params, sql.param(now), REASON],
    )


def removed(sql: Dialect, model, where: str, now: datetime) -> int:
    """``-`` history rows for the objects of ``model`` matching ``where`` (over ``t``),
    written before the import deletes them."""
    history = qn(model.history.model._meta.db_table)
    fields = _tracked(model)
    columns = ", ".join(qn(f.column) for f in fields)
    values = ", ".join(f"t.{qn(f.column)}" for f in fields)
    return sql.execute(
        f"""
        INSERT INTO {history} ({columns}, history_date, history_change_reason, history_type,
            history_user_id)
        SELECT {values}, %s, %s, '-', NULL FROM {qn(model._meta.db_table)} t
        WHERE {where} ORDER BY t.id
        """,
        [sql.param(now), REASON],
    )
