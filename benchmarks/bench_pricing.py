"""Price discipline at scale: evaluating a 50-line deal, and "who kills the margin" over
won deals, against the configured database.

    VROP_DATA_DIR=/tmp/vrop-price vrop bench pricing --quick
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/price_bench vrop bench pricing

Loads N synthetic won deals with 3 lines each by SQL (``INSERT ... SELECT`` over a
recursive counter; 20 managers, one of whom gives 8 % off, 200 clients, 30 products in
5 categories, closing dates spread over two years) unless the database holds them
already; ``--scale S`` loads S × 100 000 deals (default: 1 000 000 on PostgreSQL), and
``--quick`` 2 000. Then prints p50 / p95 of the margin report for a quarter and for a
year (by manager, category and client) and of evaluating a 50-line deal.
"""

from __future__ import annotations

import json
import statistics
import time
from decimal import Decimal

from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

MARKER = "bench_pricing"
MANAGERS = 20
# The deals' denormalised totals, as ``crm.services.deal_recalculate`` keeps them.
TOTALS_SQL = """
UPDATE crm_deal SET amount = t.amount, cost_amount = t.cost, list_amount = t.listed,
    volume = t.volume
FROM (SELECT l.deal_id, SUM(l.qty * l.price) AS amount, SUM(l.qty * l.cost_price) AS cost,
             SUM(l.qty * l.list_price) AS listed, SUM(l.qty) AS volume
      FROM crm_dealline l JOIN crm_deal d ON d.id = l.deal_id
      WHERE d.source = '{marker}' GROUP BY l.deal_id) AS t
WHERE crm_deal.id = t.deal_id
"""


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(int(round(0.95 * len(ordered))) - 1, 0)]


def _timed(label: str, function, repeat: int) -> tuple[float, float]:
    function()
    timings, queries = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            function()
        timings.append((time.perf_counter() - started) * 1000)
        queries = len(captured)
    p50, p95 = statistics.median(timings), _p95(timings)
    print(f"{label}: p50 {p50:.2f} ms, p95 {p95:.2f} ms, {queries} queries ({repeat} runs)")
    return p50, p95


def _literal(field):
    default = field.get_default()
    if isinstance(default, (dict, list)):
        return "'" + json.dumps(default) + "'"
    if isinstance(default, bool):
        return "TRUE" if default else "FALSE"
    if isinstance(default, (int, Decimal)):
        return str(default)
    if default is None:
        return "NULL"
    return "'" + str(default).replace("'", "''") + "'"


def _insert_select(model, overrides: dict, source: str) -> str:
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in overrides:
            values.append(overrides[field.attname])
        elif field.null and not field.has_default():
            values.append("NULL")
        else:
            values.append(_literal(field))
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} {source}"


