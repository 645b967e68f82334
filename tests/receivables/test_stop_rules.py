"""The credit stop rules on the service paths: win, create won, copy, shipment, invoice,
import (flag), with the owner's override and time travel across due dates and holidays."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from tests.factories import DealFactory, InvoiceFactory, PaymentFactory
from tests.receivables.helpers import MSK, deferral_client, quote_deal
from vrop.core.errors import PermissionDenied, RuleViolation
from vrop.core.rulebook import FLAG
from vrop.crm.choices import CreditStatus, Stage
from vrop.crm.models import Deal, StageChange
from vrop.crm.services import deal_copy, deal_create, deal_stage_change
from vrop.receivables.models import CreditOverride, Invoice, Shipment
from vrop.receivables.services import (
    client_credit_set,
    credit_override_decide,
    credit_override_grant,
    credit_override_request,
    invoice_create,
    shipment_create,
)
from vrop.receivables.services.credit import credit_override_callback

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def won_deal(manager, client, amount="100000.00"):
    return DealFactory(client=client, manager=manager, stage=Stage.WON, amount=D(amount))


# --- winning a deal: the limit -----------------------------------------------------------


def test_exposure_exactly_at_the_limit_wins(manager):
    client = deferral_client(manager, limit="560000.00")
    deal = quote_deal(manager, client)  # 560 000,00

    deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)

    deal.refresh_from_db()
    assert deal.stage == Stage.WON


def test_one_kopeck_over_the_limit_is_refused_and_nothing_changes(manager):
    client = deferral_client(manager, limit="559999.99")
    deal = quote_deal(manager, client)
    stage_before = deal.stage

    with pytest.raises(RuleViolation) as error:
        deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)

    assert error.value.code == "credit_over_limit"
    assert error.value.params == {"exposure": "560000.00", "limit": "559999.99"}
    assert "0,01" in error.value.message
    deal.refresh_from_db()
    assert (deal.stage, deal.closed_at) == (stage_before, None)
    assert StageChange.objects.filter(deal=deal).count() == 1


def test_exposure_counts_unpaid_invoices_won_deals_not_invoiced_and_advances(manager):
    client = deferral_client(manager, limit="700000.00")
    invoiced = won_deal(manager, client, "300000.00")
    InvoiceFactory(deal=invoiced, client=client, amount=D("100000.00"))  # 100 000 unpaid
    InvoiceFactory(
        deal=won_deal(manager, client, "0"),
        client=client,
        amount=D("50000.00"),
        paid_amount=D("20000.00"),
    )  # 30 000 unpaid
    won_deal(manager, client, "40000.00")  # won, not invoiced
    PaymentFactory(invoice=None, client=client, amount=D("10000.00"))  # an advance
    # 100 000 + 30 000 + (300 000 − 100 000) + 40 000 − 10 000 = 360 000 before the deal
    fits = quote_deal(manager, client, qty="6.25")  # 350 000 → 710 000: over by 10 000
    with pytest.raises(RuleViolation) as error:
        deal_stage_change(actor=manager, deal=fits, stage=Stage.WON)
    assert error.value.params["exposure"] == "710000.00"

    smaller = quote_deal(manager, client, qty="6.071")  # 339 976,00 → 699 976,00
    deal_stage_change(actor=manager, deal=smaller, stage=Stage.WON)
    assert Deal.objects.get(pk=smaller.pk).stage == Stage.WON


def test_prepayment_client_wins_without_a_limit(manager):
    client = deferral_client(manager, limit="0", terms=0)
    deal = quote_deal(manager, client)
    deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)
    assert Deal.objects.get(pk=deal.pk).stage == Stage.WON


def test_client_on_stop_cannot_win_even_on_prepayment(manager, finance):
    client = deferral_client(manager, terms=0, limit="0")
    client_credit_set(actor=finance, client=client, credit_status=CreditStatus.STOP, reason="Суд")
    deal = quote_deal(manager, client)
    with pytest.raises(RuleViolation) as error:
        deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)
    assert error.value.code == "credit_client_stop"
    assert "Суд" in error.value.message
    assert Deal.objects.get(pk=deal.pk).stage == Stage.LEAD


def test_prepayment_only_status_still_wins(manager, finance):
    client = deferral_client(manager, limit="1.00")
    client_credit_set(
        actor=finance,
        client=client,
        credit_status=CreditStatus.PREPAYMENT_ONLY,
        reason="Платит с задержкой",
    )
    deal = quote_deal(manager, client)
    deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)
    assert Deal.objects.get(pk=deal.pk).stage == Stage.WON


@pytest.mark.parametrize(("days", "refused"), [(30, False), (31, True)])
def test_an_invoice_overdue_more_than_30_days_puts_the_client_on_stop(manager, days, refused):
    client = deferral_client(manager, terms=0, limit="0")
    InvoiceFactory(
        deal=won_deal(manager, client, "0"),
        client=client,
        number="СЧ-1",
        issued_on=dt.date(2026, 10, 1),
        due_on=dt.date(2026, 11, 23) - dt.timedelta(days=days),
    )
    deal = quote_deal(manager, client)
    if not refused:
        deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)
        return
    with pytest.raises(RuleViolation) as error:
        deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)
    assert error.value.code == "credit_client_stop"
    assert error.value.params == {"days": 31, "invoice": "СЧ-1"}


def test_creating_a_deal_already_won_over_the_limit_writes_nothing(manager):
    client = deferral_client(manager, limit="1000.00")
    from tests.factories import ProductFactory
    from vrop.crm.services import LineInput

    product = ProductFactory(cost_price=D("50000"), list_price=D("56000"))
    with pytest.raises(RuleViolation) as error:
        deal_create(
            actor=manager,
            client=client,
            stage=Stage.WON,
            lines=[LineInput(product=product, qty=D("1"), price=D("56000"))],
        )
    assert error.value.code == "credit_over_limit"
    assert Deal.objects.count() == 0
    assert StageChange.objects.count() == 0


def test_a_copy_of_a_deal_is_refused_when_won_over_the_limit(manager):
    client = deferral_client(manager, limit="600000.00")
    first = quote_deal(manager, client)
    deal_stage_change(actor=manager, deal=first, stage=Stage.WON)  # 560 000 of 600 000
    copy = deal_copy(
        actor=manager,
        deal=first,
        next_step_title="Счёт",
        next_step_due_at=dt.datetime(2026, 11, 24, 10, tzinfo=MSK),
    )
    with pytest.raises(RuleViolation) as error:
        deal_stage_change(actor=manager, deal=copy, stage=Stage.WON)
    assert error.value.code == "credit_over_limit"
    assert error.value.params["exposure"] == "1120000.00"
    assert Deal.objects.get(pk=copy.pk).stage == Stage.LEAD


def test_import_flags_instead_of_refusing(manager):
    client = deferral_client(manager, limit="100.00")
    deal = quote_deal(manager, client)
    deal_stage_change(actor=None, deal=deal, stage=Stage.WON, mode=FLAG)
    deal.refresh_from_db()
    assert deal.stage == Stage.WON
    assert list(deal.flags) == ["credit_over_limit"]


# --- the owner's override ----------------------------------------------------------------


def test_owner_override_lets_one_deal_through_and_is_logged(manager, owner):
    client = deferral_client(manager, limit="100000.00")
    deal = quote_deal(manager, client)
    other = quote_deal(manager, client, qty="1")
    request = credit_override_request(actor=manager, deal=deal, reason="Оплатит в пятницу")
    assert request.violations[0]["code"] == "credit_over_limit"

    credit_override_decide(actor=owner, override=request, grant=True, reason="Знаю клиента")

    deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.channel) == ("granted", owner, "web")
    assert request.decision_reason == "Знаю клиента"
    assert request.deal_amount == D("560000.00")
    with pytest.raises(RuleViolation):  # the override is for that one deal only
        deal_stage_change(actor=manager, deal=other, stage=Stage.WON)


def test_override_by_someone_who_is_not_the_owner_is_refused_with_data_unchanged(
    manager, head, finance
):
    client = deferral_client(manager, limit="100000.00")
    deal = quote_deal(manager, client)
    request = credit_override_request(actor=manager, deal=deal, reason="Срочно")
    for person in (manager, head, finance):
        with pytest.raises(PermissionDenied):
            credit_override_decide(actor=person, override=request, grant=True, reason="Да")
        with pytest.raises(PermissionDenied):
            credit_override_grant(actor=person, deal=deal, reason="Да")
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.decided_at) == ("pending", None, None)
    assert CreditOverride.objects.count() == 1
    with pytest.raises(RuleViolation):
        deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)


def test_override_covers_the_amount_the_owner_saw(manager, owner):
    from tests.factories import ProductFactory
    from vrop.crm.services import LineInput, deal_line_add

    client = deferral_client(manager, limit="100000.00")
    deal = quote_deal(manager, client)
    credit_override_grant(actor=owner, deal=deal, reason="Под мою ответственность")
    product = ProductFactory(cost_price=D("50000"), list_price=D("56000"))
    deal_line_add(actor=manager, deal=deal, line=LineInput(product=product, qty=D("1")))

    with pytest.raises(RuleViolation) as error:
        deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)
    assert error.value.code == "credit_over_limit"


def test_telegram_button_of_the_owner_grants_and_of_another_is_refused(manager, head, owner):
    client = deferral_client(manager, limit="100000.00")
    deal = quote_deal(manager, client)
    request = credit_override_request(actor=manager, deal=deal, reason="Предоплата завтра")

    with pytest.raises(PermissionDenied):
        credit_override_callback(user=head, payload=f"{request.pk}:g")
    request.refresh_from_db()
    assert request.status == "pending"

    answer = credit_override_callback(user=owner, payload=f"{request.pk}:g")

    request.refresh_from_db()
    assert (request.status, request.channel, request.decided_by) == ("granted", "telegram", owner)
    assert str(deal) in answer
    deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)


def test_refused_override_keeps_the_rule(manager, owner):
    client = deferral_client(manager, limit="100000.00")
    deal = quote_deal(manager, client)
    request = credit_override_request(actor=manager, deal=deal, reason="Очень надо")
    credit_override_decide(actor=owner, override=request, grant=False, reason="Долг не закрыт")
    with pytest.raises(RuleViolation):
        deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)


# --- shipments on deferral ---------------------------------------------------------------


def overdue_client(manager, *, due_on, limit="10000000.00"):
    client = deferral_client(manager, limit=limit)
    InvoiceFactory(
        deal=won_deal(manager, client, "0"),
        client=client,
        number="СЧ-7",
        issued_on=due_on - dt.timedelta(days=14),
        due_on=due_on,
        amount=D("50000.00"),
    )
    return client


@pytest.mark.parametrize(("days", "refused"), [(5, False), (6, True)])
def test_an_invoice_overdue_more_than_5_days_stops_shipments_on_deferral(manager, days, refused):
    client = overdue_client(manager, due_on=dt.date(2026, 11, 23) - dt.timedelta(days=days))
    deal = won_deal(manager, client, "10000.00")
    if not refused:
        shipment = shipment_create(actor=manager, deal=deal, shipped_on=dt.date(2026, 11, 23))
        assert shipment.is_deferred is True
        return
    with pytest.raises(RuleViolation) as error:
        shipment_create(actor=manager, deal=deal, shipped_on=dt.date(2026, 11, 23))
    assert error.value.code == "credit_overdue_shipment"
    assert error.value.params == {"days": 6, "invoice": "СЧ-7"}
    assert Shipment.objects.count() == 0


def test_a_prepaid_shipment_is_not_stopped_by_overdue(manager):
    client = overdue_client(manager, due_on=dt.date(2026, 11, 1))
    deal = won_deal(manager, client, "10000.00")
    shipment = shipment_create(
        actor=manager, deal=deal, shipped_on=dt.date(2026, 11, 23), is_deferred=False
    )
    assert shipment.pk is not None


@pytest.mark.parametrize(
    ("status", "terms", "limit", "code"),
    [
        (CreditStatus.PREPAYMENT_ONLY, 14, "1000000", "credit_prepayment_only"),
        (CreditStatus.STOP, 14, "1000000", "credit_client_stop"),
        (CreditStatus.ACTIVE, 14, "0", "credit_no_deferral"),
        (CreditStatus.ACTIVE, 0, "1000000", "credit_no_deferral"),
    ],
)
def test_shipment_on_deferral_needs_an_active_deferral_with_a_limit(
    manager, finance, status, terms, limit, code
):
    client = deferral_client(manager, terms=terms, limit=limit)
    if status != CreditStatus.ACTIVE:
        client_credit_set(actor=finance, client=client, credit_status=status, reason="Решение")
    deal = won_deal(manager, client, "1000.00")
    with pytest.raises(RuleViolation) as error:
        shipment_create(
            actor=manager, deal=deal, shipped_on=dt.date(2026, 11, 23), is_deferred=True
        )
    assert error.value.code == code
    assert Shipment.objects.count() == 0


def test_owner_override_lets_a_shipment_through(manager, owner):
    client = overdue_client(manager, due_on=dt.date(2026, 11, 1))
    deal = won_deal(manager, client, "10000.00")
    credit_override_grant(actor=owner, deal=deal, reason="Гарантийное письмо")
    shipment = shipment_create(actor=manager, deal=deal, shipped_on=dt.date(2026, 11, 23))
    assert shipment.is_deferred is True


def test_shipment_import_flags_the_deal(manager):
    client = overdue_client(manager, due_on=dt.date(2026, 11, 1))
    deal = won_deal(manager, client, "10000.00")
    shipment_create(actor=None, deal=deal, shipped_on=dt.date(2026, 11, 23), mode=FLAG)
    deal.refresh_from_db()
    assert list(deal.flags) == ["credit_overdue_shipment"]
    assert Shipment.objects.filter(deal=deal).count() == 1


def test_time_travel_across_a_due_date_and_the_new_year_holidays(manager, finance):
    """Terms of 17 days from 15.12.2026 end on 01.01.2027, a holiday: due 11.01.2027, the
    first working day; shipments stop on the 6th day after it."""
    client = deferral_client(manager, terms=17, limit="10000000.00")
    with time_machine.travel(dt.datetime(2026, 12, 15, 10, tzinfo=MSK), tick=False):
        invoice = invoice_create(
            actor=finance,
            deal=won_deal(manager, client, "0"),
            number="СЧ-НГ",
            issued_on=dt.date(2026, 12, 15),
            amount=D("80000.00"),
        )
    assert invoice.due_on == dt.date(2027, 1, 11)
    deal = won_deal(manager, client, "1000.00")
    for day in (dt.date(2027, 1, 11), dt.date(2027, 1, 16)):  # 0 and 5 days overdue
        with time_machine.travel(dt.datetime.combine(day, dt.time(10), MSK), tick=False):
            assert shipment_create(actor=manager, deal=deal, shipped_on=day).pk
    with time_machine.travel(dt.datetime(2027, 1, 17, 10, tzinfo=MSK), tick=False):
        with pytest.raises(RuleViolation) as error:
            shipment_create(actor=manager, deal=deal, shipped_on=dt.date(2027, 1, 17))
    assert error.value.params["days"] == 6
    assert Shipment.objects.filter(deal=deal).count() == 2


# --- invoices ----------------------------------------------------------------------------


def test_invoice_due_date_follows_terms_and_moves_off_days_off(manager, finance):
    client = deferral_client(manager, terms=12)  # 23.11 + 12 = Saturday 05.12.2026
    invoice = invoice_create(
        actor=finance,
        deal=won_deal(manager, client, "0"),
        number="1",
        issued_on=dt.date(2026, 11, 23),
        amount=D("1000.00"),
    )
    assert invoice.due_on == dt.date(2026, 12, 7)


def test_invoice_with_more_deferral_than_the_terms_is_refused(manager, finance):
    client = deferral_client(manager, terms=12)
    with pytest.raises(RuleViolation) as error:
        invoice_create(
            actor=finance,
            deal=won_deal(manager, client, "0"),
            number="1",
            issued_on=dt.date(2026, 11, 23),
            due_on=dt.date(2026, 12, 8),
            amount=D("1000.00"),
        )
    assert error.value.code == "credit_terms_exceeded"
    assert "07.12.2026" in error.value.message
    assert Invoice.objects.count() == 0


def test_invoice_on_deferral_to_a_prepayment_client_is_refused(manager, finance):
    client = deferral_client(manager, terms=0, limit="0")
    with pytest.raises(RuleViolation) as error:
        invoice_create(
            actor=finance,
            deal=won_deal(manager, client, "0"),
            number="1",
            issued_on=dt.date(2026, 11, 23),
            due_on=dt.date(2026, 11, 30),
            amount=D("1000.00"),
        )
    assert error.value.code == "credit_no_deferral"
    assert Invoice.objects.count() == 0


def test_invoice_to_a_client_on_prepayment_only_is_due_on_its_date(manager, finance):
    client = deferral_client(manager, terms=30)
    client_credit_set(
        actor=finance, client=client, credit_status=CreditStatus.PREPAYMENT_ONLY, reason="Долг"
    )
    invoice = invoice_create(
        actor=finance,
        deal=won_deal(manager, client, "0"),
        number="1",
        issued_on=dt.date(2026, 11, 23),
        amount=D("1000.00"),
    )
    assert invoice.due_on == dt.date(2026, 11, 23)


def test_imports_flag_recently_won_deals_of_clients_the_credit_rules_stop(manager, owner):
    from vrop.core import rulebook

    over = deferral_client(manager, limit="100.00")
    on_time = deferral_client(manager, limit="1000000.00")
    recent = DealFactory(
        client=over,
        manager=manager,
        stage=Stage.WON,
        amount=D("500.00"),
        stage_changed_at=dt.datetime(2026, 11, 20, tzinfo=MSK),
    )
    old = DealFactory(
        client=over,
        manager=manager,
        stage=Stage.WON,
        amount=D("500.00"),
        stage_changed_at=dt.datetime(2026, 9, 1, tzinfo=MSK),
    )
    fine = DealFactory(client=on_time, manager=manager, stage=Stage.WON, amount=D("500.00"))
    allowed = DealFactory(client=over, manager=manager, stage=Stage.WON, amount=D("500.00"))
    credit_override_grant(actor=owner, deal=allowed, reason="Разрешено")

    found = rulebook.evaluate_bulk(
        "deal.save", Deal.objects.filter(pk__in=[recent.pk, old.pk, fine.pk, allowed.pk])
    )

    assert {pk: [v.code for v in vs] for pk, vs in found.items()} == {
        recent.pk: ["credit_over_limit"]
    }
    # every other path: saving a won deal is not refused by the credit rules later on
    from vrop.crm.services import deal_update

    deal_update(actor=manager, deal=recent, title="Новое название")
