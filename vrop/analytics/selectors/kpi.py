"""The KPIs of DESIGN.md "Numbers": one function per number, computed in SQL.

Every page, the API, reports and digests read these functions and nothing else;
docs/numbers.md gives each definition with the choices made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from vrop.analytics import sources
from vrop.analytics.periods import Period, Scope, datetime_range, day_start
from vrop.core.money import ZERO, percent, round_money
from vrop.core.policy import company_settings_cached
from vrop.crm.models import Deal
from vrop.planning.models import Metric
from vrop.planning.selectors import RunRate, plan_target, run_rate
from vrop.receivables.models import Payment, Shipment

MONEY_FIELD = DecimalField(max_digits=18, decimal_places=2)
GROSS_PROFIT = ExpressionWrapper(F("amount") - F("cost"), output_field=MONEY_FIELD)


@dataclass(frozen=True)
class Sales:
    """Revenue and gross profit of shipments (реализация) by shipment date."""

    revenue: Decimal
    cost: Decimal
    gross_profit: Decimal
    volume: Decimal
    shipments: int

    @property
    def margin_pct(self) -> Decimal | None:
        """Gross profit / revenue × 100; None (undefined) when there is no revenue."""
        return percent(self.gross_profit, self.revenue)

    @property
    def markup_pct(self) -> Decimal | None:
        """Gross profit / cost × 100; None when the cost is zero."""
        return percent(self.gross_profit, self.cost)


def _sales_from_row(row: dict, suffix: str = "") -> Sales:
    return Sales(
        revenue=round_money(row[f"total_revenue{suffix}"] or ZERO),
        cost=round_money(row[f"total_cost{suffix}"] or ZERO),
        gross_profit=round_money(row[f"total_gross_profit{suffix}"] or ZERO),
        volume=Decimal(row[f"total_volume{suffix}"] or ZERO).quantize(Decimal("0.001")),
        shipments=row[f"total_shipments{suffix}"] or 0,
    )


def _sales_aggregates(suffix: str = "", condition: Q | None = None) -> dict:
    return {
        f"total_revenue{suffix}": Sum("amount", filter=condition),
        f"total_cost{suffix}": Sum("cost", filter=condition),
        f"total_gross_profit{suffix}": Sum(GROSS_PROFIT, filter=condition),
        f"total_volume{suffix}": Sum("volume", filter=condition),
        f"total_shipments{suffix}": Count("pk", filter=condition),
    }


def shipments_in(*, viewer, period: Period, scope: Scope | None = None):
    scope = scope or Scope()
    return Shipment.objects.visible_to(viewer).filter(
        shipped_on__gte=period.start, shipped_on__lte=period.end, **scope.filter("manager")
    )


def sales_totals(*, viewer, period: Period, scope: Scope | None = None) -> Sales:
    """Revenue, cost, gross profit and volume of the period — one query."""
    row = shipments_in(viewer=viewer, period=period, scope=scope).aggregate(**_sales_aggregates())
    return _sales_from_row(row)


def sales_day_and_period(
    *, viewer, day: date, period: Period, scope: Scope | None = None
) -> tuple[Sales, Sales]:
    """(sales of ``day``, sales of the whole ``period``) in one query."""
    row = shipments_in(viewer=viewer, period=period, scope=scope).aggregate(
        **_sales_aggregates(), **_sales_aggregates("_day", Q(shipped_on=day))
    )
    return _sales_from_row(row, "_day"), _sales_from_row(row)


def sales_by_manager(*, viewer, period: Period, scope: Scope | None = None) -> dict:
    """{manager id: Sales} for the period — one grouped query."""
    rows = (
        shipments_in(viewer=viewer, period=period, scope=scope)
        .values("manager_id")
        .annotate(**_sales_aggregates())
        .order_by()
    )
    return {row["manager_id"]: _sales_from_row(row) for row in rows}


def sales_trend(*, viewer, period: Period, scope: Scope | None = None, by: str = "week") -> list:
    """[(bucket start, Sales)] by week or month — one grouped query."""
    from django.db.models.functions import TruncMonth, TruncWeek

    trunc = TruncWeek if by == "week" else TruncMonth
    rows = (
        shipments_in(viewer=viewer, period=period, scope=scope)
        .annotate(bucket=trunc("shipped_on"))
        .values("bucket")
        .annotate(**_sales_aggregates())
        .order_by("bucket")
    )
    return [(row["bucket"], _sales_from_row(row)) for row in rows]


def cash_receipts(*, viewer, period: Period, scope: Scope | None = None) -> Decimal:
    """Payments received in the period by payment date (shown beside revenue)."""
    scope = scope or Scope()
    total = (
        Payment.objects.visible_to(viewer)
        .filter(
            paid_on__gte=period.start, paid_on__lte=period.end, **scope.filter("invoice__manager")
        )
        .aggregate(total=Sum("amount"))["total"]
    )
    return round_money(total or ZERO)


# --- conversion quote → payment --------------------------------------------------------------


def fully_paid(as_of: date, prefix: str = "") -> Q:
    """A deal is fully paid on ``as_of``: it has invoices and every one was paid by then —
    ``Deal.paid_on`` (the day it became fully paid, kept by receivables'
    ``deals_paid_on_refresh``) is on or before ``as_of``. ``prefix`` is the path to the
    deal from another model (``"deal__"``).

    A deal with no invoice is not paid (it stays in the denominator of conversions).
    """
    return Q(**{f"{prefix}paid_on__lte": as_of})


@dataclass(frozen=True)
class Conversion:
    deals: int
    deals_converted: int
    amount: Decimal
    amount_converted: Decimal

    @property
    def pct(self) -> Decimal | None:
        return percent(Decimal(self.deals_converted), Decimal(self.deals))

    @property
    def amount_pct(self) -> Decimal | None:
        return percent(self.amount_converted, self.amount)


def quote_cohort(*, viewer, period: Period, scope: Scope | None = None):
    """Deals that first reached the quote stage (or went straight to won) in the period:
    ``Deal.quote_reached_at`` (kept from the stage history by crm's
    ``deals_stage_moments_refresh``) falls in it."""
    scope = scope or Scope()
    start, end = datetime_range(period)
    return Deal.objects.visible_to(viewer).filter(
        quote_reached_at__gte=start, quote_reached_at__lt=end, **scope.filter("manager")
    )


def quote_to_payment(
    *, viewer, period: Period, scope: Scope | None = None, as_of: date | None = None
) -> Conversion:
    """Of the deals that reached the quote stage in the period, those fully paid by
    ``as_of`` (today by default), by count and by amount — one query."""
    as_of = as_of or timezone.localdate()
    paid = fully_paid(as_of)
    row = quote_cohort(viewer=viewer, period=period, scope=scope).aggregate(
        n_deals=Count("pk"),
        n_converted=Count("pk", filter=paid),
        sum_amount=Sum("amount"),
        sum_converted=Sum("amount", filter=paid),
    )
    return Conversion(
        deals=row["n_deals"] or 0,
        deals_converted=row["n_converted"] or 0,
        amount=round_money(row["sum_amount"] or ZERO),
        amount_converted=round_money(row["sum_converted"] or ZERO),
    )


# --- all KPIs of a period ---------------------------------------------------------------


@dataclass
class Kpi:
    period: Period
    scope: Scope
    sales: Sales
    plan: RunRate
    quote_to_payment: Conversion
    days_to_payment: sources.DaysToPayment
    requests: sources.SlaSummary
    stalled: sources.StalledSummary
    overdue: sources.Ageing

    def as_dict(self) -> dict:
        """The stable keys of GET /api/v1/kpi (DESIGN.md), then the details beside them."""
        sales = self.sales
        return {
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat(),
            "manager": self.scope.manager_id,
            "team": self.scope.team_id,
            "gross_profit": sales.gross_profit,
            "revenue": sales.revenue,
            "margin_pct": sales.margin_pct,
            "markup_pct": sales.markup_pct,
            "plan_pct": self.plan.plan_pct,
            "quote_to_payment_pct": self.quote_to_payment.pct,
            "days_to_payment_median": self.days_to_payment.median,
            "requests_on_time_pct": self.requests.on_time_pct,
            "stalled_deals": {"count": self.stalled.count, "amount": self.stalled.amount},
            "overdue_receivables": {
                "total": self.overdue.total,
                "count": self.overdue.count,
                "buckets": self.overdue.buckets,
            },
            "cost": sales.cost,
            "volume": sales.volume,
            "plan": {
                "metric": Metric.GROSS_PROFIT.value,
                "target": self.plan.plan,
                "run_rate": self.plan.projection,
                "run_rate_pct": self.plan.projection_pct,
                "working_days": self.plan.working_days,
                "working_days_passed": self.plan.working_days_passed,
            },
            "quote_to_payment": {
                **asdict(self.quote_to_payment),
                "pct": self.quote_to_payment.pct,
                "amount_pct": self.quote_to_payment.amount_pct,
            },
            "days_to_payment": asdict(self.days_to_payment),
            "requests": {
                "total": self.requests.total,
                "on_time": self.requests.on_time,
            },
        }


def moment_of(period: Period, now: datetime | None = None) -> datetime:
    """The moment "at the end of the period": its end, or now if it has not ended."""
    now = now or timezone.now()
    return min(now, day_start(period.end + timedelta(days=1)))


def kpi(*, viewer, period: Period, scope: Scope | None = None, now: datetime | None = None) -> Kpi:
    """Every number of DESIGN.md for the period and scope (at most ten queries).

    Moment-numbers (stalled deals, overdue receivables) are taken at the end of the
    period, or now for a period that has not ended.
    """
    scope = scope or Scope()
    now = now or timezone.now()
    at = moment_of(period, now)
    at_day = min(timezone.localdate(now), period.end)
    with company_settings_cached():
        sales = sales_totals(viewer=viewer, period=period, scope=scope)
        plan = plan_target(viewer=viewer, metric=Metric.GROSS_PROFIT, period=period, scope=scope)
        return Kpi(
            period=period,
            scope=scope,
            sales=sales,
            plan=run_rate(fact=sales.gross_profit, plan=plan, period=period, at=at_day),
            quote_to_payment=quote_to_payment(
                viewer=viewer, period=period, scope=scope, as_of=timezone.localdate(now)
            ),
            days_to_payment=sources.days_to_payment(viewer=viewer, period=period, scope=scope),
            requests=sources.sla_summary(viewer=viewer, period=period, scope=scope, at=now),
            stalled=sources.stalled_summary(viewer=viewer, at=at, scope=scope),
            overdue=sources.receivables_ageing(viewer=viewer, at=at_day, scope=scope),
        )
