"""The owner's largest open deals with their risks, the "fully paid" day (``Deal.paid_on``)
in the conversion and the funnel, and the numbers of other apps for a team — by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests import factories
from tests.analytics.conftest import NOW, at, d, deal_for, move, pay
from vrop.analytics import sources
from vrop.analytics.periods import Period, Scope
from vrop.analytics.selectors.dashboards import largest_open_deals
from vrop.analytics.selectors.funnel import funnel
from vrop.analytics.selectors.kpi import quote_to_payment
from vrop.core.policy import company_settings_cached
from vrop.crm.choices import Stage
from vrop.pricing.models import ApprovalRequest

NOVEMBER = Period(d(1), d(30), "month")


def test_largest_open_deals_are_the_largest_of_all_open_stages(
    frozen, owner, django_assert_max_num_queries
):
    manager = factories.ManagerFactory()
    other = factories.ManagerFactory()
    amounts = {
        Stage.LEAD: ["10", "70", "20"],
        Stage.QUOTE: ["50", "45"],
        Stage.CONTACT: ["60", "30", "40", "5", "80", "1", "50"],  # this 50 is created later
        Stage.WON: ["1000"],  # not open
        Stage.LOST: ["999"],  # not open
    }
    for stage, values in amounts.items():
        for amount in values:
            deal_for(manager, stage=stage, amount=amount)
    deal_for(other, stage=Stage.QUOTE, amount="90")

    with company_settings_cached(), django_assert_max_num_queries(2):
        rows = largest_open_deals(viewer=owner, at=NOW, day=d(20))

    # 90 (other's quote), 80 (contact), 70 (lead), 60 (contact), then of the two 50s the
    # one created first (the quote): amount descending, then id.
    assert [(row.deal.amount, row.deal.stage) for row in rows] == [
        (Decimal("90"), Stage.QUOTE),
        (Decimal("80"), Stage.CONTACT),
        (Decimal("70"), Stage.LEAD),
        (Decimal("60"), Stage.CONTACT),
        (Decimal("50"), Stage.QUOTE),
    ]
    # A manager sees only their own: the 90 of the other manager is gone.
    mine = largest_open_deals(viewer=manager, at=NOW, day=d(20))
    assert [row.deal.amount for row in mine] == [Decimal(v) for v in ("80", "70", "60", "50", "50")]


def test_risks_of_the_largest_deals(frozen, owner):
    manager = factories.ManagerFactory()
    moving = {
        "next_step_at": NOW + dt.timedelta(days=1),
        "last_activity_at": NOW,
        "stage_changed_at": NOW,
    }
    snoozed = deal_for(manager, stage=Stage.QUOTE, amount="300", received=at(2))
    factories.SnoozeFactory(deal=snoozed)  # stalled by the rule, but snoozed: not a risk
    stalled = deal_for(manager, stage=Stage.QUOTE, amount="250", received=at(2))
    promised = deal_for(
        manager, stage=Stage.QUOTE, amount="200", promised_date=d(25), received=at(19), **moving
    )
    ApprovalRequest.objects.create(
        deal=promised, level="head", lines_fingerprint="x", requested_at=NOW
    )
    confirmed = deal_for(
        manager, stage=Stage.QUOTE, amount="100", promised_date=d(25), received=at(19), **moving
    )
    factories.ConfirmationFactory(deal=confirmed, valid_until=NOW + dt.timedelta(days=3))
    expired = deal_for(
        manager, stage=Stage.QUOTE, amount="90", promised_date=d(25), received=at(19), **moving
    )
    factories.ConfirmationFactory(deal=expired, valid_until=NOW - dt.timedelta(hours=1))

    rows = largest_open_deals(viewer=owner, at=NOW, day=d(20))

    assert [(row.deal.pk, row.risks) for row in rows] == [
        (snoozed.pk, ["no_next_step"]),
        (stalled.pk, ["no_next_step", "stalled"]),
        (promised.pk, ["unconfirmed_promise", "pending_approval"]),
        (confirmed.pk, []),
        (expired.pk, ["unconfirmed_promise"]),
    ]


def test_over_limit_is_the_credit_rules_exposure_with_the_deal(frozen, owner):
    """Limit 1 000 on 14 days' deferral. Exposure with a deal = unpaid invoice balances
    + won deals not invoiced + the deal − advances (receivables' one definition)."""
    manager = factories.ManagerFactory()
    client = factories.ClientFactory(
        manager=manager, payment_terms_days=14, credit_limit=Decimal("1000")
    )
    # A won deal of 1 000 with one invoice of 500, 200 of it paid: unpaid 300, not invoiced
    # 500 — exposure 800. An open deal of 250 would make it 1 050: over the limit (unpaid
    # invoices alone plus the deal, 550, would not be).
    won = deal_for(manager, client=client, stage=Stage.WON, amount="1000")
    invoice = factories.InvoiceFactory(deal=won, client=client, amount=Decimal("500"))
    pay(invoice, "200", d(10))
    over = deal_for(manager, client=client, stage=Stage.QUOTE, amount="250")
    rows = largest_open_deals(viewer=owner, at=NOW, day=d(20))
    assert [row.deal.pk for row in rows] == [over.pk]
    assert "over_limit" in rows[0].risks
    # An advance of 50 brings it to 1 000: not over (the rule refuses only above the limit).
    factories.PaymentFactory(client=client, invoice=None, amount=Decimal("50"), paid_on=d(12))
    rows = largest_open_deals(viewer=owner, at=NOW, day=d(20))
    assert "over_limit" not in rows[0].risks


def test_a_deal_is_paid_on_the_day_its_last_invoice_is_paid(frozen, owner):
    manager = factories.ManagerFactory()
    # Reached the quote on 3.11; two invoices paid on 6.11 and 9.11: fully paid on 9.11.
    paid = deal_for(manager, stage=Stage.WON, amount="1000", received=at(2))
    move(paid, Stage.QUOTE, at(3), "lead")
    first = factories.InvoiceFactory(deal=paid, issued_on=d(4), amount=Decimal("600"))
    second = factories.InvoiceFactory(deal=paid, issued_on=d(4), amount=Decimal("400"))
    pay(first, "600", d(6))
    pay(second, "400", d(9))
    # Reached the quote on 3.11; one invoice paid on 5.11, a second one never: not paid.
    unpaid = deal_for(manager, stage=Stage.WON, amount="500", received=at(2))
    move(unpaid, Stage.QUOTE, at(3), "lead")
    pay(factories.InvoiceFactory(deal=unpaid, issued_on=d(4), amount=Decimal("100")), "100", d(5))
    factories.InvoiceFactory(deal=unpaid, issued_on=d(6), amount=Decimal("400"))
    paid.refresh_from_db()
    unpaid.refresh_from_db()
    assert (paid.paid_on, unpaid.paid_on) == (d(9), None)

    before = quote_to_payment(viewer=owner, period=NOVEMBER, as_of=d(8))
    on_the_day = quote_to_payment(viewer=owner, period=NOVEMBER, as_of=d(9))

    assert (before.deals, before.deals_converted) == (2, 0)
    assert (on_the_day.deals, on_the_day.deals_converted) == (2, 1)
    assert on_the_day.amount_converted == Decimal("1000.00")
    assert on_the_day.pct == Decimal("50.00")  # 1 of 2
    assert on_the_day.amount_pct == Decimal("66.67")  # 1 000 of 1 500
    step = funnel(viewer=owner, period=NOVEMBER, as_of=d(9)).step("paid")
    # Arrived 2.11, fully paid 9.11: 7 days.
    assert (step.deals, step.amount, step.cycle_days) == (1, Decimal("1000.00"), Decimal("7.0"))
    assert funnel(viewer=owner, period=NOVEMBER, as_of=d(8)).step("paid").deals == 0


def test_numbers_of_other_apps_for_a_team(company, owner):
    outsider = factories.ManagerFactory()  # no team
    # On time (5 working minutes) and an invoice paid in 2 days: in the company, not the team.
    deal_for(
        outsider,
        stage=Stage.CONTACT,
        received=at(16, 10),
        first_contact_at=at(16, 10) + dt.timedelta(minutes=5),
    )
    invoice = factories.InvoiceFactory(
        deal=deal_for(outsider, stage=Stage.WON), issued_on=d(1), amount=Decimal("10")
    )
    pay(invoice, "10", d(3))
    team = Scope(team_id=company.team.pk)

    everyone = sources.sla_summary(viewer=owner, period=NOVEMBER, at=NOW)
    ours = sources.sla_summary(viewer=owner, period=NOVEMBER, scope=team, at=NOW)
    # The team: d1 on time, d2 late, d5 waiting past the SLA (conftest); + the outsider's.
    assert (ours.total, ours.on_time, ours.on_time_pct) == (3, 1, Decimal("33.3"))
    assert (everyone.total, everyone.on_time, everyone.on_time_pct) == (4, 2, Decimal("50.0"))

    # Days to payment: the team's 7, 10 and 32 days; the company also the outsider's 2.
    days_team = sources.days_to_payment(viewer=owner, period=NOVEMBER, scope=team)
    days_all = sources.days_to_payment(viewer=owner, period=NOVEMBER)
    assert (days_team.count, days_team.median, days_team.mean) == (3, 10, Decimal("16.3"))
    assert (days_all.count, days_all.median, days_all.mean) == (4, Decimal("8.5"), Decimal("12.8"))
