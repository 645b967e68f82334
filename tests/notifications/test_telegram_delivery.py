"""Delivery to Telegram through the real python-telegram-bot client and a local Bot API
server: rate limits, 429 retry_after, 5xx back-off, Telegram down, permanent refusals, and
the ambiguous case of a connection that breaks after the request left."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from tests.factories import ManagerFactory
from vrop.notifications.delivery import deliver_outbox
from vrop.notifications.models import OutboxMessage
from vrop.notifications.services import make_callback_data, notify

pytestmark = pytest.mark.django_db


def deliver_until_done(timeout: float = 20.0) -> None:
    """Run batches (as the worker does) until nothing is waiting."""
    deadline = time.monotonic() + timeout
    while OutboxMessage.objects.filter(status__in=["pending", "sending"]).exists():
        assert time.monotonic() < deadline, list(
            OutboxMessage.objects.values_list("status", "last_error")
        )
        report = deliver_outbox()
        if report.next_due_in:
            time.sleep(min(report.next_due_in, 1.0))


def statuses():
    return sorted(OutboxMessage.objects.values_list("text", "status"))


def test_sends_with_buttons_and_marks_sent(fake_telegram, linked_manager):
    data = make_callback_data("approval", "5:yes")
    notify(
        user=linked_manager,
        text="Согласуйте скидку",
        channels=("telegram",),
        buttons=[[("Согласовать", data), ("Открыть", "https://vrop.example/deals/5/")]],
    )

    report = deliver_outbox()

    assert (report.claimed, report.sent) == (1, 1)
    [delivered] = fake_telegram.delivered
    assert (delivered.chat_id, delivered.text) == (700001, "Согласуйте скидку")
    assert delivered.reply_markup == {
        "inline_keyboard": [
            [
                {"text": "Согласовать", "callback_data": data},
                {"text": "Открыть", "url": "https://vrop.example/deals/5/"},
            ]
        ]
    }
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts, message.external_id) == (
        "sent",
        1,
        str(delivered.message_id),
    )
    assert message.sent_at is not None and message.claim_token == ""


def test_one_message_a_second_to_one_chat(fake_telegram, linked_manager):
    other = ManagerFactory(telegram_chat_id=700002)
    for n in range(3):
        notify(user=linked_manager, text=f"A{n}", channels=("telegram",))
    notify(user=other, text="B0", channels=("telegram",))

    deliver_until_done()

    first_chat = [d.at for d in fake_telegram.delivered if d.chat_id == 700001]
    assert fake_telegram.texts(700001) == ["A0", "A1", "A2"]
    assert fake_telegram.texts(700002) == ["B0"]
    gaps = [b - a for a, b in zip(first_chat, first_chat[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 1.0, gaps
    # the other chat is not held up by the first one's limit
    other_at = next(d.at for d in fake_telegram.delivered if d.chat_id == 700002)
    assert other_at - first_chat[0] < 1.0


def test_429_retry_after_is_honoured(fake_telegram, linked_manager):
    fake_telegram.fault(("429", 1))
    notify(user=linked_manager, text="Флуд", channels=("telegram",))

    report = deliver_outbox()

    assert (report.sent, report.retried) == (0, 1)
    message = OutboxMessage.objects.get()
    assert message.status == "pending"
    assert "retry" in message.last_error.lower()
    assert 0.8 <= (message.next_attempt_at - timezone.now()).total_seconds() <= 1.0
    assert deliver_outbox().claimed == 0  # not before retry_after

    deliver_until_done()

    [refused, accepted] = fake_telegram.calls_of("sendMessage")
    assert accepted.at - refused.at >= 1.0
    assert fake_telegram.texts() == ["Флуд"]
    assert statuses() == [("Флуд", "sent")]


def test_5xx_is_retried_with_back_off_and_delivered_once(fake_telegram, linked_manager):
    fake_telegram.fault("500", "500")
    notify(user=linked_manager, text="Повтор", channels=("telegram",))

    first = deliver_outbox()
    message = OutboxMessage.objects.get()

    assert first.retried == 1
    assert (message.status, message.attempts) == ("pending", 1)
    assert "Internal Server Error" in message.last_error
    deliver_until_done()
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 3)
    assert fake_telegram.texts() == ["Повтор"]


def test_telegram_down_then_back_every_message_arrives_once(fake_telegram, linked_manager):
    other = ManagerFactory(telegram_chat_id=700002)
    fake_telegram.stop()
    texts = []
    for n in range(3):
        for user in (linked_manager, other):
            text = f"{user.telegram_chat_id}-{n}"
            texts.append(text)
            notify(user=user, text=text, channels=("telegram",))

    for _round in range(3):  # down for a while: several batches fail
        deliver_outbox()
        time.sleep(0.3)
    waiting = OutboxMessage.objects.filter(status="pending")
    assert waiting.count() == 6
    # each chat's first message is tried and fails; the later ones wait behind it (order)
    heads = [waiting.filter(address=chat).order_by("id").first() for chat in ("700001", "700002")]
    assert all(m.attempts >= 1 and "ConnectError" in m.last_error for m in heads)
    assert all(m.attempts == 0 for m in waiting.exclude(pk__in=[m.pk for m in heads]))
    assert fake_telegram.delivered == []

    fake_telegram.start()  # back, on the same port
    deliver_until_done(timeout=30)

    assert sorted(fake_telegram.texts()) == sorted(texts)
    assert fake_telegram.texts(700001) == ["700001-0", "700001-1", "700001-2"]
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_a_blocked_bot_fails_for_good(fake_telegram, linked_manager):
    fake_telegram.fault("403")
    notify(user=linked_manager, text="Заблокирован", channels=("telegram",))

    report = deliver_outbox()
    time.sleep(0.5)
    again = deliver_outbox()

    assert (report.failed, again.claimed) == (1, 0)
    message = OutboxMessage.objects.get()
    assert message.status == "failed"
    assert "blocked" in message.last_error
    assert len(fake_telegram.calls_of("sendMessage")) == 1


def test_attempts_run_out(fake_telegram, linked_manager, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    settings.NOTIFICATIONS_BACKOFF_BASE = 0.01
    fake_telegram.fault("500", "500", "500")
    notify(user=linked_manager, text="Не дойдёт", channels=("telegram",))

    deliver_until_done()

    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == ("failed", 2)


def test_a_broken_connection_after_sending_is_not_resent_by_default(fake_telegram, linked_manager):
    fake_telegram.fault("drop")
    notify(user=linked_manager, text="Может быть дошло", channels=("telegram",))
    notify(user=linked_manager, text="Следующее", channels=("telegram",))

    deliver_until_done()

    assert fake_telegram.texts() == ["Может быть дошло", "Следующее"]
    assert statuses() == [("Может быть дошло", "unconfirmed"), ("Следующее", "sent")]


def test_resend_interrupted_trades_a_possible_duplicate_for_no_loss(
    fake_telegram, linked_manager, settings
):
    settings.NOTIFICATIONS_RESEND_INTERRUPTED = True
    fake_telegram.fault("drop")
    notify(user=linked_manager, text="Может быть дошло", channels=("telegram",))

    deliver_until_done()

    # The documented window: Telegram had it, the answer was lost, it went again.
    assert fake_telegram.texts() == ["Может быть дошло", "Может быть дошло"]
    assert statuses() == [("Может быть дошло", "sent")]
