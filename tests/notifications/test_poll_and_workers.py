"""Long polling with getUpdates, and several workers delivering the same outbox at once."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection

from tests.factories import ManagerFactory
from vrop.notifications import services
from vrop.notifications.delivery import deliver_outbox
from vrop.notifications.models import OutboxMessage, TelegramUpdate


@pytest.mark.django_db
def test_poll_links_a_chat_and_keeps_the_offset(fake_telegram, capsys):
    user = ManagerFactory()
    code = services.telegram_link_code_create(user=user)
    fake_telegram.push_update(
        {
            "update_id": 9001,
            "message": {
                "message_id": 5,
                "date": 1795400000,
                "chat": {"id": 4401, "type": "private"},
                "from": {"id": 4401, "is_bot": False, "first_name": "Анна"},
                "text": f"/start {code.code}",
            },
        }
    )

    call_command("telegram_poll", "--once", "--timeout", "1")
    call_command("telegram_poll", "--once", "--timeout", "1")  # nothing new: offset 9002

    user.refresh_from_db()
    assert user.telegram_chat_id == 4401
    assert list(TelegramUpdate.objects.values_list("update_id", "kind")) == [(9001, "message")]
    offsets = [call.params.get("offset") for call in fake_telegram.calls_of("getUpdates")]
    assert offsets == [None, "9002"]
    assert "update 9001: linked" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_workers_at_once_deliver_each_message_once(fake_telegram):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent claims need PostgreSQL (SKIP LOCKED); SQLite runs one writer")
    users = [ManagerFactory(telegram_chat_id=920000 + n) for n in range(12)]
    for user in users:
        for n in range(2):
            services.notify(user=user, text=f"{user.telegram_chat_id}-{n}", channels=("telegram",))
    errors = []

    def worker():
        try:
            while OutboxMessage.objects.filter(status__in=["pending", "sending"]).exists():
                deliver_outbox(limit=5)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    expected = sorted(f"{920000 + u}-{n}" for u in range(12) for n in range(2))
    assert sorted(fake_telegram.texts()) == expected
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}
