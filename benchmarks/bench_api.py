"""The REST API over many deals: list pages (first, deep by offset, filtered, a manager's),
a page after the middle row by cursor, a deal with its lines, and writes (create a deal with lines and next step, replace
lines, change the stage), timed in process through Django's test client with a token.

Runs in a child process with its own database, so that the operator's data is never
touched: SQLite in a fresh temporary data directory, or PostgreSQL in the ``api_bench``
database (created if absent; ``VROP_BENCH_DATABASE_URL`` overrides it).

    vrop bench api --quick      2,000 deals, SQLite (a few seconds)
    vrop bench api              200,000 deals on SQLite and on PostgreSQL
    vrop bench api --scale 3    300,000 deals on both
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PG_URL = os.environ.get("VROP_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/api_bench")
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
from vrop.accounts.services import api_token_create
from vrop.core.policy import company_settings
from vrop.crm.models import Client as Customer, Deal, Product, Task
from vrop.core.validators import make_inn
from vrop.web.pagination import encode_cursor

n = int(sys.argv[1])
rng = random.Random(11)
started = time.perf_counter()
company_settings()
owner = User.objects.create(username="owner@bench", email="owner@bench", role="owner")
managers = [
    User.objects.create(username=f"m{i}@bench", email=f"m{i}@bench", role="manager")
    for i in range(20)
]
customers = Customer.objects.bulk_create(
    Customer(name=f"ООО «Металл-{i}»", inn=make_inn(f"77{i:07d}"), manager=managers[i % 20])
    for i in range(max(n // 100, 10))
)
products = Product.objects.bulk_create(
    Product(name=f"Арматура {i}", category="rebar", cost_price=50000, list_price=56000)
    for i in range(50)
)
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


def bearer(user):
    _token, key = api_token_create(user=user, name="bench")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    client.get("/api/v1/me")
    return client


def timed(call, repeat=5):
    times, count_sql, queries = [], False, 0
    for index in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            t = time.perf_counter()
            response = call(index)
            times.append((time.perf_counter() - t) * 1000)
        assert response.status_code in (200, 201), (response.status_code, response.content[:300])
        count_sql = count_sql or any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)
        queries = len(captured.captured_queries)
    return {"median_ms": round(statistics.median(times), 1), "queries": queries,
            "count_sql": count_sql}


api = bearer(owner)
mine = bearer(managers[0])
due = (now + dt.timedelta(days=2)).isoformat()
lines = [{"product_id": p.pk, "qty": "2.5"} for p in products[:3]]
created = []


def create(index):
    response = mine.post(
        "/api/v1/deals",
        {"client_id": customers[0].pk, "lines": lines, "next_step": {"due_at": due}},
        content_type="application/json",
    )
    created.append(response.json()["id"])
    return response


middle = encode_cursor(
    Deal.objects.order_by("-received_at", "-id")[n // 2], ["-received_at", "-id"]
)
results = {
    "deals": n, "load_s": round(load_s, 1), "database": connection.vendor,
    "list, first page": timed(lambda i: api.get("/api/v1/deals")),
    "list, offset 1 000": timed(lambda i: api.get("/api/v1/deals", {"offset": 1000})),
    "list, offset n/2": timed(lambda i: api.get("/api/v1/deals", {"offset": n // 2}), repeat=3),
    "list, after row n/2": timed(lambda i: api.get("/api/v1/deals", {"after": middle})),
    "list, stage won": timed(lambda i: api.get("/api/v1/deals", {"stage": "won"})),
    "list, a manager's": timed(lambda i: mine.get("/api/v1/deals")),
    "clients, first page": timed(lambda i: api.get("/api/v1/clients")),
    "create deal (3 lines)": timed(create),
}
deal_id = created[0]
results["deal with lines"] = timed(lambda i: api.get(f"/api/v1/deals/{deal_id}"))
results["replace lines"] = timed(lambda i: mine.put(
    f"/api/v1/deals/{deal_id}/lines",
    {"lines": [{"product_id": products[i].pk, "qty": str(i + 1)}]},
    content_type="application/json",
))
results["stage change"] = timed(lambda i: mine.post(
    f"/api/v1/deals/{created[i]}/stage", {"stage": "contact"}, content_type="application/json"
))
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
    env["VROP_DATA_DIR"] = tempfile.mkdtemp(prefix="vrop-bench-api-")
    if database == "postgresql":
        if not _ensure_pg_database(PG_URL):
            return None
        env["DATABASE_URL"] = PG_URL
    else:
        env.pop("DATABASE_URL", None)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(deals)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    for line in result.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    print(f"  {database}: failed\n{result.stderr[-3000:]}")
    return None


def _print(figures: dict) -> None:
    loaded = f"{figures['deals']:,}".replace(",", " ")
    print(f"  {figures['database']}: {loaded} deals loaded in {figures['load_s']} s")
    for name, value in figures.items():
        if isinstance(value, dict):
            flag = "  COUNT(*) used!" if value["count_sql"] else ""
            print(f"    {name:<24} {value['median_ms']:>8} ms  {value['queries']:>2} queries{flag}")


def run(scale=None, quick=False):
    if quick:
        plans = [("sqlite", 2_000)]
    elif scale:
        plans = [("sqlite", 100_000 * scale), ("postgresql", 100_000 * scale)]
    else:
        plans = [("sqlite", 200_000), ("postgresql", 200_000)]
    failed = False
    for database, deals in plans:
        figures = _measure(database, deals)
        if figures is None:
            failed = failed or database == "sqlite"
            continue
        _print(figures)
        failed = failed or any(isinstance(v, dict) and v["count_sql"] for v in figures.values())
    if failed:
        raise RuntimeError("the API benchmark failed (see above)")