def _load(deals: int) -> None:
    from tests.factories import ClientFactory, ManagerFactory, ProductFactory
    from vrop.crm.models import Client, Deal, DealLine, Product
    from vrop.pricing.services import margin_days_refresh

    started = time.perf_counter()
    with transaction.atomic():
        managers = [ManagerFactory(email=f"price-bench-{n}@example.com") for n in range(MANAGERS)]
        clients = [ClientFactory(manager=managers[n % MANAGERS], source=MARKER) for n in range(200)]
        for n in range(30):
            ProductFactory(
                name=f"Bench {n}",
                category=f"category {n % 5}",
                list_price=Decimal(50000 + 1000 * n),
                cost_price=Decimal(45000 + 900 * n),
            )
    first_manager, first_client = managers[0].pk, clients[0].pk
    assert [m.pk for m in managers] == list(range(first_manager, first_manager + MANAGERS))
    assert [c.pk for c in clients] == list(range(first_client, first_client + 200))
    products = list(Product.objects.filter(name__startswith="Bench ").order_by("pk"))
    first_product = products[0].pk
    assert [p.pk for p in products] == list(range(first_product, first_product + 30))
    postgres = connection.vendor == "postgresql"
    if postgres:
        moment = "(now() - (i % 730) * interval '1 day')"
    else:
        moment = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (i % 730) || ' days')"
    counter = (
        f"FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {deals})"
        " SELECT i FROM n) AS counter"
    )
    deal_sql = _insert_select(
        Deal,
        {
            "title": "'bench'",
            "client_id": f"{first_client} + (i % 200)",
            "manager_id": f"{first_manager} + (i % 200) % {MANAGERS}",
            "received_at": moment,
            "stage": "'won'",
            "stage_changed_at": moment,
            "closed_at": moment,
            "source": f"'{MARKER}'",
            "external_id": "CAST(i AS VARCHAR(20))" if postgres else "CAST(i AS TEXT)",
            "created_at": moment,
            "updated_at": moment,
        },
        counter,
    )
    # Manager 0 gives 8 % off list; the others 0, 1 or 2 %.
    discount = f"(CASE WHEN d.manager_id = {first_manager} THEN 8 ELSE (d.id + k) % 3 END)"
    product = f"{first_product} + (d.id * 7 + k * 11) % 30"
    list_price = f"(50000 + 1000 * (({product}) - {first_product}))"
    lines_source = (
        "FROM crm_deal d CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) AS ks "
        f"WHERE d.source = '{MARKER}'"
    )
    line_sql = _insert_select(
        DealLine,
        {
            "deal_id": "d.id",
            "product_id": product,
            "qty": "1 + (d.id + k) % 20",
            "list_price": list_price,
            "price": f"{list_price} * (100 - {discount}) / 100",
            "cost_price": f"(45000 + 900 * (({product}) - {first_product}))",
            "position": "k",
        },
        lines_source,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(deal_sql)
        cursor.execute(line_sql)
        cursor.execute(TOTALS_SQL.format(marker=MARKER))
    summary_started = time.perf_counter()
    margin_days_refresh(Deal.objects.filter(source=MARKER))
    print(f"margin summary filled in {time.perf_counter() - summary_started:.1f} s")
    with connection.cursor() as cursor:
        # PostgreSQL: the visibility map too, for the report's index-only counts
        cursor.execute("VACUUM ANALYZE" if postgres else "ANALYZE")
    print(
        f"loaded {Deal.objects.filter(source=MARKER).count()} won deals, "
        f"{DealLine.objects.filter(deal__source=MARKER).count()} lines, "
        f"{Client.objects.filter(source=MARKER).count()} clients "
        f"in {time.perf_counter() - started:.0f} s"
    )


def _evaluate_50_lines(owner) -> None:
    from tests.factories import ClientFactory
    from vrop.core.policy import company_settings_cached
    from vrop.crm.models import Product
    from vrop.crm.services import LineInput, deal_create
    from vrop.pricing.rules import approval_level_required
    from vrop.pricing.services import deal_priced_lines_and_policy, deal_pricing_evaluate

    products = list(Product.objects.filter(name__startswith="Bench ").order_by("pk"))
    lines = [
        LineInput(product=products[n % 30], qty=Decimal(1 + n), price=products[n % 30].list_price)
        for n in range(50)
    ]
    deal = deal_create(
        actor=owner,
        client=ClientFactory(manager=owner),
        lines=lines,
        next_step_title="bench",
        next_step_due_at=timezone.now() + timezone.timedelta(days=1),
    )
    priced, policy = deal_priced_lines_and_policy(deal)
    _timed("evaluate 50 lines, pure rule", lambda: approval_level_required(priced, policy), 200)

    def evaluate():
        return deal_pricing_evaluate(deal)

    _timed("evaluate 50 lines, with the reads", evaluate, 200)
    with company_settings_cached():  # as a page or request that reads the settings once
        _timed("evaluate 50 lines, settings read once per request", evaluate, 200)


def run(scale=None, quick=False):
    from tests.factories import OwnerFactory
    from vrop.crm.models import Deal
    from vrop.pricing.selectors import margin_report

    call_command("migrate", verbosity=0)
    deals = 2_000 if quick else int(scale * 100_000) if scale else 1_000_000
    print(f"database: {connection.vendor}; machine: see docs/benchmarks.md")
    if not Deal.objects.filter(source=MARKER).exists():
        _load(deals)
    stamp = time.time_ns()
    owner = OwnerFactory(email=f"price-bench-owner-{stamp}@example.com", username=f"pb{stamp}")
    today = timezone.localdate()
    repeat = 5 if quick else 15
    for label, days in (("quarter", 91), ("year", 365)):
        start = today - timezone.timedelta(days=days)
        for by in ("manager", "category", "client"):
            rows = []

            def report(start=start, by=by, rows=rows):
                rows[:] = margin_report(viewer=owner, start=start, end=today, by=by)

            _timed(f"margin report, a {label} by {by}", report, repeat)
        top = margin_report(viewer=owner, start=start, end=today, by="manager")[0]
        print(f"  top of the {label}: {top['name']} at {top['discount_pct']} % off list")
    _evaluate_50_lines(owner)
