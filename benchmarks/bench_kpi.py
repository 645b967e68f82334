"""The numbers at scale: the owner's dashboard, /api/v1/kpi, the funnel, the forecast and
the monthly PDF report, against the demo company of the configured database; and the
same money aggregates computed by DuckDB on the exported data, with the ratio.

    VROP_DATA_DIR=/tmp/vrop-bench vrop bench kpi --scale 5
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/anal_bench vrop bench kpi --scale 5

Against an existing company (e.g. the shared scale-50 database) it writes NOTHING: the
connection is read-only (PostgreSQL ``default_transaction_read_only``, SQLite
``query_only``), the API calls go through a signed-cookie session, and the daily forecast
snapshot is not taken:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench50 VROP_DATA_DIR=/tmp/b50 \
        vrop bench kpi
    VROP_DATA_DIR=/tmp/s50 vrop bench kpi

Environment: ``VROP_BENCH_DATE`` the day to measure (today by default; the month to date
ends there); ``VROP_BENCH_EXPORT`` a folder with an earlier ``vrop export`` to reuse for
DuckDB (exporting a million deals takes minutes); ``VROP_BENCH_DUCKDB=0`` to skip DuckDB.

Without a demo company in the database it generates one (``--scale``, 12 months of
history; ``--quick``: scale 1 and one month, under a minute). Prints p50 and p95 of
repeated calls (after one warm-up) with the number of SQL queries of each.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from contextlib import nullcontext
from datetime import date
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
    print(
        f"{label}: p50 {p50:.0f} ms, p95 {p95:.0f} ms, {queries} queries ({repeat} runs)",
        flush=True,
    )
    return p50, p95


def _get(client, url: str):
    def call():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        return response

    return call


def _ensure_demo(scale: int, quick: bool) -> bool:
    """Generate the demo unless a company exists; True when it existed (read-only run)."""
    from django.core.management import call_command

    from vrop.demo.generator import demo_exists, generate_demo

    if "accounts_user" not in connection.introspection.table_names():  # a new data directory
        call_command("migrate", interactive=False, verbosity=0)
    if demo_exists():
        return True
    started = time.perf_counter()
    counts = generate_demo(seed=1, scale=scale, months=1 if quick else 12)
    print(f"generated the demo (scale {scale}) in {time.perf_counter() - started:.0f} s: {counts}")
    if connection.vendor == "postgresql":
        # Fresh statistics after a bulk load (autovacuum would do it a little later):
        # without them the planner picks nested loops for the funnel's subqueries.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return False


def _export_folder() -> Path:
    given = os.environ.get("VROP_BENCH_EXPORT")
    if given and (Path(given) / "shipments.csv").exists():
        print(f"export for DuckDB: reusing {given}", flush=True)
        return Path(given)
    from vrop.integrations.exchange.exporter import export_path

    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="vrop-bench-export-"))
    started = time.perf_counter()
    export_path(folder)
    print(f"export for DuckDB: {time.perf_counter() - started:.1f} s ({folder})", flush=True)
    return folder


def _duckdb_compare(owner, today: date) -> None:
    """The month's sales and the overdue ageing in DuckDB on the export; equal numbers."""
    try:
        import duckdb
    except ImportError:
        print("duckdb is not installed: pip install '.[dev]'")
        return
    from vrop.analytics import sources
    from vrop.analytics.periods import Period, period_of
    from vrop.analytics.selectors.kpi import sales_day_and_period

    folder = _export_folder()
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
    print(f"ratio app / DuckDB (p50): {our_p50 / max(duck_p50, 0.001):.1f}×", flush=True)


def run(scale=None, quick=False):
    from vrop.accounts.models import User
    from vrop.analytics.periods import Period, period_of
    from vrop.analytics.reports import report_build, report_pdf
    from vrop.analytics.selectors.dashboards import owner_dashboard
    from vrop.analytics.selectors.funnel import funnel
    from vrop.analytics.selectors.kpi import kpi
    from vrop.crm.models import Deal
    from vrop.planning import forecast as forecast_module
    from vrop.planning.forecast import forecast, stage_odds
    from vrop.planning.models import ForecastSnapshot
    from vrop.planning.services import forecast_snapshot_take

    scale = 1 if quick else (scale or 1)
    existing = _ensure_demo(scale, quick)
    owner = User.objects.filter(role="owner", is_active=True).order_by("pk").first()
    given = os.environ.get("VROP_BENCH_DATE")
    today = date.fromisoformat(given) if given else timezone.localdate()
    month = period_of("month", today)
    to_date = Period(month.start, today)
    repeat = 3 if quick else REPEAT
    print(
        f"{connection.vendor} {connection.settings_dict.get('NAME')}: "
        f"{Deal.objects.count()} deals, day {today}; "
        f"{'existing company, read-only' if existing else 'generated'}",
        flush=True,
    )
    if not existing:
        started = time.perf_counter()
        forecast_snapshot_take(on=today)
        print(f"daily forecast snapshot: {time.perf_counter() - started:.1f} s", flush=True)
    from benchmarks.bench_today import logged_in_client, read_only

    with read_only() if existing else nullcontext():
        _timed(
            "owner dashboard (selector)", lambda: owner_dashboard(viewer=owner, day=today), repeat
        )
        _timed("kpi, month to date (selector)", lambda: kpi(viewer=owner, period=to_date), repeat)
        client = logged_in_client(owner)
        _timed(
            "GET /api/v1/dashboard/owner",
            _get(client, f"/api/v1/dashboard/owner?date={today}"),
            repeat,
        )
        _timed(
            "GET /api/v1/kpi (month to date)",
            _get(client, f"/api/v1/kpi?from={month.start}&to={today}"),
            repeat,
        )
        slow = max(repeat // 3, 2)
        _timed("funnel, month", lambda: funnel(viewer=owner, period=month, as_of=today), slow)
        _timed("forecast", lambda: forecast(viewer=owner), slow)
        pdf = lambda: report_pdf(report_build(viewer=owner, kind="month", day=today))  # noqa: E731
        _timed("monthly report, PDF", pdf, 2 if not quick else 1)
        if existing and not ForecastSnapshot.objects.exists():
            # A read-only run cannot take the daily snapshots, so the forecast computes the
            # stage rates on every call; in production each day's snapshot keeps them. Held
            # here per day as a snapshot would (computed once, in the warm-up call).
            started = time.perf_counter()
            stage_odds(at=today, fresh=True)
            print(
                f"the day's stage rates (what the daily snapshot keeps): "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            kept: dict = {}

            def from_snapshot(at):
                if at not in kept:
                    kept[at] = stage_odds(at=at, fresh=True)
                return kept[at]

            original = forecast_module._odds_from_snapshot
            forecast_module._odds_from_snapshot = from_snapshot
            try:
                _timed("forecast, with the day's rates kept", lambda: forecast(viewer=owner), slow)
                _timed("monthly report, PDF, with the rates kept", pdf, 2)
            finally:
                forecast_module._odds_from_snapshot = original
        if os.environ.get("VROP_BENCH_DUCKDB", "1") != "0":
            _duckdb_compare(owner, today)
