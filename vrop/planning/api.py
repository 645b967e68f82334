"""API of plans and the payment forecast. Stable: ``GET /forecast``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from vrop.analytics.access import may_read, require, scope_for
from vrop.analytics.periods import period_of
from vrop.core.api_utils import Day, Id, MoneyOut, PercentOut
from vrop.core.errors import NotFound

router = Router(tags=["plans and forecast"])


class ForecastQuery(Schema):
    date: Day | None = Field(None, description="the day the forecast is made (today)")
    by: Literal["week", "month"] = "week"
    horizon_days: int = Field(92, ge=7, le=366)
    manager: Id | None = None


class BucketOut(Schema):
    start: date
    end: date
    deals: MoneyOut
    invoices: MoneyOut
    total: MoneyOut
    by_stage: dict[str, MoneyOut]


class OddsOut(Schema):
    stage: str
    probability: PercentOut
    days: int
    resolved: int
    paid: int
    from_history: bool


class ProbableOut(Schema):
    period_start: date
    period_end: date
    received: MoneyOut
    expected: MoneyOut
    total: MoneyOut


class AccuracyRowOut(Schema):
    period_start: date
    made_on: date | None
    forecast: MoneyOut | None
    actual: MoneyOut
    error_pct: PercentOut
    reconstructed: bool = Field(
        description="the snapshot was reconstructed from the history, not taken on its day"
    )


class AccuracyOut(Schema):
    by: str
    mape: PercentOut
    rows: list[AccuracyRowOut]


class ForecastOut(Schema):
    date: date
    horizon_end: date
    total: MoneyOut
    deals: MoneyOut
    invoices: MoneyOut
    buckets: list[BucketOut]
    odds: list[OddsOut]
    probable_month: ProbableOut
    accuracy: list[AccuracyOut]


@router.get("/forecast", response=ForecastOut, summary="Forecast of payments")
def forecast_get(request, query: Query[ForecastQuery]):
    """Probable payments by week or month: open deals × the probability of their stage
    from history, at their expected dates, plus unpaid invoices at the dates the client
    usually pays; the month's probable receipts; the accuracy (MAPE) of past forecasts."""
    from vrop.planning.forecast import forecast, forecast_accuracy, probable_receipts

    user = request.auth
    require(user, "forecast")
    scope = scope_for(user, manager_id=query.manager)
    result = forecast(viewer=user, at=query.date, horizon_days=query.horizon_days, scope=scope)
    probable = probable_receipts(viewer=user, forecast_=result, kind="month")
    accuracy = []
    if may_read(user, "forecast_accuracy") and scope.is_company:
        for by, count in (("week", 8), ("month", 6)):
            measured = forecast_accuracy(at=result.at, by=by, count=count)
            accuracy.append(
                {
                    "by": by,
                    "mape": measured.mape,
                    "rows": [
                        {
                            "period_start": row.period.start,
                            "made_on": row.made_on,
                            "forecast": row.forecast,
                            "actual": row.actual,
                            "error_pct": row.error_pct,
                            "reconstructed": row.reconstructed,
                        }
                        for row in measured.rows
                    ],
                }
            )
    return {
        "date": result.at,
        "horizon_end": result.horizon.end,
        "total": result.total,
        "deals": result.total - result.part("invoice"),
        "invoices": result.part("invoice"),
        "buckets": [
            {
                "start": b.start,
                "end": b.end,
                "deals": b.deals,
                "invoices": b.invoices,
                "total": b.total,
                "by_stage": b.by_stage,
            }
            for b in result.buckets(query.by)
        ],
        "odds": [
            {
                "stage": o.stage,
                "probability": (o.probability * 100).quantize(Decimal("0.01")),
                "days": o.days,
                "resolved": o.resolved,
                "paid": o.paid,
                "from_history": o.from_history,
            }
            for o in result.odds.values()
        ],
        "probable_month": {
            "period_start": probable.period.start,
            "period_end": probable.period.end,
            "received": probable.received,
            "expected": probable.expected,
            "total": probable.total,
        },
        "accuracy": accuracy,
    }


class PlanQuery(Schema):
    period: Literal["month", "quarter", "year"] = "month"
    date: Day | None = None
    metric: Literal["gross_profit", "revenue", "volume"] = "gross_profit"


class PlanRowOut(Schema):
    manager_id: int | None
    name: str
    fact: MoneyOut
    plan: MoneyOut | None
    plan_pct: PercentOut
    run_rate: MoneyOut | None
    run_rate_pct: PercentOut


@router.get("/plans/fact", response=list[PlanRowOut], summary="Plan vs fact by manager")
def plan_fact_get(request, query: Query[PlanQuery]):
    from vrop.analytics.selectors.dashboards import plan_fact_by_manager

    user = request.auth
    require(user, "plans")
    day = query.date or timezone.localdate()
    rows = plan_fact_by_manager(
        viewer=user, period=period_of(query.period, day), at=day, metric=query.metric
    )
    if user.role == "manager" and not user.is_superuser:
        rows = [row for row in rows if row.manager_id == user.pk]
    return [
        {
            "manager_id": row.manager_id,
            "name": row.name,
            "fact": row.plan.fact,
            "plan": row.plan.plan,
            "plan_pct": row.plan.plan_pct,
            "run_rate": row.plan.projection,
            "run_rate_pct": row.plan.projection_pct,
        }
        for row in rows
    ]


class PlanIn(Schema):
    period_start: Day
    period_end: Day
    metric: Literal["gross_profit", "revenue", "volume"]
    target: Decimal = Field(..., ge=0, max_digits=18, decimal_places=2)
    manager: Id | None = None
    team: Id | None = None


class PlanOut(Schema):
    id: int
    period_start: date
    period_end: date
    metric: str
    target: MoneyOut
    manager_id: int | None
    team_id: int | None


@router.post("/plans", response={200: PlanOut}, summary="Set a plan")
def plan_set_post(request, payload: PlanIn):
    from vrop.accounts.models import Team, User
    from vrop.planning.services import plan_set

    manager = team = None
    if payload.manager:
        manager = User.objects.filter(pk=payload.manager).first()
        if manager is None:
            raise NotFound(_("No such manager."))
    if payload.team:
        team = Team.objects.filter(pk=payload.team).first()
        if team is None:
            raise NotFound(_("No such team."))
    return plan_set(
        actor=request.auth,
        period_start=payload.period_start,
        period_end=payload.period_end,
        metric=payload.metric,
        target=payload.target,
        manager=manager,
        team=team,
    )


class DecomposeIn(Schema):
    method: Literal["history", "weights"] = "history"
    weights: dict[int, Decimal] | None = None
    history_months: int = Field(3, ge=1, le=24)


@router.post("/plans/{plan_id}/decompose", response=list[PlanOut], summary="Split onto managers")
def plan_decompose_post(request, plan_id: Id, payload: DecomposeIn):
    from vrop.planning.models import Plan
    from vrop.planning.services import plan_decompose

    plan = Plan.objects.visible_to(request.auth).filter(pk=plan_id).first()
    if plan is None:
        raise NotFound(_("No such plan."))
    return plan_decompose(
        actor=request.auth,
        plan=plan,
        method=payload.method,
        weights=payload.weights,
        history_months=payload.history_months,
    )
