"""Receivables at scale: ageing and the overdue list over a million invoices, and matching
a bank statement of 10 000 rows.

Runs against the configured database (``DATABASE_URL``, or the SQLite data directory):
use a database of its own, e.g.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recv_bench vrop bench receivables

It adds its own data once, marked ``source="bench"`` (10 000 clients with INNs, 50
managers, ``1 000 000 × scale`` invoices over two years, ~10 % unpaid), and reuses it on
the next run. ``--quick``: 5 000 invoices and 1 000 statement rows (under a minute).

Prints p50 and p95 over repeated calls, as the owner sees them, of: the ageing total,
the ageing by manager and by client (the 100 largest, and all), the first page of the overdue list with actions,
the same for one manager; then the time to load and match the statement (a fresh
statement each run, against the bench invoices: ~70 % named invoice with INN, ~10 % INN
with the exact amount, ~10 % partial payments, ~10 % unknown payers).
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

SOURCE = "bench"
N_CLIENTS = 10_000
N_MANAGERS = 50
REPEAT = 30


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(int(round(0.95 * len(ordered))) - 1, 0)]


def _timed(label: str, function, repeat: int) -> None:
    function()  # warm the cache and the plan
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    print(
        f"{label}: p50 {statistics.median(timings):.0f} ms, p95 {_p95(timings):.0f} ms "
        f"({repeat} runs)",
        flush=True,
    )


def _inn(n: int) -> str:
    from vrop.core.validators import make_inn

    return make_inn(f"99{n:07d}")


def _ensure_people() -> tuple[list[int], list[int]]:
    from vrop.accounts.choices import Role
    from vrop.accounts.models import User
    from vrop.crm.models import Client

    managers = list(User.objects.filter(source=SOURCE).order_by("pk").values_list("pk", flat=True))
    if not managers:
        User.objects.bulk_create(
            User(
                username=f"bench-manager-{n}@example.com",
                email=f"bench-manager-{n}@example.com",
                role=Role.MANAGER,
                source=SOURCE,
                external_id=f"m{n}",
            )
            for n in range(N_MANAGERS)
        )
        managers = list(
            User.objects.filter(source=SOURCE).order_by("pk").values_list("pk", flat=True)
        )
    clients = list(Client.objects.filter(source=SOURCE).order_by("pk").values_list("pk", flat=True))
    if not clients:
        Client.objects.bulk_create(
            (
                Client(
                    name=f"Bench client {n}",
                    inn=_inn(n),
                    manager_id=managers[n % len(managers)],
                    payment_terms_days=14,
                    credit_limit=Decimal("5000000"),
                    source=SOURCE,
                    external_id=f"c{n}",
                )
                for n in range(N_CLIENTS)
            ),
            batch_size=2000,
        )
        clients = list(
            Client.objects.filter(source=SOURCE).order_by("pk").values_list("pk", flat=True)
        )
    return managers, clients


def _insert_invoices_postgresql(count: int, clients: list[int], managers: list[int]) -> None:
    from vrop.crm.models import Client

    client_manager = dict(Client.objects.filter(pk__in=clients).values_list("pk", "manager_id"))
    manager_of = [client_manager[pk] for pk in clients]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH base AS (
                SELECT g,
                       (%(today)s::date - (random() * 730)::int) AS issued,
                       round((1000 + random() * 999000)::numeric, 2) AS amount,
                       random() AS r,
                       (random() * 45)::int AS lag
                FROM generate_series(1, %(n)s) AS g
            )
            INSERT INTO receivables_invoice (
                created_at, updated_at, source, external_id, extra, number, issued_on, due_on,
                amount, paid_amount, paid_on, client_id, deal_id, manager_id
            )
            SELECT now(), now(), 'bench', 'i' || g, '{}', 'B-' || g, issued, issued + 14,
                   amount,
                   CASE WHEN r < 0.9 AND issued + lag <= %(today)s::date THEN amount
                        WHEN r > 0.97 THEN round(amount * 0.3, 2) ELSE 0 END,
                   CASE WHEN r < 0.9 AND issued + lag <= %(today)s::date THEN issued + lag END,
                   (%(clients)s::bigint[])[1 + (g %% %(nc)s)],
                   NULL,
                   (%(managers)s::bigint[])[1 + (g %% %(nc)s)]
            FROM base
            """,
            {
                "today": timezone.localdate(),
                "n": count,
                "clients": clients,
                "managers": manager_of,
                "nc": len(clients),
            },
        )
    if not connection.in_atomic_block:  # VACUUM cannot run in a transaction
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE receivables_invoice")


def _insert_invoices_python(count: int, clients: list[int], managers: list[int]) -> None:
    from vrop.crm.models import Client
    from vrop.receivables.models import Invoice

    manager_of = dict(Client.objects.filter(pk__in=clients).values_list("pk", "manager_id"))
    today = timezone.localdate()
    rng = random.Random(1)
    batch = []
    for g in range(1, count + 1):
        issued = today - timedelta(days=rng.randint(0, 730))
        amount = Decimal(rng.randint(100000, 100000000)) / 100
        r, lag = rng.random(), rng.randint(0, 45)
        paid = r < 0.9 and issued + timedelta(days=lag) <= today
        client = clients[g % len(clients)]
        batch.append(
            Invoice(
                source=SOURCE,
                external_id=f"i{g}",
                number=f"B-{g}",
                issued_on=issued,
                due_on=issued + timedelta(days=14),
                amount=amount,
                paid_amount=amount if paid else Decimal("0"),
                paid_on=issued + timedelta(days=lag) if paid else None,
                client_id=client,
                manager_id=manager_of[client],
            )
        )
        if len(batch) == 5000:
            Invoice.objects.bulk_create(batch)
            batch = []
    if batch:
        Invoice.objects.bulk_create(batch)


