"""The denormalised fields the services keep, recomputed set-based after an import.

Each function takes the dialect and works on the deals (or invoices) named by a
staging table, and changes only rows whose value actually differs, so that importing
the same data again writes nothing. The semantics are those of the services:

- deal totals (``crm.services.deal_recalculate``): for a deal with lines, amount, cost,
  amount at list prices (each rounded to kopecks) and volume from its lines; a deal
  without lines keeps the amount it was given;
- stage facts (``crm.services.deal_stage_change``): ``stage_changed_at`` is the moment
  of the latest stage change, ``closed_at`` the same for a won or lost deal (else
  empty), ``first_contact_at`` the first move to contact, quote or won and
  ``quote_sent_at`` the first move to quote (kept as they were when the history has no
  such move); the moments the deal first reached contact, quote and won
  (``crm.services.deals_stage_moments_refresh``, the same expressions);
- ``next_step_at`` (``deal_refresh_next_step``): the earliest due date of the deal's
  open tasks;
- ``last_activity_at``: the latest of its value, a done task and a call;
- invoices (``receivables`` ``invoice_apply_payments``): ``paid_amount`` is the sum of
  the payments, ``paid_on`` the date of the payment with which the running total
  (by date, then entry order) reached the invoice amount for good; empty while unpaid.
"""

from __future__ import annotations

from datetime import datetime

from vrop.crm.choices import REACHED, reached_sql
from vrop.integrations.exchange.sql import Dialect, qn
from vrop.integrations.exchange.staged import NEW_DEALS

DEAL = qn("crm_deal")
LINE = qn("crm_dealline")
STAGE = qn("crm_stagechange")
TASK = qn("crm_task")
CALL = qn("callaudit_call")
INVOICE = qn("receivables_invoice")
PAYMENT = qn("receivables_payment")


def deal_history_complete(
    sql: Dialect, deals_stage: str, mentioned: str | None, now, deal_tables=(DEAL,)
) -> int:
    """Stage history for imported deals that the file of stage changes does not cover.

    ``deals_stage``: staging of deals.csv (``pk``); ``mentioned``: staging of the deals
    named in stage_changes.csv (``deal_id``), or None. A deal with no history gets the
    lead row at ``received_at``; a deal whose latest history row is not its stage gets a
    row for its stage at ``now`` (the moment we learned of it). ``deal_tables``: where
    the deals are (``crm_deal`` and the new deals not written yet).
    """
    not_mentioned = f"AND d.id NOT IN (SELECT deal_id FROM {qn(mentioned)})" if mentioned else ""
    written = 0
    for table in deal_tables:
        ids = f"(SELECT pk FROM {qn(deals_stage)})"
        if table == qn(NEW_DEALS):
            ids = f"(SELECT id FROM {table})"  # all of them are in deals.csv
        written += _history_complete(sql, table, ids, not_mentioned, now)
    return written


def _history_complete(sql: Dialect, table: str, ids: str, not_mentioned: str, now) -> int:
    written = sql.execute(
        f"""
        INSERT INTO {STAGE} (deal_id, from_stage, stage, changed_at)
        SELECT d.id, '', 'lead', d.received_at FROM {table} d
        WHERE d.id IN {ids} {not_mentioned}
          AND NOT EXISTS (SELECT 1 FROM {STAGE} c WHERE c.deal_id = d.id)
        ORDER BY d.id
        """
    )
    written += sql.execute(
        f"""
        INSERT INTO {STAGE} (deal_id, from_stage, stage, changed_at)
        SELECT d.id, latest.stage, d.stage, %s FROM {table} d
        JOIN (
            SELECT deal_id, stage FROM (
                SELECT deal_id, stage, ROW_NUMBER() OVER (
                    PARTITION BY deal_id ORDER BY changed_at DESC, id DESC
                ) AS rn
                FROM {STAGE} WHERE deal_id IN {ids}
            ) ranked WHERE rn = 1
        ) latest ON latest.deal_id = d.id
        WHERE latest.stage <> d.stage {not_mentioned}
        ORDER BY d.id
        """,
        [sql.param(now)],
    )
    return written


def _later(left: str, right: str) -> str:
    """The later of two nullable moments (portable GREATEST that ignores NULL)."""
    return (
        f"(CASE WHEN {right} IS NULL THEN {left} "
        f"WHEN {left} IS NULL OR {right} > {left} THEN {right} ELSE {left} END)"
    )


# field -> its new value, an expression over the deal ``d`` and the aggregates below
DEAL_FIELDS = {
    "amount": "COALESCE(l.amount, d.amount)",
    "cost_amount": "COALESCE(l.cost_amount, d.cost_amount)",
    "list_amount": "COALESCE(l.list_amount, d.list_amount)",
    "volume": "COALESCE(l.volume, d.volume)",
    "stage_changed_at": "COALESCE(h.last_at, d.stage_changed_at)",
    "closed_at": (
        "CASE WHEN h.last_at IS NULL THEN d.closed_at "
        "WHEN d.stage IN ('won', 'lost') THEN h.last_at ELSE NULL END"
    ),
    "first_contact_at": "COALESCE(h.first_contact, d.first_contact_at)",
    "quote_sent_at": "COALESCE(h.first_quote, d.quote_sent_at)",
    **{field: f"h.{field}" for field in REACHED},
    "next_step_at": "t.next_at",
    "last_activity_at": _later(_later("d.last_activity_at", "t.done"), "c.called"),
}


