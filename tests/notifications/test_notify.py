"""notify(): one outbox row per channel that reaches the user, deduplicated, delivered on
commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.factories import ManagerFactory
from vrop.notifications.models import OutboxMessage
from vrop.notifications.services import make_callback_data, notify

pytestmark = pytest.mark.django_db


def rows(user):
    return sorted(
        OutboxMessage.objects.filter(user=user).values_list("channel", "status", "address")
    )


def test_writes_a_row_per_channel_the_user_can_receive(linked_manager):
    written = notify(
        user=linked_manager,
        text="Сделка без следующего шага",
        channels=("inapp", "telegram", "email"),
    )

    assert [m.channel for m in written] == ["inapp", "telegram", "email"]
    assert rows(linked_manager) == [
        ("email", "pending", linked_manager.email),
        ("inapp", "sent", ""),
        ("telegram", "pending", "700001"),
    ]


def test_telegram_only_when_linked_and_email_only_when_known(settings):
    settings.TELEGRAM_BOT_TOKEN = "123456:TEST-token"
    user = ManagerFactory(telegram_chat_id=None, email="")

    written = notify(user=user, text="Текст", channels=("inapp", "telegram", "email"))

    assert [m.channel for m in written] == ["inapp"]
    assert rows(user) == [("inapp", "sent", "")]


def test_no_telegram_rows_without_a_bot(settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    user = ManagerFactory(telegram_chat_id=700002)

    notify(user=user, text="Текст", channels=("telegram",))

    assert rows(user) == []


def test_the_same_dedupe_key_never_makes_a_second_row(linked_manager):
    first = notify(user=linked_manager, text="Висяк", dedupe_key="stalled:42:2026-11-23")
    again = notify(user=linked_manager, text="Висяк", dedupe_key="stalled:42:2026-11-23")
    other = notify(user=linked_manager, text="Висяк", dedupe_key="stalled:43:2026-11-23")

    assert len(first) == 2 and again == [] and len(other) == 2
    assert OutboxMessage.objects.filter(user=linked_manager).count() == 4


def test_dedupe_is_per_channel(linked_manager):
    notify(user=linked_manager, text="A", channels=("inapp",), dedupe_key="k")
    written = notify(user=linked_manager, text="A", channels=("inapp", "telegram"), dedupe_key="k")

    assert [m.channel for m in written] == ["telegram"]


def test_buttons_are_kept_for_telegram(linked_manager):
    data = make_callback_data("approval", "17:approve")

    notify(user=linked_manager, text="Скидка 9 %", channels=("telegram",), buttons=[[("Да", data)]])

    message = OutboxMessage.objects.get(user=linked_manager)
    assert message.payload == {"buttons": [[["Да", data]]]}


def test_bad_input_is_refused_and_nothing_is_written(linked_manager):
    with pytest.raises(ValueError):
        notify(user=linked_manager, text="  ")
    with pytest.raises(ValueError):
        notify(user=linked_manager, text="x", channels=("sms",))
    with pytest.raises(ValueError):
        notify(user=linked_manager, text="x", buttons=[[("Да", "x" * 65)]])
    assert OutboxMessage.objects.count() == 0


def test_delivery_is_scheduled_once_on_commit(linked_manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            notify(user=linked_manager, text="Один")
            notify(user=linked_manager, text="Два")

    assert len(callbacks) == 1


def test_in_app_only_needs_no_delivery(linked_manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        notify(user=linked_manager, text="Только в приложении", channels=("inapp",))

    assert callbacks == []


def test_rolled_back_action_leaves_no_notification(linked_manager):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            notify(user=linked_manager, text="Откат")
            raise RuntimeError("the action failed")

    assert OutboxMessage.objects.count() == 0
