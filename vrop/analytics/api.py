"""API of the numbers: the owner's dashboard, KPIs, the funnel, lost deals.

Stable (DESIGN.md "Stable public surface"): ``GET /dashboard/owner?date=``,
``GET /kpi?from=&to=[&manager=]``, ``GET /funnel``. Money goes out as strings.
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from vrop.analytics.access import require, scope_for
from vrop.analytics.periods import Period, custom_period, period_of
from vrop.core.api_utils import Day, DecimalOut, Id, MoneyOut, PercentOut
from vrop.core.errors import ValidationError

router = Router(tags=["numbers"])


class PeriodQuery(Schema):
    date_from: Day | None = Field(None, alias="from", description="first day (month start)")
    date_to: Day | None = Field(None, alias="to", description="last day (today)")
    manager: Id | None = Field(None, description="a manager's numbers")
    team: Id | None = Field(None, description="a team's numbers")


def _period(query: PeriodQuery) -> Period:
    today = timezone.localdate()
    start = query.date_from or period_of("month", query.date_to or today).start
    end = query.date_to or (today if start <= today else period_of("month", start).end)
    if query.date_from and not query.date_to and start > today:
        raise ValidationError(_("Give the end of the period."), field="to")
    return custom_period(start, end)


class StalledOut(Schema):
    count: int
    amount: MoneyOut


class OverdueOut(Schema):
    total: MoneyOut
    count: int
    buckets: dict[str, MoneyOut]


class PlanOut(Schema):
    metric: str
    target: MoneyOut | None
    run_rate: MoneyOut | None
    run_rate_pct: PercentOut
    working_days: int
    working_days_passed: int


class ConversionOut(Schema):
    deals: int
    deals_converted: int
    amount: MoneyOut
    amount_converted: MoneyOut
    pct: PercentOut
    amount_pct: PercentOut


class DaysOut(Schema):
    count: int
    median: PercentOut
    mean: PercentOut


class RequestsOut(Schema):
    total: int
    on_time: int


class KpiOut(Schema):
    date_from: date = Field(..., alias="from")
    date_to: date = Field(..., alias="to")
    manager: int | None
    team: int | None
    gross_profit: MoneyOut
    revenue: MoneyOut
    margin_pct: PercentOut
    markup_pct: PercentOut
    plan_pct: PercentOut
    quote_to_payment_pct: PercentOut
    days_to_payment_median: PercentOut
    requests_on_time_pct: PercentOut
    stalled_deals: StalledOut
    overdue_receivables: OverdueOut
    cost: MoneyOut
    volume: DecimalOut
    plan: PlanOut
    quote_to_payment: ConversionOut
    days_to_payment: DaysOut
    requests: RequestsOut


@router.get("/kpi", response=KpiOut, by_alias=True, summary="KPIs of a period")
def kpi_get(request, query: Query[PeriodQuery]):
    """Every number of DESIGN.md "Numbers" for the period, the company, a team or a
    manager (docs/numbers.md)."""
    from vrop.analytics.selectors.kpi import kpi

    require(request.auth, "kpi")
    scope = scope_for(request.auth, manager_id=query.manager, team_id=query.team)
    return kpi(viewer=request.auth, period=_period(query), scope=scope).as_dict()


class SalesOut(Schema):
    revenue: MoneyOut
    gross_profit: MoneyOut
    margin_pct: PercentOut


class MonthOut(SalesOut):
    date_from: date = Field(..., alias="from")
    plan: MoneyOut | None
    plan_pct: PercentOut
    run_rate: MoneyOut | None
    run_rate_pct: PercentOut


class DealRiskOut(Schema):
    id: int
    title: str
    client: str | None
    manager: str | None
    stage: str
    amount: MoneyOut
    risks: list[str]
    risk_labels: list[str]


class OverdueInvoiceOut(Schema):
    invoice_id: int
    number: str
    client: str | None
    balance: MoneyOut
    days_overdue: int
    action: str


class OwnerOverdueOut(OverdueOut):
    largest: list[OverdueInvoiceOut]


class OwnerRequestsOut(RequestsOut):
    on_time_pct: PercentOut


class OwnerDashboardOut(Schema):
    date: date
    day: SalesOut
    month_to_date: MonthOut
    largest_open_deals: list[DealRiskOut]
    overdue_receivables: OwnerOverdueOut
    requests: OwnerRequestsOut
    stalled_deals: StalledOut


class DayQuery(Schema):
    date: Day | None = Field(None, description="the day (today)")


@router.get(
    "/dashboard/owner", response=OwnerDashboardOut, by_alias=True, summary="The owner's 5 minutes"
)
def owner_dashboard_get(request, query: Query[DayQuery]):
    """Gross profit, revenue and margin for the day and month to date against the plan,
    the five largest open deals with their risks, overdue receivables with the action on
    each, requests processed on time, stalled deals."""
    from vrop.analytics.selectors.dashboards import owner_dashboard

    require(request.auth, "owner_dashboard")
    return owner_dashboard(viewer=request.auth, day=query.date).as_dict()


class FunnelStepOut(Schema):
    step: str
    label: str
    deals: int
    amount: MoneyOut
    conversion_pct: PercentOut
    reference_pct: PercentOut
    cycle_days: PercentOut


class LeakOut(Schema):
    step: str
    conversion_pct: PercentOut
    reference_pct: PercentOut
    deals_in: int
    deals_lost: int
    amount_lost: MoneyOut


class FunnelOut(Schema):
    date_from: date = Field(..., alias="from")
    date_to: date = Field(..., alias="to")
    manager: int | None
    team: int | None
    steps: list[FunnelStepOut]
    overall_pct: PercentOut
    reference: str
    diagnosis: str
    leak: LeakOut | None


@router.get("/funnel", response=FunnelOut, by_alias=True, summary="Funnel with diagnosis")
def funnel_get(request, query: Query[PeriodQuery]):
    """Lead → contact → quote → won → paid for the deals that arrived in the period:
    counts, amounts, conversions, cycle times, and where the money leaks."""
    from vrop.analytics.selectors.funnel import funnel

    require(request.auth, "funnel")
    scope = scope_for(request.auth, manager_id=query.manager, team_id=query.team)
    return funnel(viewer=request.auth, period=_period(query), scope=scope).as_dict()


class LostRowOut(Schema):
    key: str | None
    deals: int
    amount: MoneyOut


class LostOut(Schema):
    by_reason: list[LostRowOut]
    by_stage: list[LostRowOut]
    by_manager: list[LostRowOut]
    by_category: list[LostRowOut]


@router.get("/lost", response=LostOut, summary="Lost deals by reason, stage, manager, category")
def lost_get(request, query: Query[PeriodQuery]):
    from vrop.analytics.selectors.lost import lost_summary

    require(request.auth, "lost")
    scope = scope_for(request.auth, manager_id=query.manager, team_id=query.team)
    period = _period(query)

    def rows(by):
        return [
            {"key": None if r.key is None else str(r.key), "deals": r.deals, "amount": r.amount}
            for r in lost_summary(viewer=request.auth, period=period, scope=scope, by=by)
        ]

    return {f"by_{by}": rows(by) for by in ("reason", "stage", "manager", "category")}
