"""The notifications outbox: writing, claiming and delivering, on SQLite and PostgreSQL.

Each database is measured in a child process with its own data (a temporary SQLite data
directory; the ``notif_bench`` PostgreSQL database, or ``VROP_BENCH_DATABASE_URL``), so
the operator's data is never touched. Figures:

- notify: in-app + e-mail rows written, one transaction per call (rows/s);
- e-mail delivery through the outbox machinery with Django's in-memory mail backend
  (claim, mark started, send, mark sent: messages/s without a network);
- Telegram to a local Bot API server, one message to each of many chats: the achieved
  rate must stay at or under 25 messages a second (the global limit);
- the claim of a batch with a large backlog of rows not yet due (the partial index).

    vrop bench outbox --quick     small, SQLite only (under a minute)
    vrop bench outbox             SQLite and PostgreSQL
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("VROP_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/notif_bench")


def _pg_ready(url: str) -> bool:
    import dj_database_url
    import psycopg

    params = dj_database_url.parse(url)
    try:
        with psycopg.connect(
            host=params["HOST"] or "127.0.0.1",
            port=params["PORT"] or 5432,
            user=params["USER"],
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        ) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{params["NAME"]}"')
            db.execute(f'CREATE DATABASE "{params["NAME"]}"')
        return True
    except Exception as error:  # noqa: BLE001
        print(f"PostgreSQL not available ({error}); skipped")
        return False


def _child(sizes: dict) -> dict:
    import django

    django.setup()
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test.utils import override_settings
    from django.utils import timezone

    from tests.notifications.fake_telegram import FakeTelegram
    from vrop.accounts.models import User
    from vrop.notifications.delivery import claim, deliver_outbox
    from vrop.notifications.models import OutboxMessage
    from vrop.notifications.services import notify

    call_command("migrate", verbosity=0)
    figures: dict = {"database": connection.vendor}
    users = User.objects.bulk_create(
        [
            User(
                username=f"bench{n}@example.com",
                email=f"bench{n}@example.com",
                telegram_chat_id=500000 + n,
            )
            for n in range(sizes["notify"])
        ]
    )

    started = time.perf_counter()
    with override_settings(TELEGRAM_BOT_TOKEN=""):
        for user in users:
            with transaction.atomic():
                notify(user=user, text="Сделка без следующего шага", channels=("inapp", "email"))
    elapsed = time.perf_counter() - started
    figures["notify_calls_per_s"] = round(len(users) / elapsed)
    figures["notify_rows_per_s"] = round(2 * len(users) / elapsed)

    started = time.perf_counter()
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        mail.outbox = []
        while OutboxMessage.objects.filter(status="pending").exists():
            deliver_outbox(limit=100)
        assert len(mail.outbox) == len(users)
    figures["email_delivered_per_s"] = round(len(users) / (time.perf_counter() - started))

    fake = FakeTelegram().start()
    try:
        with override_settings(TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_BASE_URL=fake.base_url):
            for user in users[: sizes["telegram"]]:
                notify(user=user, text="Дайджест", channels=("telegram",))
            started = time.perf_counter()
            while OutboxMessage.objects.filter(status="pending", channel="telegram").exists():
                deliver_outbox(limit=100)
            elapsed = time.perf_counter() - started
        moments = sorted(d.at for d in fake.delivered)
        assert len(moments) == sizes["telegram"]
        # the steady rate after the first burst of 25
        steady = (len(moments) - 26) / (moments[-1] - moments[25]) if len(moments) > 30 else None
        figures["telegram_messages"] = len(moments)
        figures["telegram_seconds"] = round(elapsed, 2)
        figures["telegram_steady_rate_per_s"] = round(steady, 1) if steady else None
        figures["telegram_max_in_any_second"] = max(
            sum(1 for t in moments if start <= t < start + 1) for start in moments
        )
    finally:
        fake.stop()

    future = timezone.now() + timezone.timedelta(days=1)
    batch = 5000
    for offset in range(0, sizes["backlog"], batch):
        OutboxMessage.objects.bulk_create(
            [
                OutboxMessage(
                    channel="email",
                    user=users[0],
                    address="x@example.com",
                    text="later",
                    status="pending",
                    next_attempt_at=future,
                )
                for _ in range(min(batch, sizes["backlog"] - offset))
            ]
        )
    with override_settings(TELEGRAM_BOT_TOKEN=""):
        for user in users[:100]:
            notify(user=user, text="сейчас", channels=("email",))
    timings = []
    for _round in range(5):
        started = time.perf_counter()
        claimed = claim(limit=20)
        timings.append((time.perf_counter() - started) * 1000)
        OutboxMessage.objects.filter(pk__in=[m.pk for m in claimed]).update(status="sent")
    figures["backlog_rows"] = sizes["backlog"]
    figures["claim_ms_median"] = round(sorted(timings)[2], 1)
    return figures


def _measure(sizes: dict, database_url: str = "") -> dict:
    with tempfile.TemporaryDirectory(prefix="vrop-bench-outbox-") as folder:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))
        }
        env.update(
            VROP_DATA_DIR=folder,
            DJANGO_SETTINGS_MODULE="vrop.settings",
            PYTHONPATH=str(REPO),
            VROP_LOG_LEVEL="WARNING",
        )
        if database_url:
            env["DATABASE_URL"] = database_url
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_outbox", json.dumps(sizes)],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-3000:])
        return json.loads(result.stdout.strip().splitlines()[-1])


def run(scale=None, quick=False):
    factor = scale or 1
    if quick:
        sizes = {"notify": 300, "telegram": 60, "backlog": 10000}
    else:
        sizes = {"notify": 3000 * factor, "telegram": 250, "backlog": 200000 * factor}
    targets = [("sqlite", "")]
    if not quick and _pg_ready(PG_URL):
        targets.append(("postgresql", PG_URL))
    for name, url in targets:
        figures = _measure(sizes, url)
        print(
            f"{name}: " + ", ".join(f"{key}={value}" for key, value in figures.items()), flush=True
        )


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
