"""Invariants over generated data (Hypothesis), and the numbers read through
``analytics.sources`` equal the owning apps' own selectors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.analytics.conftest import at, d
from vrop.analytics import sources
from vrop.analytics.periods import Period
from vrop.analytics.selectors.funnel import funnel
from vrop.analytics.selectors.kpi import quote_to_payment, sales_totals
from vrop.crm.choices import Stage

NOVEMBER = Period(d(1), d(30), "month")
HYPOTHESIS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

money = st.decimals(min_value=0, max_value=5_000_000, places=2)
days = st.integers(min_value=1, max_value=30)
shipment = st.tuples(days, money, money)
invoice = st.tuples(st.integers(min_value=-90, max_value=40), money, st.sampled_from([0, 50, 100]))
deal = st.tuples(
    st.sampled_from(["lead", "contact", "quote", "won", "lost"]),
    money,
    days,
    st.booleans(),
)


@HYPOTHESIS
@given(shipments=st.lists(shipment, max_size=8), invoices=st.lists(invoice, max_size=8))
def test_money_invariants(frozen, owner, shipments, invoices):
    with transaction.atomic():
        manager = factories.ManagerFactory()
        client = factories.ClientFactory(manager=manager)
        for day, amount, cost in shipments:
            factories.ShipmentFactory(
                deal__client=client,
                manager=manager,
                shipped_on=d(day),
                amount=amount,
                cost=cost,
            )
        for due_in, amount, paid_pct in invoices:
            due_on = d(20) + dt.timedelta(days=due_in)
            factories.InvoiceFactory(
                deal__client=client,
                client=client,
                issued_on=due_on - dt.timedelta(days=10),
                due_on=due_on,
                amount=amount + Decimal("1"),
                paid_amount=(amount + Decimal("1")) * paid_pct / 100,
                paid_on=None if paid_pct < 100 else due_on,
            )

        totals = sales_totals(viewer=owner, period=NOVEMBER)
        ageing = sources.receivables_ageing(viewer=owner, at=d(20))

        assert totals.revenue == sum((a for _d, a, _c in shipments), Decimal(0))
        assert totals.gross_profit == totals.revenue - totals.cost
        if totals.revenue == 0:
            assert totals.margin_pct is None
        assert sum(ageing.buckets.values(), Decimal(0)) == ageing.total
        assert ageing.total >= 0
        transaction.set_rollback(True)


@HYPOTHESIS
@given(deals=st.lists(deal, min_size=1, max_size=10))
def test_conversions_are_shares(frozen, owner, deals):
    with transaction.atomic():
        manager = factories.ManagerFactory()
        for stage, amount, day, paid in deals:
            item = factories.DealFactory(
                client__manager=manager,
                manager=manager,
                stage=stage,
                amount=amount,
                received_at=at(day, 10),
            )
            factories.StageChangeFactory(deal=item, stage=stage, changed_at=at(day, 11))
            if stage == Stage.WON and paid:
                factories.InvoiceFactory(
                    deal=item,
                    issued_on=d(day),
                    due_on=d(day),
                    paid_on=d(day),
                    amount=Decimal("1"),
                    paid_amount=Decimal("1"),
                )

        result = funnel(viewer=owner, period=NOVEMBER)
        conversion = quote_to_payment(viewer=owner, period=NOVEMBER)

        counts = [step.deals for step in result.steps]
        assert counts == sorted(counts, reverse=True)  # each step only loses deals
        for step in result.steps[1:]:
            assert step.conversion_pct is None or 0 <= step.conversion_pct <= 100
        assert conversion.pct is None or 0 <= conversion.pct <= 100
        assert conversion.amount_pct is None or 0 <= conversion.amount_pct <= 100
        transaction.set_rollback(True)


def test_requests_on_time_equals_discipline(company, owner):
    from vrop.discipline.selectors import sla_stats

    ours = sources.sla_summary(viewer=owner, period=NOVEMBER)
    theirs = sla_stats(viewer=owner, date_from=d(1), date_to=d(30))

    assert ours.on_time_pct == theirs["requests_on_time_pct"] == Decimal("33.3")
    first = theirs["first_contact"]
    assert (ours.on_time, ours.total) == (
        first["within_sla"],
        first["measured"] + first["pending_breached"],
    )


def test_days_to_payment_equals_receivables(company, owner):
    from vrop.receivables.selectors import days_to_payment

    ours = sources.days_to_payment(viewer=owner, period=NOVEMBER)
    theirs = days_to_payment(viewer=owner, date_from=d(1), date_to=d(30))

    assert (ours.count, ours.median, ours.mean) == (theirs.count, theirs.median, theirs.mean)
    assert ours.median == Decimal("10")


def test_stalled_equals_discipline(company, owner, frozen):
    from vrop.discipline.selectors import stalled_deals

    ours = sources.stalled_summary(viewer=owner, at=frozen)
    theirs = stalled_deals(viewer=owner, at=frozen)

    assert (ours.count, ours.amount) == (theirs.count, theirs.amount)
