"""Imports flag what enforcement refuses (set-based rules), and supply's confirmations."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    ClientFactory,
    ConfirmationFactory,
    DealFactory,
    DealLineFactory,
    ProductFactory,
)
from vrop.core import rulebook
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.crm.choices import Stage
from vrop.crm.models import Deal
from vrop.pricing.checks import promise_confirmed_on_save, won_needs_approval
from vrop.pricing.models import ApprovalRequest, Confirmation
from vrop.pricing.services import confirmation_create

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


PRICE_CODES = {"approval_required", "promise_unconfirmed"}


def codes(result, deal):
    """The price rules' flags (the next-step rule flags open deals too)."""
    return sorted(v.code for v in result.get(deal.pk, []) if v.code in PRICE_CODES)


@time_machine.travel(NOW, tick=False)
def test_bulk_flags_match_the_per_deal_rules(manager, head):
    rebar = ProductFactory(list_price=D("56000"), cost_price=D("48000"))
    fine = DealFactory(client=ClientFactory(manager=manager), stage=Stage.WON)
    DealLineFactory(deal=fine, product=rebar, price=D("55000"))  # 1.8 % off, margin 12.7 %
    discounted = DealFactory(client=ClientFactory(manager=manager), stage=Stage.WON)
    DealLineFactory(deal=discounted, product=rebar, price=D("53200"))  # 5 % off: the head
    thin = DealFactory(client=ClientFactory(manager=manager), stage=Stage.WON)
    DealLineFactory(deal=thin, product=rebar, price=D("52000"), cost_price=D("49000"))  # 5.8 %
    approved = DealFactory(client=ClientFactory(manager=manager), stage=Stage.WON)
    DealLineFactory(deal=approved, product=rebar, price=D("53200"))
    ApprovalRequest.objects.create(
        deal=approved,
        level="head",
        lines_fingerprint="x",
        status="approved",
        requested_at=NOW,
        decided_by=head,
        decided_at=NOW,
    )
    open_discounted = DealFactory(client=ClientFactory(manager=manager), stage=Stage.QUOTE)
    DealLineFactory(deal=open_discounted, product=rebar, price=D("53200"))
    promised = DealFactory(
        client=ClientFactory(manager=manager), stage=Stage.QUOTE, promised_date=dt.date(2026, 12, 1)
    )
    DealLineFactory(deal=promised, product=rebar, price=D("56000"), qty=D("10"))
    covered = DealFactory(
        client=ClientFactory(manager=manager), stage=Stage.WON, promised_date=dt.date(2026, 12, 1)
    )
    DealLineFactory(deal=covered, product=rebar, price=D("56000"), qty=D("10"))
    ConfirmationFactory(
        deal=covered, product=rebar, qty=D("10"), available_on=dt.date(2026, 11, 30)
    )
    deals = Deal.objects.filter(
        pk__in=[
            d.pk for d in (fine, discounted, thin, approved, open_discounted, promised, covered)
        ]
    )

    bulk = rulebook.evaluate_bulk("deal.save", deals)

    assert codes(bulk, fine) == []
    assert codes(bulk, discounted) == ["approval_required"]
    assert codes(bulk, thin) == ["approval_required"]
    assert codes(bulk, approved) == []  # an approval exists (imports do not compare prices)
    assert codes(bulk, open_discounted) == []  # not won: the quote and won stages refuse later
    assert codes(bulk, promised) == ["promise_unconfirmed"]
    assert codes(bulk, covered) == []
    for deal in (fine, discounted, thin, open_discounted, promised, covered):
        single = won_needs_approval(deal, actor=None, context={}) + promise_confirmed_on_save(
            deal, actor=None, context={}
        )
        assert sorted(v.code for v in single) == codes(bulk, deal), deal


def test_supply_confirms_stock_and_others_may_not(supply, manager):
    product = ProductFactory()
    valid_until = timezone.now() + dt.timedelta(days=2)

    confirmation = confirmation_create(
        actor=supply,
        product=product,
        qty=D("25"),
        available_on=dt.date(2026, 12, 1),
        valid_until=valid_until,
        source="supplier",
        supplier="ООО «Северсталь-Дистрибуция»",
    )

    assert (confirmation.confirmed_by, confirmation.qty, confirmation.source) == (
        supply,
        D("25"),
        "supplier",
    )
    with pytest.raises(PermissionDenied):
        confirmation_create(
            actor=manager,
            product=product,
            qty=D("1"),
            available_on=dt.date(2026, 12, 1),
            valid_until=valid_until,
        )
    with pytest.raises(ValidationError):
        confirmation_create(
            actor=supply,
            product=product,
            qty=D("1"),
            available_on=dt.date(2026, 12, 1),
            valid_until=timezone.now() - dt.timedelta(seconds=1),
        )
    assert Confirmation.objects.count() == 1
    assert Confirmation.history.count() == 1


