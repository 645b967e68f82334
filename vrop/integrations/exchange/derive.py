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
  such move);
- ``next_step_at`` (``deal_refresh_next_step``): the earliest due date of the deal's
  open tasks;
- ``last_activity_at``: the latest of its value, a done task and a call;
- invoices (``receivables`` ``invoice_apply_payments``): ``paid_amount`` is the sum of
  the payments, ``paid_on`` the date of the payment with which the running total
  (by date, then entry order) reached the invoice amount for good; empty while unpaid.
"""

from __future__ import annotations

from datetime import datetime

from vrop.integrations.exchange.sql import Dialect, qn

DEAL = qn("crm_deal")
LINE = qn("crm_dealline")
STAGE = qn("crm_stagechange")
TASK = qn("crm_task")
CALL = qn("callaudit_call")
INVOICE = qn("receivables_invoice")
PAYMENT = qn("receivables_payment")


def deal_totals(sql: Dialect, deals: str) -> int:
    """Totals of the deals in staging table ``deals`` (column ``pk``) that have lines."""
    d = sql.distinct
    return sql.execute(
        f"""
        UPDATE {DEAL} SET amount = x.amount, cost_amount = x.cost_amount,
            list_amount = x.list_amount, volume = x.volume
        FROM (
            SELECT deal_id,
                ROUND(SUM(qty * price), 2) AS amount,
                ROUND(SUM(qty * cost_price), 2) AS cost_amount,
                ROUND(SUM(qty * list_price), 2) AS list_amount,
                SUM(qty) AS volume
            FROM {LINE} WHERE deal_id IN (SELECT pk FROM {qn(deals)})
            GROUP BY deal_id
        ) x
        WHERE {DEAL}.id = x.deal_id AND (
            {d(f"{DEAL}.amount", "x.amount")} OR {d(f"{DEAL}.cost_amount", "x.cost_amount")}
            OR {d(f"{DEAL}.list_amount", "x.list_amount")} OR {d(f"{DEAL}.volume", "x.volume")}
        )
        """
    )


def deal_history_complete(sql: Dialect, deals_stage: str, mentioned: str | None, now) -> int:
    """Stage history for imported deals that the file of stage changes does not cover.

    ``deals_stage``: staging of deals.csv (``pk``); ``mentioned``: staging of the deals
    named in stage_changes.csv (``deal_id``), or None. A deal with no history gets the
    lead row at ``received_at``; a deal whose latest history row is not its stage gets a
    row for its stage at ``now`` (the moment we learned of it).
    """
    not_mentioned = f"AND d.id NOT IN (SELECT deal_id FROM {qn(mentioned)})" if mentioned else ""
    written = sql.execute(
        f"""
        INSERT INTO {STAGE} (deal_id, from_stage, stage, changed_at)
        SELECT d.id, '', 'lead', d.received_at FROM {DEAL} d
        WHERE d.id IN (SELECT pk FROM {qn(deals_stage)}) {not_mentioned}
          AND NOT EXISTS (SELECT 1 FROM {STAGE} c WHERE c.deal_id = d.id)
        ORDER BY d.id
        """
    )
    written += sql.execute(
        f"""
        INSERT INTO {STAGE} (deal_id, from_stage, stage, changed_at)
        SELECT d.id, latest.stage, d.stage, %s FROM {DEAL} d
        JOIN (
            SELECT deal_id, stage FROM (
                SELECT deal_id, stage, ROW_NUMBER() OVER (
                    PARTITION BY deal_id ORDER BY changed_at DESC, id DESC
                ) AS rn
                FROM {STAGE} WHERE deal_id IN (SELECT pk FROM {qn(deals_stage)})
            ) ranked WHERE rn = 1
        ) latest ON latest.deal_id = d.id
        WHERE latest.stage <> d.stage {not_mentioned}
        ORDER BY d.id
        """,
        [sql.param(now)],
    )
    return written


def deal_stage_facts(sql: Dialect, deals: str) -> int:
    d = sql.distinct
    closed = f"CASE WHEN {DEAL}.stage IN ('won', 'lost') THEN x.last_at ELSE NULL END"
    first_contact = f"COALESCE(x.first_contact, {DEAL}.first_contact_at)"
    first_quote = f"COALESCE(x.first_quote, {DEAL}.quote_sent_at)"
    return sql.execute(
        f"""
        UPDATE {DEAL} SET stage_changed_at = x.last_at, closed_at = {closed},
            first_contact_at = {first_contact}, quote_sent_at = {first_quote}
        FROM (
            SELECT deal_id, MAX(changed_at) AS last_at,
                MIN(CASE WHEN stage IN ('contact', 'quote', 'won') THEN changed_at END)
                    AS first_contact,
                MIN(CASE WHEN stage = 'quote' THEN changed_at END) AS first_quote
            FROM {STAGE} WHERE deal_id IN (SELECT pk FROM {qn(deals)})
            GROUP BY deal_id
        ) x
        WHERE {DEAL}.id = x.deal_id AND (
            {d(f"{DEAL}.stage_changed_at", "x.last_at")}
            OR {d(f"{DEAL}.closed_at", closed)}
            OR {d(f"{DEAL}.first_contact_at", first_contact)}
            OR {d(f"{DEAL}.quote_sent_at", first_quote)}
        )
        """
    )


def deal_next_step(sql: Dialect, deals: str) -> int:
    next_at = (
        f"(SELECT MIN(t.due_at) FROM {TASK} t WHERE t.deal_id = {DEAL}.id "
        f"AND t.done_at IS NULL AND t.due_at IS NOT NULL)"
    )
    return sql.execute(
        f"""
        UPDATE {DEAL} SET next_step_at = {next_at}
        WHERE id IN (SELECT pk FROM {qn(deals)}) AND {sql.distinct("next_step_at", next_at)}
        """
    )


def _later(left: str, right: str) -> str:
    """The later of two nullable moments (portable GREATEST that ignores NULL)."""
    return (
        f"(CASE WHEN {right} IS NULL THEN {left} "
        f"WHEN {left} IS NULL OR {right} > {left} THEN {right} ELSE {left} END)"
    )


def deal_last_activity(sql: Dialect, deals: str) -> int:
    done = f"(SELECT MAX(t.done_at) FROM {TASK} t WHERE t.deal_id = {DEAL}.id)"
    called = f"(SELECT MAX(c.started_at) FROM {CALL} c WHERE c.deal_id = {DEAL}.id)"
    value = _later(_later("last_activity_at", done), called)
    return sql.execute(
        f"""
        UPDATE {DEAL} SET last_activity_at = {value}
        WHERE id IN (SELECT pk FROM {qn(deals)}) AND {sql.distinct("last_activity_at", value)}
        """
    )


def invoice_payments(sql: Dialect, invoices: str, now: datetime) -> int:
    """``paid_amount`` and ``paid_on`` of the invoices in staging ``invoices`` (``pk``)."""
    runs = "exch_payment_runs"
    sql.create_temp(
        runs,
        [
            ("payment_id", "bigint"),
            ("invoice_id", "bigint"),
            ("rn", "bigint"),
            ("paid_on", "date"),
            ("covered", "integer"),
        ],
    )
    sql.execute(
        f"""
        INSERT INTO {qn(runs)} (payment_id, invoice_id, rn, paid_on, covered)
        SELECT r.id, r.invoice_id, r.rn, r.paid_on,
            CASE WHEN ROUND(r.running, 2) >= i.amount THEN 1 ELSE 0 END
        FROM (
            SELECT id, invoice_id, paid_on,
                SUM(amount) OVER w AS running, ROW_NUMBER() OVER w AS rn
            FROM {PAYMENT} WHERE invoice_id IN (SELECT pk FROM {qn(invoices)})
            WINDOW w AS (PARTITION BY invoice_id ORDER BY paid_on, id
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ) r JOIN {INVOICE} i ON i.id = r.invoice_id
        """
    )
    sql.index(runs, "invoice_id", "rn")
    sql.analyze(runs)
    paid_amount = (
        f"COALESCE((SELECT ROUND(SUM(p.amount), 2) FROM {PAYMENT} p "
        f"WHERE p.invoice_id = {INVOICE}.id), 0)"
    )
    last_uncovered = (
        f"COALESCE((SELECT MAX(u.rn) FROM {qn(runs)} u "
        f"WHERE u.invoice_id = {INVOICE}.id AND u.covered = 0), 0)"
    )
    paid_on = (
        f"(SELECT r.paid_on FROM {qn(runs)} r WHERE r.invoice_id = {INVOICE}.id "
        f"AND r.rn = {last_uncovered} + 1 AND r.covered = 1)"
    )
    return sql.execute(
        f"""
        UPDATE {INVOICE} SET paid_amount = {paid_amount}, paid_on = {paid_on}, updated_at = %s
        WHERE id IN (SELECT pk FROM {qn(invoices)}) AND (
            {sql.distinct("paid_amount", paid_amount)} OR {sql.distinct("paid_on", paid_on)}
        )
        """,
        [sql.param(now)],
    )
