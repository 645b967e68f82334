"""The owner's override with a Telegram button, end to end through the local Bot API server:
the request reaches the owner with two buttons; a press by the head is refused with the
reason and changes nothing; the owner's press allows the deal and is logged."""

import json

import pytest

from tests.factories import HeadFactory, ManagerFactory, OwnerFactory
from tests.notifications.conftest import fake_telegram  # noqa: F401  (a fixture)
from tests.notifications.test_telegram_updates import post, press
from tests.receivables.helpers import deferral_client, quote_deal
from vrop.core.errors import RuleViolation
from vrop.crm.choices import Stage
from vrop.crm.models import Deal
from vrop.crm.services import deal_stage_change
from vrop.notifications.delivery import deliver_outbox
from vrop.receivables.models import CreditOverride
from vrop.receivables.services import credit_override_request

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

OWNER_CHAT, HEAD_CHAT = 610001, 610002


def test_the_owner_allows_a_deal_with_the_telegram_button(client, fake_telegram):  # noqa: F811
    OwnerFactory(telegram_chat_id=OWNER_CHAT)
    HeadFactory(telegram_chat_id=HEAD_CHAT)
    manager = ManagerFactory()
    deal = quote_deal(manager, deferral_client(manager, limit="1000.00"))
    request = credit_override_request(actor=manager, deal=deal, reason="Оплатит авансом завтра")
    deliver_outbox()

    (message,) = [d for d in fake_telegram.delivered if d.chat_id == OWNER_CHAT]
    assert "Оплатит авансом завтра" in message.text
    markup = message.reply_markup
    buttons = (json.loads(markup) if isinstance(markup, str) else markup)["inline_keyboard"][0]
    assert [button["text"] for button in buttons] == ["Разрешить", "Отказать"]
    allow = buttons[0]["callback_data"]

    by_head = post(client, press(allow, from_id=HEAD_CHAT, query_id="recv-1"))
    request.refresh_from_db()
    assert by_head.json()["outcome"] == "refused"
    assert request.status == "pending"
    with pytest.raises(RuleViolation):
        deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)

    by_owner = post(client, press(allow, from_id=OWNER_CHAT, query_id="recv-2"))
    deliver_outbox()

    assert by_owner.json()["outcome"] == "accepted"
    request.refresh_from_db()
    assert (request.status, request.channel, request.decided_by.telegram_chat_id) == (
        "granted",
        "telegram",
        OWNER_CHAT,
    )
    answers = {a["callback_query_id"]: a["text"] for a in fake_telegram.answers}
    assert answers["recv-1"] == "Обойти кредитные правила может только собственник."
    assert answers["recv-2"].startswith("Разрешено:")
    deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)
    assert Deal.objects.get(pk=deal.pk).stage == Stage.WON
    assert CreditOverride.objects.count() == 1
