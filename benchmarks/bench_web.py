"""Web pages over many deals: the deal list (first page, a page deep in the list, filters,
search), a manager's list and the deal page, timed through Django's test client.

Runs in a child process with its own database, so that the operator's data is never
touched: SQLite in a fresh temporary data directory, or PostgreSQL in the ``web_bench``
database (created if absent; ``VROP_BENCH_DATABASE_URL`` overrides it).

    vrop bench web --quick      2,000 deals, SQLite (a few seconds)
    vrop bench web              1,000,000 deals on SQLite and 200,000 on PostgreSQL
    vrop bench web --scale 3    300,000 deals on both
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PG_URL = os.environ.get("VROP_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/web_bench")
TIMEOUT_S = 30 * 60

CHILD = r"""
import json, random, statistics, sys, time, datetime as dt
from decimal import Decimal
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from vrop.accounts.models import User
from vrop.crm import services
from vrop.crm.models import Client as Customer, Deal, Product, Task
from vrop.core.validators import make_inn
from vrop.web.pagination import encode_cursor

n = int(sys.argv[1])
rng = random.Random(7)
started = time.perf_counter()
owner = User.objects.create(username="owner@bench", email="owner@bench", role="owner")
managers = [
    User.objects.create(username=f"m{i}@bench", email=f"m{i}@bench", role="manager",
                        first_name=f"Менеджер{i}")
    for i in range(20)
]
customers = Customer.objects.bulk_create(
    Customer(name=f"ООО «Металл-{i}»", inn=make_inn(f"77{i:07d}"), manager=managers[i % 20])
    for i in range(max(n // 100, 10))
)
product = Product.objects.create(name="Арматура А500С", cost_price=50000, list_price=56000)
now = timezone.now()
stages = ["lead", "contact", "quote", "won", "lost"]
batch = []
for i in range(n):
    customer = customers[rng.randrange(len(customers))]
    amount = Decimal(rng.randrange(10_000, 2_000_000))
    received = now - dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 730))
    batch.append(Deal(
        title=f"Сделка {i}", client=customer, manager=customer.manager, channel="phone",
        received_at=received, stage_changed_at=received, stage=stages[rng.randrange(5)],
        amount=amount, cost_amount=amount * Decimal("0.9"), list_amount=amount,
    ))
    if len(batch) == 10_000:
        Deal.objects.bulk_create(batch); batch = []
Deal.objects.bulk_create(batch)
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
load_s = time.perf_counter() - started
deal = services.deal_create(
    actor=managers[0], client=customers[0], title="Подробная",
    lines=[services.LineInput(product=product, qty=Decimal(q)) for q in (1, 2, 3, 4, 5)],
    next_step_title="Позвонить", next_step_due_at=now + dt.timedelta(days=1),
)

def timed(client, path, params=None, repeat=5):
    times, count_sql = [], False
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            t = time.perf_counter()
            response = client.get(path, params or {})
            times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        count_sql = count_sql or any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    return {"median_ms": round(statistics.median(times), 1), "queries": len(queries.captured_queries),
            "count_sql": count_sql}

web = Client(); web.force_login(owner)
middle = Deal.objects.order_by("-received_at", "-id")[n // 2]
results = {
    "deals": n, "load_s": round(load_s, 1), "database": connection.vendor,
    "first page (owner)": timed(web, "/crm/deals/"),
    "page in the middle": timed(web, "/crm/deals/", {"after": encode_cursor(middle, ["-received_at", "-id"])}),
    "open deals of a manager": timed(web, "/crm/deals/", {"state": "open", "manager": managers[3].pk}),
    "stage won": timed(web, "/crm/deals/", {"stage": "won"}),
    "search by INN": timed(web, "/crm/deals/", {"q": customers[5].inn}),
    "search by text": timed(web, "/crm/deals/", {"q": "Металл-42»"}, repeat=3),
    "client list": timed(web, "/crm/clients/"),
    "deal page": timed(web, f"/crm/deals/{deal.pk}/"),
}
mine = Client(); mine.force_login(managers[3])
results["first page (manager)"] = timed(mine, "/crm/deals/")
print("RESULT " + json.dumps(results, ensure_ascii=False))
"""


def _ensure_pg_database(url: str) -> bool:
    import dj_database_url
    import psycopg

    params = dj_database_url.parse(url)
    try:
        with psycopg.connect(
            host=params["HOST"] or "127.0.0.1",
            port=params["PORT"] or 5432,
            user=params["USER"],
            password=params["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{params["NAME"]}"')
            conn.execute(f'CREATE DATABASE "{params["NAME"]}"')
    except Exception as error:  # noqa: BLE001 - reported, the SQLite figures still stand
        print(f"  PostgreSQL at {url} is not reachable: {error}")
        return False
    return True


def _measure(database: str, deals: int) -> dict | None:
    env = os.environ.copy()
    env["DJANGO_SETTINGS_MODULE"] = "vrop.settings"
    env["VROP_AXES_DISABLED"] = "1"
    env.pop("REDIS_URL", None)
    env["VROP_DATA_DIR"] = tempfile.mkdtemp(prefix="vrop-bench-web-")
    if database == "postgresql":
        if not _ensure_pg_database(PG_URL):
            return None
        env["DATABASE_URL"] = PG_URL
    else:
        env.pop("DATABASE_URL", None)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH", "")]))
    try:
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(deals)],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    finally:
        shutil.rmtree(env["VROP_DATA_DIR"], ignore_errors=True)
    for line in result.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    print(f"  {database}: failed\n{result.stderr[-3000:]}")
    return None


def _print(figures: dict) -> None:
    print(
        f"  {figures['database']}: {figures['deals']:,} deals loaded in {figures['load_s']} s".replace(
            ",", " "
        )
    )
    for name, value in figures.items():
        if isinstance(value, dict):
            flag = "  COUNT(*) used!" if value["count_sql"] else ""
            print(f"    {name:<26} {value['median_ms']:>8} ms  {value['queries']:>2} queries{flag}")


def run(scale=None, quick=False):
    if quick:
        plans = [("sqlite", 2_000)]
    elif scale:
        plans = [("sqlite", 100_000 * scale), ("postgresql", 100_000 * scale)]
    else:
        plans = [("sqlite", 1_000_000), ("postgresql", 200_000)]
    failed = False
    for database, deals in plans:
        figures = _measure(database, deals)
        if figures is None:
            failed = failed or database == "sqlite"
            continue
        _print(figures)
        failed = failed or any(isinstance(v, dict) and v["count_sql"] for v in figures.values())
    if failed:
        raise RuntimeError("the web benchmark failed (see above)")
