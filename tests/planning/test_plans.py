"""Plans: the target of a period, run-rate, and decomposition onto managers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests import factories
from vrop.analytics.periods import Period, Scope
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.planning.models import Metric, Plan
from vrop.planning.selectors import plan_target, run_rate
from vrop.planning.services import plan_decompose, split_by_weights

OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31), "month")
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30), "month")
DECEMBER = Period(dt.date(2026, 12, 1), dt.date(2026, 12, 31), "month")
Q4 = Period(dt.date(2026, 10, 1), dt.date(2026, 12, 31), "quarter")


def _plan(period: Period, target: str, **kwargs):
    return factories.PlanFactory(
        period_start=period.start, period_end=period.end, target=Decimal(target), **kwargs
    )


def test_a_month_plan_prorated_to_a_week_by_working_days(owner):
    _plan(NOVEMBER, "200000")
    week = Period(dt.date(2026, 11, 16), dt.date(2026, 11, 22), "week")

    # 5 of November's 20 working days.
    assert plan_target(viewer=owner, metric=Metric.GROSS_PROFIT, period=week) == Decimal("50000.00")


def test_month_plans_win_over_the_quarter_plan_they_refine(owner):
    _plan(Q4, "600000")
    _plan(OCTOBER, "100000")
    _plan(NOVEMBER, "200000")
    _plan(DECEMBER, "250000")

    assert plan_target(viewer=owner, metric=Metric.GROSS_PROFIT, period=Q4) == Decimal("550000.00")
    assert plan_target(viewer=owner, metric=Metric.GROSS_PROFIT, period=NOVEMBER) == Decimal(
        "200000.00"
    )


def test_a_quarter_plan_alone_is_prorated_to_its_month(owner):
    _plan(Q4, "600000")

    # 20 of the quarter's 64 working days (22 + 20 + 22).
    assert plan_target(viewer=owner, metric=Metric.GROSS_PROFIT, period=NOVEMBER) == Decimal(
        "187500.00"
    )


def test_plans_of_other_metrics_and_scopes_do_not_count(owner, manager):
    _plan(NOVEMBER, "1", metric=Metric.REVENUE)
    _plan(NOVEMBER, "2", manager=manager)

    assert plan_target(viewer=owner, metric=Metric.GROSS_PROFIT, period=NOVEMBER) == Decimal(
        "2.00"
    )  # no company plan: the sum of the managers' plans
    assert plan_target(viewer=owner, metric=Metric.VOLUME, period=NOVEMBER) is None


def test_a_manager_reads_only_own_plan(manager, other_manager):
    _plan(NOVEMBER, "300", manager=manager)
    _plan(NOVEMBER, "700", manager=other_manager)

    assert plan_target(
        viewer=manager, metric=Metric.GROSS_PROFIT, period=NOVEMBER, scope=Scope(manager.pk)
    ) == Decimal("300.00")
    assert (
        plan_target(
            viewer=manager,
            metric=Metric.GROSS_PROFIT,
            period=NOVEMBER,
            scope=Scope(other_manager.pk),
        )
        is None
    )


@pytest.mark.parametrize(
    ("at", "passed", "projection"),
    [
        (dt.date(2026, 10, 31), 0, None),  # before the period
        (dt.date(2026, 11, 1), 0, None),  # a Sunday: no working day passed yet
        (dt.date(2026, 11, 2), 1, Decimal("200000.00")),
        (dt.date(2026, 11, 4), 2, Decimal("100000.00")),  # 4.11 is a holiday
        (dt.date(2026, 11, 30), 20, Decimal("10000.00")),
        (dt.date(2026, 12, 15), 20, Decimal("10000.00")),  # after the period: the fact
    ],
)
def test_run_rate_on_the_russian_calendar(at, passed, projection):
    result = run_rate(fact=Decimal("10000"), plan=Decimal("40000"), period=NOVEMBER, at=at)

    assert result.working_days == 20
    assert result.working_days_passed == passed
    assert result.projection == projection
    assert result.plan_pct == Decimal("25.00")


@pytest.fixture
def sellers(db):
    team = factories.TeamFactory(name="Север")
    a, b, c = (factories.ManagerFactory(team=team) for _ in range(3))
    factories.ManagerFactory()  # another team's manager: not in the split
    for manager, gross_profit in ((a, "30000"), (b, "10000")):
        factories.ShipmentFactory(
            deal=factories.DealFactory(manager=manager, client__manager=manager),
            manager=manager,
            shipped_on=dt.date(2026, 9, 15),
            amount=Decimal("100000") + Decimal(gross_profit),
            cost=Decimal("100000"),
        )
    factories.ShipmentFactory(  # before the three months of history: ignored
        deal=factories.DealFactory(manager=c, client__manager=c),
        manager=c,
        shipped_on=dt.date(2026, 7, 31),
        amount=Decimal("900000"),
        cost=Decimal("0"),
    )
    return team, a, b, c


def test_decompose_a_team_plan_by_history(head, sellers):
    team, a, b, c = sellers
    plan = _plan(NOVEMBER, "100000", team=team)

    plans = plan_decompose(actor=head, plan=plan, method="history")

    assert {p.manager_id: p.target for p in plans} == {
        a.pk: Decimal("75000.00"),
        b.pk: Decimal("25000.00"),
        c.pk: Decimal("0.00"),
    }
    assert all(p.extra == {"decomposed_from": plan.pk, "method": "history"} for p in plans)


def test_decompose_by_weights_adds_up_to_the_kopeck(head, sellers):
    team, a, b, c = sellers
    plan = _plan(NOVEMBER, "100000", team=team)

    plan_decompose(actor=head, plan=plan, method="weights", weights={a.pk: 1, b.pk: 1, c.pk: 1})
    again = plan_decompose(
        actor=head, plan=plan, method="weights", weights={a.pk: 1, b.pk: 1, c.pk: 1}
    )

    assert sorted(p.target for p in again) == [
        Decimal("33333.33"),
        Decimal("33333.33"),
        Decimal("33333.34"),
    ]
    assert Plan.objects.filter(manager__isnull=False).count() == 3  # replaced, not added


def test_a_manager_may_not_decompose(sellers):
    team, a, _b, _c = sellers
    plan = _plan(NOVEMBER, "100000", team=team)

    with pytest.raises(PermissionDenied):
        plan_decompose(actor=a, plan=plan)

    assert Plan.objects.count() == 1


def test_weights_for_strangers_are_refused(head, sellers, other_manager):
    team, a, _b, _c = sellers
    plan = _plan(NOVEMBER, "100000", team=team)

    with pytest.raises(ValidationError):
        plan_decompose(
            actor=head, plan=plan, method="weights", weights={a.pk: 1, other_manager.pk: 1}
        )

    assert Plan.objects.count() == 1


def test_split_with_no_weight_is_equal():
    assert split_by_weights(Decimal("10"), {1: Decimal("0"), 2: Decimal("0")}) == {
        1: Decimal("5.00"),
        2: Decimal("5.00"),
    }