def test_supply_confirms_in_the_web_ui(supply):
    product = ProductFactory(name="Труба 57×3,5")
    browser = Client()
    browser.force_login(supply)

    response = browser.post(
        reverse("confirmation-create"),
        {
            "product": product.pk,
            "source": "stock",
            "qty": "12.5",
            "available_on": "2030-12-01",
            "valid_until": "2030-11-30",
        },
    )

    assert response.status_code == 302
    confirmation = Confirmation.objects.get()
    assert (confirmation.product, confirmation.qty, confirmation.confirmed_by) == (
        product,
        D("12.500"),
        supply,
    )


def test_the_manager_asks_supply_from_the_deal_page(manager, supply):
    from vrop.crm.services import LineInput, deal_create, deal_update
    from vrop.notifications.models import OutboxMessage

    deal = deal_create(
        actor=manager,
        client=ClientFactory(manager=manager),
        lines=[LineInput(product=ProductFactory(name="Труба 57×3,5"), qty=D("4"))],
        next_step_title="Уточнить срок",
        next_step_due_at=timezone.now() + dt.timedelta(days=1),
    )
    browser = Client()
    browser.force_login(manager)
    refused = browser.post(reverse("confirmation-request", args=[deal.pk]))
    assert refused.status_code == 302
    assert OutboxMessage.objects.filter(user=supply).count() == 0

    deal_update(actor=manager, deal=deal, promised_date=dt.date(2030, 1, 15))
    browser.post(reverse("confirmation-request", args=[deal.pk]))

    message = OutboxMessage.objects.get(user=supply, channel="inapp")
    assert "15.01.2030" in message.text and "Труба 57×3,5: 4" in message.text


def test_a_background_task_cannot_win_an_unapproved_deal(manager):
    """A huey task runs the same service in enforce mode: refused, nothing changed."""
    from huey.contrib.djhuey import db_task

    from vrop.core.errors import RuleViolation
    from vrop.crm.models import StageChange
    from vrop.crm.services import LineInput, deal_create, deal_stage_change

    deal = deal_create(
        actor=manager,
        client=ClientFactory(manager=manager),
        lines=[
            LineInput(
                product=ProductFactory(list_price=D("56000"), cost_price=D("48000")),
                qty=D("10"),
                price=D("53200"),
            )
        ],
        next_step_title="Согласовать",
        next_step_due_at=timezone.now() + dt.timedelta(days=1),
    )

    @db_task()
    def close_won_task(deal_id: int) -> str:
        deal_stage_change(actor=manager, deal=Deal.objects.get(pk=deal_id), stage=Stage.WON)
        return "won"

    with pytest.raises(RuleViolation) as error:
        close_won_task.call_local(deal.pk)

    assert error.value.code == "approval_required"
    deal.refresh_from_db()
    assert (deal.stage, StageChange.objects.filter(deal=deal).count()) == (Stage.LEAD, 1)


@time_machine.travel(NOW, tick=False)
def test_the_set_based_approval_state_is_the_per_deal_one(manager, head, monkeypatch):
    from vrop.pricing import services
    from vrop.pricing.services import deal_approval_state, deals_approval_states, lines_fingerprint

    monkeypatch.setattr(services, "CHUNK", 2)  # several chunks
    rebar = ProductFactory(list_price=D("56000"), cost_price=D("48000"))
    deals = []
    for price in ("55000", "53200", "53200", "53200", "40000"):
        deal = DealFactory(client=ClientFactory(manager=manager), stage=Stage.WON)
        DealLineFactory(deal=deal, product=rebar, price=D(price), qty=D("2.5"))
        deals.append(deal)
    no_lines = DealFactory(client=ClientFactory(manager=manager), stage=Stage.WON)
    deals.append(no_lines)
    for deal, fingerprint in ((deals[2], lines_fingerprint(deals[2])), (deals[3], "stale")):
        ApprovalRequest.objects.create(
            deal=deal,
            level="head",
            lines_fingerprint=fingerprint,
            status="approved",
            requested_at=NOW,
            decided_by=head,
            decided_at=NOW,
        )

    states = deals_approval_states([d.pk for d in deals])

    assert states == {deal.pk: deal_approval_state(deal) for deal in deals}
    assert [states[d.pk][2] for d in deals] == [True, False, True, False, False, True]
