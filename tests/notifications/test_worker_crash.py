"""A delivery worker killed with SIGKILL in the middle of a send, then restarted: every
message arrives once. The worker is a real process (``vrop manage notifications_deliver``)
on a SQLite file, against the local Bot API server, which holds one answer so that the kill
lands while the request is in flight."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.notifications.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CHATS = [810001, 810002, 810003, 810004, 810005]

SEED = """
from django.db import transaction
from tests.factories import ManagerFactory
from vrop.notifications.services import notify
with transaction.atomic():
    for n, chat in enumerate(%r):
        user = ManagerFactory(telegram_chat_id=chat)
        notify(user=user, text=f"message {n}", channels=("telegram",))
"""


def environment(data_dir: Path, fake: FakeTelegram | None = None, **extra) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VROP_", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="vrop.settings",
        VROP_DATA_DIR=str(data_dir),
        VROP_SECRET_KEY="crash-test",
        VROP_LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
    )
    if fake is not None:
        env.update(VROP_TELEGRAM_BOT_TOKEN=fake.token, VROP_TELEGRAM_BASE_URL=fake.base_url)
    env.update(extra)
    return env


def manage(*args: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vrop.cli", "manage", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("notif-migrated")
    manage("migrate", "-v", "0", env=environment(folder))
    return folder / "vrop.sqlite3"


@pytest.fixture
def fake():
    server = FakeTelegram().start()
    yield server
    server.close()


def rows(database: Path) -> list[tuple[str, str, int, bool]]:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT text, status, attempts, send_started_at IS NOT NULL "
            "FROM notifications_outboxmessage ORDER BY id"
        ).fetchall()


def crash_mid_send(tmp_path: Path, migrated: Path, fake: FakeTelegram, **extra) -> Path:
    """Queue five messages, start a worker, kill it while the third is in flight."""
    database = tmp_path / "vrop.sqlite3"
    shutil.copy(migrated, database)
    env = environment(tmp_path, fake, **extra)
    manage("shell", "-c", SEED % (CHATS,), env=env)
    fake.fault("ok", "ok", "hold")

    worker = subprocess.Popen(
        [sys.executable, "-m", "vrop.cli", "manage", "notifications_deliver", "--loop"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert fake.holding.wait(timeout=120), "the worker never reached the third message"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    fake.release.set()
    return database


def restart(tmp_path: Path, fake: FakeTelegram, **extra) -> None:
    time.sleep(1.2)  # past the claim timeout below: the dead worker's claims are stale
    env = environment(tmp_path, fake, VROP_NOTIFICATIONS_CLAIM_TIMEOUT="1", **extra)
    manage("notifications_deliver", env=env)


def test_killed_mid_send_every_message_arrives_once(tmp_path, migrated, fake):
    database = crash_mid_send(tmp_path, migrated, fake)

    # At the kill: two sent, the third in flight, the last two claimed but not started.
    assert rows(database) == [
        ("message 0", "sent", 1, True),
        ("message 1", "sent", 1, True),
        ("message 2", "sending", 1, True),
        ("message 3", "sending", 0, False),
        ("message 4", "sending", 0, False),
    ]

    restart(tmp_path, fake)

    assert sorted(fake.texts()) == [f"message {n}" for n in range(5)]
    assert rows(database) == [
        ("message 0", "sent", 1, True),
        ("message 1", "sent", 1, True),
        ("message 2", "unconfirmed", 1, True),
        ("message 3", "sent", 1, True),
        ("message 4", "sent", 1, True),
    ]


def test_resend_interrupted_sends_the_in_flight_message_again(tmp_path, migrated, fake):
    extra = {"VROP_NOTIFICATIONS_RESEND_INTERRUPTED": "1"}
    database = crash_mid_send(tmp_path, migrated, fake, **extra)

    restart(tmp_path, fake, **extra)

    # The documented trade-off: nothing is lost, and the one in flight arrived twice.
    assert sorted(fake.texts()) == sorted([f"message {n}" for n in range(5)] + ["message 2"])
    assert [status for _text, status, *_rest in rows(database)] == ["sent"] * 5
