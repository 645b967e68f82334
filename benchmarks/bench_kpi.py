"""The numbers at scale: the owner's dashboard, /api/v1/kpi, the funnel, the forecast and
the monthly PDF report, against the demo company of the configured database; and the
same money aggregates computed by DuckDB on the exported data, with the ratio.

    VROP_DATA_DIR=/tmp/vrop-bench vrop bench kpi --scale 5
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/anal_bench vrop bench kpi --scale 5

Without a demo company in the database it generates one (``--scale``, 12 months of
history; ``--quick``: scale 1 and one month, under a minute). Prints p50 and p95 of
repeated calls (after one warm-up) with the number of SQL queries of each.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

REPEAT = 15


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(int(round(0.95 * len(ordered))) - 1, 0)]


def _timed(label: str, function, repeat: int) -> tuple[float, float]:
    function()
    timings = []
    queries = 0
    for _ in range(repeat):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            function()
        timings.append((time.perf_counter() - started) * 1000)
        queries = len(captured)
    p50, p95 = statistics.median(timings), _p95(timings)
    print(f"{label}: p50 {p50:.0f} ms, p95 {p95:.0f} ms, {queries} queries ({repeat} runs)")
    return p50, p95


def _ensure_demo(scale: int, quick: bool) -> None:
    from vrop.demo.generator import demo_exists, generate_demo

    if demo_exists():
        return
    started = time.perf_counter()
    counts = generate_demo(seed=1, scale=scale, months=1 if quick else 12)
    print(f"generated the demo (scale {scale}) in {time.perf_counter() - started:.0f} s: {counts}")
    if connection.vendor == "postgresql":
        # Fresh statistics after a bulk load (autovacuum would do it a little later):
        # without them the planner picks nested loops for the funnel's subqueries.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _duckdb_compare(owner, today) -> None:
    """Export, then the month's sales and the overdue ageing in DuckDB; equal numbers."""
    try:
        import duckdb
    except ImportError:
        print("duckdb is not installed: pip install '.[dev]'")
        return
    from vrop.analytics import sources
    from vrop.analytics.periods import Period, period_of
    from vrop.analytics.selectors.kpi import sales_day_and_period
    from vrop.integrations.exchange.exporter import export_path

    folder = Path(tempfile.mkdtemp(prefix="vrop-bench-export-"))
    started = time.perf_counter()
    export_path(folder)
    print(f"export for DuckDB: {time.perf_counter() - started:.1f} s ({folder})")
    month = period_of("month", today)
    to_date = Period(month.start, today)

    def ours():
        day, period = sales_day_and_period(viewer=owner, day=today, period=to_date)
        ageing = sources.receivables_ageing(viewer=owner, at=today)
        return period.revenue, period.gross_profit, ageing.total

    db = duckdb.connect()
    for name in ("shipments", "invoices", "payments"):
        db.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_csv_auto(?, header=true, all_varchar=true)",
            [str(folder / f"{name}.csv")],
        )
    sales_sql = """
        SELECT sum(CAST(amount AS DECIMAL(18,2))),
               sum(CAST(amount AS DECIMAL(18,2)) - CAST(cost AS DECIMAL(18,2)))
        FROM shipments WHERE CAST(shipped_on AS DATE) BETWEEN ? AND ?"""
    ageing_sql = """
        WITH paid AS (
            SELECT invoice_id, sum(CAST(amount AS DECIMAL(18,2))) AS paid
            FROM payments WHERE CAST(paid_on AS DATE) <= ? GROUP BY invoice_id)
        SELECT sum(CAST(i.amount AS DECIMAL(18,2)) - coalesce(p.paid, 0))
        FROM invoices i LEFT JOIN paid p ON p.invoice_id = i.id
        WHERE CAST(i.due_on AS DATE) < ?
          AND CAST(i.amount AS DECIMAL(18,2)) - coalesce(p.paid, 0) > 0"""

    def theirs():
        revenue, gross_profit = db.execute(sales_sql, [month.start, today]).fetchone()
        (overdue,) = db.execute(ageing_sql, [today, today]).fetchone()
        return revenue, gross_profit, overdue

    print(f"ours:   revenue, gross profit, overdue = {ours()}")
    print(f"duckdb: revenue, gross profit, overdue = {theirs()}")
    our_p50, _ = _timed("the same aggregates in the app's database", ours, REPEAT)
    duck_p50, _ = _timed("the same aggregates in DuckDB on the export", theirs, REPEAT)
    print(f"ratio app / DuckDB (p50): {our_p50 / max(duck_p50, 0.001):.1f}×")


def run(scale=None, quick=False):
    from vrop.accounts.models import User
    from vrop.analytics.periods import period_of
    from vrop.analytics.reports import report_build, report_pdf
    from vrop.analytics.selectors.dashboards import owner_dashboard
    from vrop.analytics.selectors.funnel import funnel
    from vrop.analytics.selectors.kpi import kpi
    from vrop.crm.models import Deal
    from vrop.planning.forecast import forecast
    from vrop.planning.services import forecast_snapshot_take

    scale = 1 if quick else (scale or 1)
    _ensure_demo(scale, quick)
    owner = User.objects.filter(role="owner", is_active=True).order_by("pk").first()
    today = timezone.localdate()
    month = period_of("month", today)
    repeat = 3 if quick else REPEAT
    print(f"{connection.vendor}: {Deal.objects.count()} deals, today {today}")

    started = time.perf_counter()
    forecast_snapshot_take(on=today)
    print(f"daily forecast snapshot: {time.perf_counter() - started:.1f} s")
    _timed("owner dashboard", lambda: owner_dashboard(viewer=owner), repeat)
    _timed("kpi, month", lambda: kpi(viewer=owner, period=month), repeat)
    _timed("funnel, month", lambda: funnel(viewer=owner, period=month), max(repeat // 3, 2))
    _timed("forecast", lambda: forecast(viewer=owner), max(repeat // 3, 2))
    _timed(
        "monthly report, PDF",
        lambda: report_pdf(report_build(viewer=owner, kind="month")),
        2 if not quick else 1,
    )
    _duckdb_compare(owner, today)
