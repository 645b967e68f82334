"""Approve/Reject and stock confirmations with Telegram buttons, through the fake Bot API."""

import datetime as dt
import itertools
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    ClientFactory,
    HeadFactory,
    ManagerFactory,
    OwnerFactory,
    ProductFactory,
    SupplyFactory,
)
from tests.notifications.conftest import fake_telegram  # noqa: F401  (the fixture)
from vrop.crm.services import LineInput, deal_create, deal_update
from vrop.notifications.delivery import deliver_outbox
from vrop.notifications.models import OutboxMessage
from vrop.notifications.services import make_callback_data
from vrop.notifications.telegram import telegram_webhook_secret
from vrop.pricing.models import ApprovalRequest, ApprovalStatus, Confirmation
from vrop.pricing.notify import confirmation_request_announce

pytestmark = pytest.mark.django_db(transaction=True)

_ids = itertools.count(1)
HEAD_CHAT, OWNER_CHAT, MANAGER_CHAT, SUPPLY_CHAT = 800001, 800002, 800003, 800004


def press(data: str, from_id: int) -> dict:
    return {
        "update_id": next(_ids),
        "callback_query": {
            "id": f"pq{next(_ids)}",
            "from": {"id": from_id, "is_bot": False, "first_name": "Иван"},
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": 91,
                "date": 1795400000,
                "chat": {"id": from_id, "type": "private"},
                "text": "Согласование",
            },
        },
    }


def post(client, update):
    secret = telegram_webhook_secret()
    return client.post(
        reverse("telegram-webhook", kwargs={"secret": secret}),
        data=update,
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": secret},
    )


def make_deal(manager, price="53200"):
    product = ProductFactory(cost_price=D("48000"), list_price=D("56000"))
    return deal_create(
        actor=manager,
        client=ClientFactory(manager=manager),
        lines=[LineInput(product=product, qty=D("10"), price=D(price))],
        next_step_title="Согласовать",
        next_step_due_at=timezone.now() + dt.timedelta(days=1),
    )


@pytest.fixture
def people(db):
    return {
        "head": HeadFactory(telegram_chat_id=HEAD_CHAT),
        "owner": OwnerFactory(telegram_chat_id=OWNER_CHAT),
        "manager": ManagerFactory(telegram_chat_id=MANAGER_CHAT),
        "supply": SupplyFactory(telegram_chat_id=SUPPLY_CHAT),
    }


def state(approval):
    approval.refresh_from_db()
    return approval.status, approval.decided_by_id, approval.comment


def test_a_pending_request_reaches_the_head_with_buttons(people, fake_telegram):  # noqa: F811
    deal = make_deal(people["manager"])
    approval = ApprovalRequest.objects.get(deal=deal)

    deliver_outbox()

    texts = fake_telegram.texts(HEAD_CHAT)
    assert len(texts) == 1 and f"№{deal.pk}" in texts[0]
    assert fake_telegram.texts(OWNER_CHAT) == []
    message = OutboxMessage.objects.get(address=str(HEAD_CHAT))
    assert message.payload["buttons"][0][0][1] == make_callback_data("appr", f"{approval.pk}:a")


def test_the_head_approves_with_a_button_and_a_double_press_decides_once(
    client,
    people,
    fake_telegram,  # noqa: F811
):
    deal = make_deal(people["manager"])
    approval = ApprovalRequest.objects.get(deal=deal)
    data = make_callback_data("appr", f"{approval.pk}:a")

    first = post(client, press(data, HEAD_CHAT))
    second = post(client, press(make_callback_data("appr", f"{approval.pk}:r"), HEAD_CHAT))

    assert (first.json()["outcome"], second.json()["outcome"]) == ("accepted", "refused")
    assert state(approval) == (ApprovalStatus.APPROVED, people["head"].pk, "")


@pytest.mark.parametrize("who", ["manager", "supply"])
def test_a_wrong_role_is_refused_and_nothing_changes(client, people, fake_telegram, who):  # noqa: F811
    deal = make_deal(people["manager"])
    approval = ApprovalRequest.objects.get(deal=deal)
    chat = {"manager": MANAGER_CHAT, "supply": SUPPLY_CHAT}[who]

    response = post(client, press(make_callback_data("appr", f"{approval.pk}:a"), chat))

    assert response.json()["outcome"] == "refused"
    assert state(approval) == (ApprovalStatus.PENDING, None, "")


def test_the_head_cannot_press_for_an_owner_level_request(client, people, fake_telegram):  # noqa: F811
    deal = make_deal(people["manager"], price="50000")
    approval = ApprovalRequest.objects.get(deal=deal)

    response = post(client, press(make_callback_data("appr", f"{approval.pk}:a"), HEAD_CHAT))

    assert response.json()["outcome"] == "refused"
    assert state(approval) == (ApprovalStatus.PENDING, None, "")


def test_a_forged_callback_is_refused(client, people, fake_telegram):  # noqa: F811
    deal = make_deal(people["manager"])
    approval = ApprovalRequest.objects.get(deal=deal)
    forged = f"appr:{approval.pk}:a:AAAAAAAAAAAA"

    response = post(client, press(forged, OWNER_CHAT))

    assert response.json()["outcome"] == "refused"
    assert state(approval) == (ApprovalStatus.PENDING, None, "")


def test_an_unlinked_chat_is_refused(client, people, fake_telegram):  # noqa: F811
    deal = make_deal(people["manager"])
    approval = ApprovalRequest.objects.get(deal=deal)

    response = post(client, press(make_callback_data("appr", f"{approval.pk}:a"), 899999))

    assert response.json()["outcome"] == "refused"
    assert state(approval) == (ApprovalStatus.PENDING, None, "")


def test_the_owner_rejects_with_a_button(client, people, fake_telegram):  # noqa: F811
    deal = make_deal(people["manager"], price="50000")
    approval = ApprovalRequest.objects.get(deal=deal)

    response = post(client, press(make_callback_data("appr", f"{approval.pk}:r"), OWNER_CHAT))

    assert response.json()["outcome"] == "accepted"
    assert state(approval) == (
        ApprovalStatus.REJECTED,
        people["owner"].pk,
        "Отклонено в Telegram.",
    )


def test_supply_confirms_a_line_with_a_button(client, people, fake_telegram):  # noqa: F811
    deal = make_deal(people["manager"], price="56000")
    deal_update(actor=people["manager"], deal=deal, promised_date=dt.date(2030, 1, 15))
    assert confirmation_request_announce(deal_id=deal.pk) == 1
    line = deal.lines.get()

    by_manager = post(client, press(make_callback_data("conf", str(line.pk)), MANAGER_CHAT))
    assert by_manager.json()["outcome"] == "refused"
    assert Confirmation.objects.count() == 0

    by_supply = post(client, press(make_callback_data("conf", str(line.pk)), SUPPLY_CHAT))

    assert by_supply.json()["outcome"] == "accepted"
    confirmation = Confirmation.objects.get()
    assert (
        confirmation.deal_id,
        confirmation.product_id,
        confirmation.qty,
        confirmation.available_on,
        confirmation.confirmed_by,
    ) == (deal.pk, line.product_id, D("10.000"), dt.date(2030, 1, 15), people["supply"])
