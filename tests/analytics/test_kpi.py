"""Each KPI against the hand-computed company of conftest.py (November 2026)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests import factories
from tests.analytics.conftest import d
from vrop.analytics.periods import Period, Scope, period_of
from vrop.analytics.selectors.kpi import kpi, quote_to_payment, sales_totals
from vrop.planning.models import Metric

NOVEMBER = Period(d(1), d(30), "month")


def test_company_kpis_of_november(company, owner, django_assert_max_num_queries):
    factories.PlanFactory(metric=Metric.GROSS_PROFIT, target=Decimal("70000"))
    kpi(viewer=owner, period=NOVEMBER)  # the first call builds discipline's working calendar

    with django_assert_max_num_queries(10):
        numbers = kpi(viewer=owner, period=NOVEMBER).as_dict()

    # 100 000 + 50 000 + 200 000; the 999 of 31.10 is outside.
    assert numbers["revenue"] == Decimal("350000.00")
    assert numbers["cost"] == Decimal("315000.00")
    assert numbers["gross_profit"] == Decimal("35000.00")
    assert numbers["margin_pct"] == Decimal("10.00")  # 35 000 / 350 000
    assert numbers["markup_pct"] == Decimal("11.11")  # 35 000 / 315 000
    assert numbers["plan_pct"] == Decimal("50.00")  # 35 000 / 70 000
    # 20 working days in November 2026 (4.11 is a holiday), 14 passed by 20.11:
    # 35 000 / 14 × 20 = 50 000.
    assert numbers["plan"]["working_days"] == 20
    assert numbers["plan"]["working_days_passed"] == 14
    assert numbers["plan"]["run_rate"] == Decimal("50000.00")
    assert numbers["plan"]["run_rate_pct"] == Decimal("71.43")
    # Cohort: d1 (paid), d2 (one invoice unpaid), d3 (won straight from lead, no invoice);
    # d4 first reached the quote in October.
    assert numbers["quote_to_payment"]["deals"] == 3
    assert numbers["quote_to_payment"]["deals_converted"] == 1
    assert numbers["quote_to_payment_pct"] == Decimal("33.33")
    assert numbers["quote_to_payment"]["amount_pct"] == Decimal("22.22")  # 100 000 / 450 000
    # Fully paid in November: 7, 10 and 32 days.
    assert numbers["days_to_payment_median"] == Decimal("10")
    assert numbers["days_to_payment"]["mean"] == Decimal("16.3")
    assert numbers["requests_on_time_pct"] == Decimal("33.3")  # d1 of d1, d2, d5
    assert numbers["stalled_deals"] == {"count": 1, "amount": Decimal("25000.00")}
    assert numbers["overdue_receivables"] == {
        "total": Decimal("190000.00"),
        "count": 3,
        "buckets": {
            "1-7": Decimal("30000.00"),
            "8-30": Decimal("150000.00"),
            "31-60": Decimal("0.00"),
            "60+": Decimal("10000.00"),
        },
    }


def test_manager_kpis(company, owner):
    numbers = kpi(viewer=owner, period=NOVEMBER, scope=Scope(manager_id=company.a.pk)).as_dict()

    assert numbers["revenue"] == Decimal("150000.00")
    assert numbers["gross_profit"] == Decimal("20000.00")
    assert numbers["margin_pct"] == Decimal("13.33")
    assert numbers["markup_pct"] == Decimal("15.38")
    assert numbers["plan_pct"] is None  # no plan of A's own
    assert numbers["quote_to_payment_pct"] == Decimal("50.00")
    assert numbers["quote_to_payment"]["amount_pct"] == Decimal("25.00")
    assert numbers["days_to_payment_median"] == Decimal("8.5")
    assert numbers["requests_on_time_pct"] == Decimal("33.3")
    assert numbers["stalled_deals"] == {"count": 1, "amount": Decimal("25000.00")}
    assert numbers["overdue_receivables"]["total"] == Decimal("160000.00")


def test_team_without_own_plan_sums_its_managers_plans(company, owner):
    factories.PlanFactory(manager=company.a, target=Decimal("30000"))
    factories.PlanFactory(manager=company.b, target=Decimal("10000"))

    numbers = kpi(viewer=owner, period=NOVEMBER, scope=Scope(team_id=company.team.pk)).as_dict()

    assert numbers["gross_profit"] == Decimal("35000.00")
    assert numbers["plan"]["target"] == Decimal("40000.00")
    assert numbers["plan_pct"] == Decimal("87.50")


def test_a_manager_sees_only_own_numbers(company):
    numbers = kpi(viewer=company.b, period=NOVEMBER).as_dict()

    assert numbers["revenue"] == Decimal("200000.00")
    assert numbers["gross_profit"] == Decimal("15000.00")


def test_margin_of_zero_revenue_is_undefined(company, owner):
    empty = Period(d(1, 1), d(31, 1), "month")

    totals = sales_totals(viewer=owner, period=empty)

    assert totals.revenue == Decimal("0.00")
    assert totals.margin_pct is None
    assert totals.markup_pct is None


def test_quote_to_payment_counts_payment_only_up_to_as_of(company, owner):
    before_payment = quote_to_payment(viewer=owner, period=NOVEMBER, as_of=d(11))

    assert before_payment.deals == 3
    assert before_payment.deals_converted == 0
    assert before_payment.pct == Decimal("0.00")


@pytest.mark.parametrize(
    ("kind", "start", "end"),
    [
        ("day", d(20), d(20)),
        ("week", d(16), d(22)),
        ("month", d(1), d(30)),
        ("quarter", d(1, 10), d(31, 12)),
        ("year", d(1, 1), d(31, 12)),
    ],
)
def test_periods(kind, start, end):
    assert period_of(kind, d(20)) == Period(start, end, kind)