def deal_fields(sql: Dialect, touched: str) -> int:
    """Every denormalised field of the deals of ``crm_deal`` that the subquery ``touched``
    names, in one pass: one row version per changed deal."""
    sets = ", ".join(f"{name} = x.{name}" for name in DEAL_FIELDS)
    differs = " OR ".join(sql.distinct(f"{DEAL}.{name}", f"x.{name}") for name in DEAL_FIELDS)
    return sql.execute(
        f"""
        UPDATE {DEAL} SET {sets}
        FROM ({deal_field_values(DEAL, touched)}) x
        WHERE {DEAL}.id = x.id AND ({differs})
        """
    )


def deal_field_values(table: str, touched: str) -> str:
    """A SELECT of ``id`` and the new value of every field of ``DEAL_FIELDS`` for the deals
    of ``table`` (``crm_deal``, or the new deals of the import) that ``touched`` names."""
    values = ", ".join(f"{expression} AS {name}" for name, expression in DEAL_FIELDS.items())
    reached = ", ".join(f"{reached_sql(field)} AS {field}" for field in REACHED)
    return f"""
            SELECT d.id, {values} FROM {table} d
            LEFT JOIN (
                SELECT deal_id,
                    ROUND(SUM(qty * price), 2) AS amount,
                    ROUND(SUM(qty * cost_price), 2) AS cost_amount,
                    ROUND(SUM(qty * list_price), 2) AS list_amount,
                    SUM(qty) AS volume
                FROM {LINE} WHERE deal_id IN {touched} GROUP BY deal_id
            ) l ON l.deal_id = d.id
            LEFT JOIN (
                SELECT deal_id, MAX(changed_at) AS last_at,
                    MIN(CASE WHEN stage IN ('contact', 'quote', 'won') THEN changed_at END)
                        AS first_contact,
                    MIN(CASE WHEN stage = 'quote' THEN changed_at END) AS first_quote,
                    {reached}
                FROM {STAGE} WHERE deal_id IN {touched} GROUP BY deal_id
            ) h ON h.deal_id = d.id
            LEFT JOIN (
                SELECT deal_id,
                    MIN(CASE WHEN done_at IS NULL THEN due_at END) AS next_at,
                    MAX(done_at) AS done
                FROM {TASK} WHERE deal_id IN {touched} GROUP BY deal_id
            ) t ON t.deal_id = d.id
            LEFT JOIN (
                SELECT deal_id, MAX(started_at) AS called
                FROM {CALL} WHERE deal_id IN {touched} GROUP BY deal_id
            ) c ON c.deal_id = d.id
            WHERE d.id IN {touched}
        """


def invoice_payments(sql: Dialect, invoices: str, now: datetime) -> int:
    """``paid_amount`` and ``paid_on`` of the invoices of ``receivables_invoice`` whose pks
    the subquery ``invoices`` gives (one column, ``pk``): one ``UPDATE … FROM`` over
    ``invoice_paid_values``."""
    return sql.execute(
        f"""
        UPDATE {INVOICE} SET paid_amount = x.paid_amount, paid_on = x.paid_on, updated_at = %s
        FROM ({invoice_paid_values(invoices, INVOICE)}) x
        WHERE {INVOICE}.id = x.id AND (
            {sql.distinct(f"{INVOICE}.paid_amount", "x.paid_amount")}
            OR {sql.distinct(f"{INVOICE}.paid_on", "x.paid_on")}
        )
        """,
        [sql.param(now)],
    )


def invoice_paid_values(invoices: str, source: str) -> str:
    """A SELECT of ``id``, ``paid_amount``, ``paid_on`` of the invoices whose pks the
    subquery ``invoices`` gives (one column, ``pk``); ``source``: where their amounts are (a table or subquery
    with ``id`` and ``amount``: ``receivables_invoice``, or the new invoices of the import
    not written yet).

    The payments of each invoice in order (by date, then entry) with their running total;
    the last payment after which the total was still short of the amount; ``paid_on`` is
    the date of the payment after it (every later one keeps the invoice covered, so it is
    the earliest date among them)."""
    return f"""
            SELECT t.pk AS id, COALESCE(a.paid, 0) AS paid_amount, a.paid_on AS paid_on
            FROM {invoices} t LEFT JOIN (
                SELECT invoice_id, ROUND(SUM(amount), 2) AS paid,
                    MIN(CASE WHEN rn > last_short THEN paid_on END) AS paid_on
                FROM (
                    SELECT invoice_id, amount, paid_on, rn,
                        MAX(CASE WHEN covered = 0 THEN rn ELSE 0 END)
                            OVER (PARTITION BY invoice_id) AS last_short
                    FROM (
                        SELECT p.invoice_id, p.amount, p.paid_on, ROW_NUMBER() OVER w AS rn,
                            CASE WHEN ROUND(SUM(p.amount) OVER w, 2) >= i.amount
                                THEN 1 ELSE 0 END AS covered
                        FROM {PAYMENT} p JOIN {source} i ON i.id = p.invoice_id
                        WHERE p.invoice_id IN {invoices}
                        WINDOW w AS (PARTITION BY p.invoice_id ORDER BY p.paid_on, p.id
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                    ) r
                ) r2 GROUP BY invoice_id
            ) a ON a.invoice_id = t.pk
        """