def _ensure_invoices(count: int) -> None:
    from vrop.receivables.models import Invoice

    managers, clients = _ensure_people()
    existing = Invoice.objects.filter(source=SOURCE).count()
    if existing == count:
        return
    if existing:
        from vrop.receivables.models import Payment, PaymentImportRow

        PaymentImportRow.objects.filter(invoice__source=SOURCE).update(invoice=None)
        Payment.objects.filter(invoice__source=SOURCE).delete()
        Invoice.objects.filter(source=SOURCE).delete()
    started = time.monotonic()
    if connection.vendor == "postgresql":
        _insert_invoices_postgresql(count, clients, managers)
    else:
        with transaction.atomic():
            _insert_invoices_python(count, clients, managers)
    print(f"bench invoices created: {count} in {time.monotonic() - started:.1f} s", flush=True)


def _statement(rows: int, seed: int) -> bytes:
    """A CSV statement against the bench's unpaid invoices."""
    from vrop.receivables.models import Invoice

    rng = random.Random(seed)
    unpaid = list(
        Invoice.objects.filter(source=SOURCE, paid_on__isnull=True, paid_amount=0)
        .order_by("?")
        .values_list("number", "client__inn", "amount")[:rows]
    )
    if not unpaid:  # every bench invoice paid by earlier runs: any unpaid one will do
        unpaid = list(
            Invoice.objects.filter(source=SOURCE, paid_on__isnull=True)
            .annotate(rest=F("amount") - F("paid_amount"))
            .order_by("?")
            .values_list("number", "client__inn", "rest")[:rows]
        )
    day = timezone.localdate().strftime("%d.%m.%Y")
    lines = ["Дата;Номер;Сумма;ИНН плательщика;Плательщик;Назначение платежа"]
    for n in range(rows):
        number, inn, amount = unpaid[n % len(unpaid)]
        kind = rng.random()
        if kind < 0.7:
            purpose, paid = f"Оплата по счету № {number} от 01.11.2026, в т.ч. НДС 20%", amount
        elif kind < 0.8:
            purpose, paid = "Оплата по договору поставки", amount
        elif kind < 0.9:
            purpose, paid = f"Частичная оплата сч. {number}", (amount / 3).quantize(Decimal("0.01"))
        else:
            purpose, paid, inn = "Перевод средств", Decimal("1234.56"), _inn(900000 + n)
        text = f"{paid:.2f}".replace(".", ",")
        lines.append(f"{day};{seed}-{n};{text};{inn};Клиент;{purpose}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def run(scale=None, quick=False):
    from vrop.accounts.choices import Role
    from vrop.accounts.models import User
    from vrop.receivables import selectors
    from vrop.receivables.services import payment_import_load

    count = 5_000 if quick else 1_000_000 * (scale or 1)
    rows = 1_000 if quick else 10_000
    repeat = 5 if quick else REPEAT
    _ensure_invoices(count)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:  # as autovacuum leaves it after the last run
            cursor.execute("VACUUM ANALYZE receivables_invoice")
            cursor.execute("VACUUM ANALYZE receivables_payment")
    viewer = User.objects.filter(role=Role.OWNER, is_active=True).first()
    if viewer is None:
        viewer = User.objects.create(
            username="bench-owner@example.com",
            email="bench-owner@example.com",
            role=Role.OWNER,
            source=SOURCE,
            external_id="owner",
        )
    from vrop.receivables.models import Invoice

    print(
        f"database: {connection.vendor}; invoices: {Invoice.objects.count()}; unpaid: "
        f"{Invoice.objects.filter(paid_on__isnull=True).count()}",
        flush=True,
    )
    today = timezone.localdate()
    manager_id = Invoice.objects.filter(source=SOURCE).values_list("manager_id", flat=True).first()
    _timed("ageing, total", lambda: selectors.receivables_ageing(viewer=viewer, at=today), repeat)
    _timed(
        "ageing by manager",
        lambda: selectors.receivables_ageing(viewer=viewer, at=today, group_by="manager"),
        repeat,
    )
    _timed(
        "ageing by client, the 100 largest (as the page and the API)",
        lambda: selectors.receivables_ageing(viewer=viewer, at=today, group_by="client", limit=100),
        repeat,
    )
    _timed(
        "ageing by client, every client",
        lambda: selectors.receivables_ageing(viewer=viewer, at=today, group_by="client"),
        max(repeat // 3, 3),
    )
    _timed(
        "overdue list, first page of 50 with actions",
        lambda: list(selectors.overdue_list(viewer=viewer, at=today)[:50]),
        repeat,
    )
    _timed(
        "overdue list of one manager, first page",
        lambda: list(selectors.overdue_list(viewer=viewer, at=today, manager_id=manager_id)[:50]),
        repeat,
    )
    _timed(
        "overdue list, 31-60 bucket, first page",
        lambda: list(selectors.overdue_list(viewer=viewer, at=today, bucket="31-60")[:50]),
        repeat,
    )
    seed = int(time.time())
    content = _statement(rows, seed)
    with transaction.atomic():  # rolled back: every run matches against the same invoices
        started = time.perf_counter()
        batch = payment_import_load(actor=None, content=content, file_name=f"bench-{seed}.csv")
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    print(
        f"statement of {batch.rows_total} rows matched in {seconds:.1f} s: applied "
        f"{batch.rows_applied}, to confirm {batch.rows_to_confirm}, unmatched "
        f"{batch.rows_unmatched}",
        flush=True,
    )
