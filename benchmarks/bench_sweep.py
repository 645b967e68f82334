"""The discipline sweep: full (every deal and request) and incremental (after one change).

Runs against the configured database (``DATABASE_URL`` or the SQLite data directory):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/copy50 VROP_BENCH_WRITES=1 vrop bench sweep
    VROP_DATA_DIR=/tmp/s50 VROP_BENCH_WRITES=1 vrop bench sweep

With no deals there, it first creates the demo company at ``--scale`` (with
``--quick``: a tiny synthetic department of 2 000 deals). A full sweep WRITES (it opens
and closes alerts and queues nudges), so against a database that already holds a
company it runs only with ``VROP_BENCH_WRITES=1``: use your own copy, never a shared
read-only one. The incremental runs are rolled back one by one (the next step set and
the sweep after it), so they leave the deals as they were.

Prints: deals, open deals, open alerts before; the first full sweep (on a company without
alerts it opens them all), a steady full sweep (nothing changed), and the incremental
sweep after a next step is set on one deal (median and p95 of several runs).
"""

from __future__ import annotations

import os
import statistics
import time

from django.db import connection, transaction
from django.utils import timezone


def _tiny_data(deals: int = 2000) -> None:
    """A small synthetic department for ``--quick`` (bulk inserts, a few seconds)."""
    import random
    from datetime import timedelta
    from decimal import Decimal

    from vrop.accounts.models import User
    from vrop.crm.models import Client, Deal, Request, Task

    rng = random.Random(1)
    now = timezone.now()
    managers = [
        User.objects.create(
            username=f"bench{n}@example.com",
            email=f"bench{n}@example.com",
            first_name="Менеджер",
            last_name=str(n),
            role="manager",
        )
        for n in range(5)
    ]
    User.objects.create(
        username="bench-head@example.com",
        email="bench-head@example.com",
        first_name="РОП",
        last_name="Бенч",
        role="head",
    )
    clients = Client.objects.bulk_create(
        Client(name=f"ООО «Бенч {n}»", manager=managers[n % 5]) for n in range(200)
    )
    rows = []
    for n in range(deals):
        client = clients[n % 200]
        received = now - timedelta(hours=rng.randint(0, 24 * 60))
        stage = rng.choice(["lead", "contact", "quote", "won", "lost", "won", "lost"])
        rows.append(
            Deal(
                title=f"Сделка {n}",
                client=client,
                manager=client.manager,
                received_at=received,
                stage=stage,
                stage_changed_at=received,
                amount=Decimal(rng.randint(10_000, 2_000_000)),
                next_step_at=None if rng.random() < 0.2 else now + timedelta(days=1),
                first_contact_at=received + timedelta(minutes=rng.randint(1, 90)),
            )
        )
    created = Deal.objects.bulk_create(rows, batch_size=1000)
    Task.objects.bulk_create(
        (
            Task(
                deal=deal,
                client=deal.client,
                manager=deal.manager,
                title="Позвонить",
                due_at=deal.next_step_at or now - timedelta(days=2),
            )
            for deal in created
        ),
        batch_size=1000,
    )
    Request.objects.bulk_create(
        Request(
            received_at=now - timedelta(minutes=rng.randint(1, 600)),
            phone="+79000000000",
            manager=managers[n % 5] if n % 4 else None,
        )
        for n in range(300)
    )
    print(f"tiny synthetic data: {deals} deals", flush=True)


def _ensure_data(scale: int, quick: bool = False) -> None:
    from vrop.crm.models import Deal

    if Deal.objects.exists():
        return
    if quick:
        _tiny_data()
        return
    from vrop.demo.generator import generate_demo

    started = time.monotonic()
    generate_demo(seed=1, scale=scale, reset=False)
    print(f"demo generated at scale {scale} in {time.monotonic() - started:.1f} s", flush=True)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(int(round(0.95 * len(ordered))) - 1, 0)]


def run(scale=None, quick=False):
    from django.urls import reverse

    from vrop.crm.choices import OPEN_STAGES
    from vrop.crm.models import Deal, Request
    from vrop.discipline import services
    from vrop.discipline.models import Alert
    from vrop.discipline.services import next_step_set
    from vrop.discipline.worktime import ensure_calendar

    if Deal.objects.exists() and os.environ.get("VROP_BENCH_WRITES") != "1":
        print(
            "skipped: the database already holds a company and a full sweep writes to it; "
            "set VROP_BENCH_WRITES=1 to run against it (your own copy only)",
            flush=True,
        )
        return
    _ensure_data(scale or 1, quick)
    ensure_calendar()
    reverse("today")  # load the URLconf once (the nudges link to pages), as a worker has
    deals = Deal.objects.count()
    open_deals = Deal.objects.filter(stage__in=OPEN_STAGES).count()
    open_before = Alert.objects.filter(resolved_at__isnull=True).count()
    print(
        f"database: {connection.vendor} {connection.settings_dict.get('NAME')}; deals: {deals}; "
        f"open: {open_deals}; requests: {Request.objects.count()}; open alerts: {open_before}",
        flush=True,
    )
    first = services.sweep()
    label = "first" if open_before == 0 else "with alerts already open"
    print(
        f"full sweep, {label}: {first.seconds:.2f} s; opened {sum(first.opened.values())}, "
        f"escalated {first.escalated}, nudges {first.nudges}",
        flush=True,
    )
    steady = [services.sweep().seconds for _ in range(1 if quick else 3)]
    print(f"full sweep, steady: median {statistics.median(steady):.2f} s", flush=True)
    stalled = list(
        Deal.objects.filter(stage__in=OPEN_STAGES, alerts__resolved_at__isnull=True)
        .values_list("pk", flat=True)
        .distinct()[: 5 if quick else 20]
    )
    timings = []
    for deal_id in stalled:
        with transaction.atomic():
            deal = Deal.objects.get(pk=deal_id)
            due = timezone.now() + timezone.timedelta(days=1)
            next_step_set(actor=None, deal=deal, due_at=due, title="bench")
            timings.append(services.sweep(deal_ids=[deal_id]).seconds)
            transaction.set_rollback(True)  # leave the deal as it was
    if timings:
        print(
            f"incremental sweep after one change: median {statistics.median(timings) * 1000:.0f} ms,"
            f" p95 {_p95(timings) * 1000:.0f} ms over {len(timings)} deals",
            flush=True,
        )
    print(f"open alerts: {Alert.objects.filter(resolved_at__isnull=True).count()}", flush=True)
