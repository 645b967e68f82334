"""The facts a deal keeps for the numbers: working seconds to first contact and to the
quote, and the day it became fully paid — written on every path that changes them."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.factories import ClientFactory
from vrop.core.policy import company_settings
from vrop.crm.choices import ActivityKind, Stage
from vrop.crm.models import Deal
from vrop.crm.services import activity_create, deal_create, deal_stage_change, deal_update
from vrop.discipline.worktime import ensure_calendar
from vrop.receivables.services import invoice_create, payment_record

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")


def msk(day, hour, minute=0):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=MSK)


@pytest.fixture
def deal(manager):
    """Arrived on Monday 16.11 at 17:55, five working minutes before closing time."""
    return deal_create(
        actor=manager,
        client=ClientFactory(manager=manager),
        received_at=msk(16, 17, 55),
        next_step_title="Позвонить",
        next_step_due_at=msk(30, 10),
    )


def facts(deal):
    deal.refresh_from_db()
    return deal.first_contact_work_seconds, deal.quote_work_seconds


def test_stage_changes_write_the_working_seconds(deal, manager):
    assert facts(deal) == (None, None)
    deal_stage_change(actor=manager, deal=deal, stage=Stage.CONTACT, at=msk(17, 9, 20))
    assert facts(deal) == ((5 + 20) * 60, None)  # 17:55–18:00 and 9:00–9:20
    deal_stage_change(actor=manager, deal=deal, stage=Stage.QUOTE, at=msk(17, 11, 55))
    assert facts(deal) == ((5 + 20) * 60, (5 + 175) * 60)


def test_an_earlier_call_moves_the_first_contact(deal, manager):
    deal_stage_change(actor=manager, deal=deal, stage=Stage.CONTACT, at=msk(17, 12))
    assert facts(deal)[0] == (5 + 180) * 60
    activity_create(actor=manager, kind=ActivityKind.CALL, deal=deal, occurred_at=msk(17, 9, 2))
    assert facts(deal)[0] == (5 + 2) * 60


def test_a_changed_arrival_is_counted_again(deal, manager):
    deal_stage_change(actor=manager, deal=deal, stage=Stage.CONTACT, at=msk(17, 9, 20))
    deal_update(actor=manager, deal=deal, received_at=msk(17, 9, 0))
    assert facts(deal)[0] == 20 * 60


def test_new_working_hours_recount_every_deal(deal, manager):
    deal_stage_change(actor=manager, deal=deal, stage=Stage.CONTACT, at=msk(17, 10, 30))
    assert facts(deal)[0] == (5 + 90) * 60
    policy = company_settings()
    policy.workday_start = dt.time(10, 0)
    policy.save()
    assert ensure_calendar() is True  # the table is rebuilt for the new hours …
    assert facts(deal)[0] == (5 + 30) * 60  # … and the stored seconds follow


def test_paid_on_is_the_day_the_last_invoice_was_paid(deal, manager, finance):
    deal_stage_change(actor=manager, deal=deal, stage=Stage.CONTACT, at=msk(17, 10))
    first = invoice_create(
        actor=finance, deal=deal, number="1", issued_on=dt.date(2026, 11, 17), amount=Decimal(600)
    )
    second = invoice_create(
        actor=finance, deal=deal, number="2", issued_on=dt.date(2026, 11, 18), amount=Decimal(400)
    )

    def paid_on():
        return Deal.objects.values_list("paid_on", flat=True).get(pk=deal.pk)

    payment_record(actor=finance, invoice=first, paid_on=dt.date(2026, 11, 20), amount=Decimal(600))
    assert paid_on() is None  # the second invoice is still open
    payment_record(
        actor=finance, invoice=second, paid_on=dt.date(2026, 11, 19), amount=Decimal(400)
    )
    assert paid_on() == dt.date(2026, 11, 20)  # the later of the two
    payment_record(
        actor=finance, invoice=first, paid_on=dt.date(2026, 11, 23), amount=Decimal(-100)
    )
    assert paid_on() is None  # a refund reopens the first invoice
    invoice_create(
        actor=finance, deal=deal, number="3", issued_on=dt.date(2026, 11, 24), amount=Decimal(50)
    )
    payment_record(actor=finance, invoice=first, paid_on=dt.date(2026, 11, 25), amount=Decimal(100))
    assert paid_on() is None  # a new unpaid invoice keeps it open


def test_a_deal_without_invoices_is_not_paid(deal):
    deal.refresh_from_db()
    assert deal.paid_on is None


def test_bulk_payments_of_a_statement_keep_paid_on(deal, manager, finance):
    from vrop.receivables.models import Payment
    from vrop.receivables.services import payments_record_bulk

    deal_stage_change(actor=manager, deal=deal, stage=Stage.CONTACT, at=msk(17, 10))
    invoice = invoice_create(
        actor=finance, deal=deal, number="1", issued_on=dt.date(2026, 11, 17), amount=Decimal(600)
    )
    payments_record_bulk(
        actor=finance,
        payments=[
            Payment(invoice=invoice, client=invoice.client, paid_on=day, amount=Decimal(300))
            for day in (dt.date(2026, 11, 18), dt.date(2026, 11, 19))
        ],
    )
    deal.refresh_from_db()
    assert deal.paid_on == dt.date(2026, 11, 19)


def moments(deal):
    deal.refresh_from_db()
    return deal.contact_reached_at, deal.quote_reached_at, deal.won_reached_at


def test_stage_moments_are_the_first_time_each_step_was_reached(deal, manager):
    assert moments(deal) == (None, None, None)
    deal_stage_change(actor=manager, deal=deal, stage=Stage.CONTACT, at=msk(17, 9, 20))
    assert moments(deal) == (msk(17, 9, 20), None, None)
    deal_stage_change(actor=manager, deal=deal, stage=Stage.QUOTE, at=msk(18, 11))
    deal_stage_change(actor=manager, deal=deal, stage=Stage.CONTACT, at=msk(19, 10))
    deal_stage_change(actor=manager, deal=deal, stage=Stage.QUOTE, at=msk(20, 10))
    # Going back and forth keeps the first moments.
    assert moments(deal) == (msk(17, 9, 20), msk(18, 11), None)
    deal_stage_change(actor=manager, deal=deal, stage=Stage.WON, at=msk(23, 15))
    assert moments(deal) == (msk(17, 9, 20), msk(18, 11), msk(23, 15))


def test_a_deal_created_won_has_passed_contact_and_quote(manager):
    won = deal_create(
        actor=manager,
        client=ClientFactory(manager=manager),
        received_at=msk(16, 10),
        stage=Stage.WON,
        amount="1000",
    )
    assert moments(won)[0] == moments(won)[1] == moments(won)[2] is not None


def test_a_change_dated_earlier_moves_the_moment(deal, manager):
    deal_stage_change(actor=manager, deal=deal, stage=Stage.WON, at=msk(20, 12))
    deal_stage_change(actor=manager, deal=deal, stage=Stage.QUOTE, at=msk(19, 12))
    # The quote (a later stage than contact) is also the first contact now.
    assert moments(deal) == (msk(19, 12), msk(19, 12), msk(20, 12))
    # A move to lost or back to the lead stage reaches nothing.
    deal_stage_change(actor=manager, deal=deal, stage=Stage.LOST, lost_reason="Дорого")
    assert moments(deal) == (msk(19, 12), msk(19, 12), msk(20, 12))


def test_the_refresh_writes_only_deals_whose_moments_differ(deal, manager):
    from vrop.crm.services import deals_stage_moments_refresh

    deal_stage_change(actor=manager, deal=deal, stage=Stage.QUOTE, at=msk(17, 10))
    assert deals_stage_moments_refresh(Deal.objects.all()) == 0
    Deal.objects.filter(pk=deal.pk).update(quote_reached_at=None, contact_reached_at=None)
    assert deals_stage_moments_refresh(Deal.objects.all()) == 1
    assert moments(deal) == (msk(17, 10), msk(17, 10), None)
