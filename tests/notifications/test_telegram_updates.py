"""Incoming Telegram updates through the webhook: linking with a one-time code, signed
button presses, refusals in Russian with nothing changed."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.factories import ManagerFactory, TelegramLinkCodeFactory
from vrop.core.errors import RuleViolation
from vrop.notifications import services
from vrop.notifications.delivery import deliver_outbox
from vrop.notifications.models import OutboxMessage, TelegramCallback, TelegramLinkCode
from vrop.notifications.services import make_callback_data, register_callback
from vrop.notifications.telegram import telegram_webhook_secret

pytestmark = pytest.mark.django_db

_update_ids = itertools.count(1)
CHAT = 555001


def start(text: str, chat_id: int = CHAT, chat_type: str = "private") -> dict:
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": 1,
            "date": 1795400000,
            "chat": {"id": chat_id, "type": chat_type},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Иван"},
            "text": text,
        },
    }


def press(data: str, from_id: int = CHAT, query_id: str | None = None) -> dict:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": query_id or f"q{next(_update_ids)}",
            "from": {"id": from_id, "is_bot": False, "first_name": "Иван"},
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": 77,
                "date": 1795400000,
                "chat": {"id": from_id, "type": "private"},
                "text": "Скидка 9 % по сделке №5",
            },
        },
    }


def post(client, update: dict, secret: str | None = None, header: str | None = None):
    secret = secret or telegram_webhook_secret()
    return client.post(
        reverse("telegram-webhook", kwargs={"secret": secret}),
        data=update,
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": header or secret},
    )


def replies() -> list[tuple[str, str]]:
    return list(
        OutboxMessage.objects.filter(channel="telegram")
        .order_by("id")
        .values_list("address", "text")
    )


# --- linking --------------------------------------------------------------------------


def test_start_code_links_the_chat_and_answers(client, fake_telegram):
    user = ManagerFactory(first_name="Иван", last_name="Петров")
    code = services.telegram_link_code_create(user=user)

    response = post(client, start(f"/start {code.code}"))
    deliver_outbox()

    assert response.status_code == 200 and response.json()["outcome"] == "linked"
    user.refresh_from_db()
    assert user.telegram_chat_id == CHAT
    code.refresh_from_db()
    assert code.used_at is not None and code.chat_id == CHAT
    assert fake_telegram.texts(CHAT) == [
        "Готово: этот чат привязан к Иван Петров в Виртуальном РОПе. Уведомления будут приходить сюда."
    ]


def test_a_code_works_once(client, fake_telegram):
    user = ManagerFactory()
    code = services.telegram_link_code_create(user=user)
    post(client, start(f"/start {code.code}"))

    response = post(client, start(f"/start {code.code}", chat_id=CHAT + 1))

    assert response.json()["outcome"] == "refused"
    user.refresh_from_db()
    assert user.telegram_chat_id == CHAT
    assert replies()[-1] == (
        str(CHAT + 1),
        "Этот код уже использован. Получите новый код на странице Telegram.",
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("NOSUCH42", "Код не найден. Получите новый код на странице Telegram в Виртуальном РОПе."),
        ("EXPIRED1", "Срок действия кода истёк. Получите новый код на странице Telegram."),
    ],
)
def test_unknown_or_expired_code_is_refused_in_russian(client, fake_telegram, code, expected):
    user = ManagerFactory()
    TelegramLinkCodeFactory(
        user=user, code="EXPIRED1", expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    response = post(client, start(f"/start {code}"))
    deliver_outbox()

    assert response.json()["outcome"] == "refused"
    user.refresh_from_db()
    assert user.telegram_chat_id is None
    assert TelegramLinkCode.objects.get().used_at is None
    assert fake_telegram.texts(CHAT) == [expected]


def test_code_expires_after_thirty_minutes(client, fake_telegram):
    user = ManagerFactory()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        code = services.telegram_link_code_create(user=user)
        traveller.shift(dt.timedelta(minutes=30, seconds=1))
        response = post(client, start(f"/start {code.code}"))

    assert response.json()["outcome"] == "refused"
    user.refresh_from_db()
    assert user.telegram_chat_id is None


def test_a_new_code_replaces_the_old_one(fake_telegram):
    user = ManagerFactory()
    old = services.telegram_link_code_create(user=user)
    new = services.telegram_link_code_create(user=user)

    assert list(TelegramLinkCode.objects.values_list("code", flat=True)) == [new.code]
    assert old.code != new.code and len(new.code) == 8


def test_a_chat_belongs_to_one_user(client, fake_telegram):
    before = ManagerFactory(telegram_chat_id=CHAT)
    user = ManagerFactory()
    code = services.telegram_link_code_create(user=user)

    post(client, start(f"/start {code.code}"))

    before.refresh_from_db()
    user.refresh_from_db()
    assert (before.telegram_chat_id, user.telegram_chat_id) == (None, CHAT)


def test_linking_in_a_group_is_refused(client, fake_telegram):
    user = ManagerFactory()
    code = services.telegram_link_code_create(user=user)

    response = post(client, start(f"/start {code.code}", chat_id=-100123, chat_type="group"))

    assert response.json()["outcome"] == "refused"
    user.refresh_from_db()
    assert user.telegram_chat_id is None
    assert replies() == [("-100123", "Отправьте код боту в личном чате.")]


def test_webhook_refuses_a_wrong_secret_and_changes_nothing(client, fake_telegram):
    user = ManagerFactory()
    code = services.telegram_link_code_create(user=user)
    update = start(f"/start {code.code}")

    wrong_url = post(client, update, secret="wrong", header=telegram_webhook_secret())
    wrong_header = post(client, update, header="wrong")

    assert (wrong_url.status_code, wrong_header.status_code) == (403, 403)
    user.refresh_from_db()
    assert user.telegram_chat_id is None
    assert OutboxMessage.objects.count() == 0


def test_the_same_update_is_handled_once(client, fake_telegram):
    user = ManagerFactory()
    code = services.telegram_link_code_create(user=user)
    update = start(f"/start {code.code}")

    first, second = post(client, update), post(client, update)

    assert (first.json()["outcome"], second.json()["outcome"]) == ("linked", "duplicate")
    assert len(replies()) == 1


def test_stop_unlinks(client, fake_telegram):
    user = ManagerFactory(telegram_chat_id=CHAT)

    response = post(client, start("/stop"))

    assert response.json()["outcome"] == "unlinked"
    user.refresh_from_db()
    assert user.telegram_chat_id is None


# --- buttons --------------------------------------------------------------------------

DECISIONS: list[tuple[int, str]] = []


def decide(*, user, payload: str) -> str:
    approval, verdict = payload.split(":")
    if approval == "0":
        raise RuleViolation("Решение уже принято")
    DECISIONS.append((user.pk, payload))
    return f"Согласовано ({verdict})"


@pytest.fixture
def decisions():
    register_callback("approvaltest", decide)
    DECISIONS.clear()
    return DECISIONS


def test_a_button_press_calls_the_handler_answers_and_edits(client, fake_telegram, decisions):
    user = ManagerFactory(telegram_chat_id=CHAT)
    data = make_callback_data("approvaltest", "5:yes")

    response = post(client, press(data, query_id="q-1"))
    deliver_outbox()

    assert response.json()["outcome"] == "accepted"
    assert decisions == [(user.pk, "5:yes")]
    assert fake_telegram.answers == [
        {"callback_query_id": "q-1", "text": "Согласовано (yes)", "show_alert": "false"}
    ]
    assert fake_telegram.edited == [
        {
            "chat_id": str(CHAT),
            "message_id": "77",
            "text": "Скидка 9 % по сделке №5\n\nСогласовано (yes)",
        }
    ]
    record = TelegramCallback.objects.get()
    assert (record.user, record.is_accepted, record.answer) == (user, True, "Согласовано (yes)")


def test_each_callback_query_is_processed_once(client, fake_telegram, decisions):
    ManagerFactory(telegram_chat_id=CHAT)
    data = make_callback_data("approvaltest", "5:yes")

    post(client, press(data, query_id="q-2"))
    again = post(client, press(data, query_id="q-2"))  # a new update with the same query

    assert again.json()["outcome"] == "duplicate"
    assert len(decisions) == 1
    assert len(fake_telegram.answers) == 1


def test_a_forged_button_is_refused_in_russian(client, fake_telegram, decisions):
    ManagerFactory(telegram_chat_id=CHAT)
    genuine = make_callback_data("approvaltest", "5:no")
    forged = genuine.replace("5:no", "5:yes")

    response = post(client, press(forged, query_id="q-3"))
    deliver_outbox()

    assert response.json()["outcome"] == "refused"
    assert decisions == []
    assert fake_telegram.answers == [
        {"callback_query_id": "q-3", "text": "Эта кнопка недействительна.", "show_alert": "true"}
    ]
    assert fake_telegram.edited == []


def test_a_press_from_an_unknown_chat_is_refused(client, fake_telegram, decisions):
    data = make_callback_data("approvaltest", "5:yes")

    response = post(client, press(data, from_id=999, query_id="q-4"))

    assert response.json()["outcome"] == "refused"
    assert decisions == []
    assert fake_telegram.answers[0]["text"] == "Этот чат Telegram не привязан к Виртуальному РОПу."


def test_a_service_refusal_is_the_answer(client, fake_telegram, decisions):
    ManagerFactory(telegram_chat_id=CHAT)

    response = post(client, press(make_callback_data("approvaltest", "0:yes"), query_id="q-5"))

    assert response.json()["outcome"] == "refused"
    assert fake_telegram.answers[0]["text"] == "Решение уже принято"
    assert TelegramCallback.objects.get().is_accepted is False


def test_callback_data_fits_telegram_and_rejects_bad_prefixes():
    data = make_callback_data("approval", "123456:approve")

    assert len(data.encode()) <= 64
    assert services.parse_callback_data(data) == services.CallbackData("approval", "123456:approve")
    with pytest.raises(ValueError):
        make_callback_data("approval", "x" * 60)
    with pytest.raises(ValueError):
        register_callback("Bad:prefix", decide)
