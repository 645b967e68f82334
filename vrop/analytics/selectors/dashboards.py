"""The owner's five minutes and the head's dashboard, assembled from the number
selectors (no number is defined here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    DecimalField,
    Exists,
    OuterRef,
    Subquery,
    Sum,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vrop.analytics import sources
from vrop.analytics.periods import Period, period_of
from vrop.analytics.selectors.kpi import Sales, sales_by_manager, sales_day_and_period, sales_trend
from vrop.core.money import ZERO
from vrop.core.policy import company_settings_cached
from vrop.crm.choices import OPEN_STAGES, CreditStatus
from vrop.crm.models import Deal
from vrop.planning.models import Metric
from vrop.planning.selectors import (
    RunRate,
    plan_target,
    plan_targets_by_manager,
    run_rate,
)
from vrop.receivables.models import Invoice
from vrop.receivables.selectors import exposure_of, exposure_parts, not_invoiced

MONEY_FIELD = DecimalField(max_digits=18, decimal_places=2)

RISK_LABELS = {
    "no_next_step": gettext_lazy("no next step"),
    "next_step_overdue": gettext_lazy("next step overdue"),
    "unconfirmed_promise": gettext_lazy("promise not confirmed by stock or supplier"),
    "pending_approval": gettext_lazy("price approval pending"),
    "client_overdue": gettext_lazy("client has overdue invoices"),
    "over_limit": gettext_lazy("over the client's credit limit"),
    "stalled": gettext_lazy("stalled"),
}


@dataclass
class DealRisk:
    deal: Deal
    risks: list[str]

    @property
    def risk_labels(self) -> list[str]:
        return [str(RISK_LABELS[code]) for code in self.risks]


def _end_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def largest_open_deals(*, viewer, at: datetime, day: date, limit: int = 5) -> list[DealRisk]:
    """The largest open deals with their risks — one query: the ``limit`` largest of each
    open stage (from the ``(stage, -amount)`` index), then the largest of those with the
    risks as inline subqueries evaluated for these few rows only."""
    unpaid = Invoice.objects.filter(client_id=OuterRef("client_id"), paid_on__isnull=True)
    visible = Deal.objects.visible_to(viewer)
    # ``pk IN (top of lead) UNION ALL (top of contact) …`` — each part a nested IN over a
    # sliced query (SQLite allows no LIMIT directly in a compound part).
    lead, *others = (
        Deal.objects.filter(
            pk__in=Subquery(
                visible.filter(stage=stage).order_by("-amount", "pk").values("pk")[:limit]
            )
        )
        .order_by()
        .values("pk")
        for stage in OPEN_STAGES
    )
    deals = (
        visible.filter(pk__in=lead.union(*others, all=True))
        .select_related("client", "manager")
        .annotate(
            risk_client_overdue=Exists(unpaid.filter(due_on__lt=day)),
            at_hand=not_invoiced(),
            **exposure_parts("client_id"),
            risk_pending_approval=sources.pending_approval_exists(),
            risk_stalled=sources.stalled_at(at),
            risk_unconfirmed_promise=sources.unconfirmed_promise(at),
        )
    )
    rows = []
    for deal in deals.order_by("-amount", "pk")[:limit]:
        risks = []
        if deal.next_step_at is None:
            risks.append("no_next_step")
        elif deal.next_step_at < at:
            risks.append("next_step_overdue")
        if deal.risk_unconfirmed_promise:
            risks.append("unconfirmed_promise")
        if deal.risk_pending_approval:
            risks.append("pending_approval")
        if deal.risk_client_overdue:
            risks.append("client_overdue")
        client = deal.client
        # As the credit rule sees winning it: a client on deferral whose exposure with this
        # deal would pass the limit.
        if (
            client is not None
            and client.payment_terms_days > 0
            and client.credit_status == CreditStatus.ACTIVE
            and exposure_of(deal, credit_limit=client.credit_limit, at_hand=deal.at_hand).total
            > client.credit_limit
        ):
            risks.append("over_limit")
        if deal.risk_stalled:
            risks.append("stalled")
        rows.append(DealRisk(deal=deal, risks=risks))
    return rows


def overdue_action(invoice, policy) -> str:
    """What to do about an overdue invoice: the next action recorded by finance, or the
    step the credit policy implies for its age."""
    recorded = getattr(invoice, "next_action", "") or ""
    if recorded:
        return recorded
    days = getattr(invoice, "days_overdue", 0) or 0
    if days > policy.overdue_client_stop_days:
        return _("Client on stop: send a claim letter, the owner calls the director.")
    if days > policy.overdue_stop_shipment_days:
        return _("Shipments on deferral stopped: call the director, agree a payment date.")
    return _("Remind the client: call and agree a payment date.")


@dataclass
class OwnerDashboard:
    day: date
    month: Period
    sales_day: Sales
    sales_month: Sales
    plan: RunRate
    deals: list[DealRisk]
    overdue: sources.Ageing
    overdue_invoices: list
    requests: sources.SlaSummary
    stalled: sources.StalledSummary

    def as_dict(self) -> dict:
        def sales(s: Sales) -> dict:
            return {
                "revenue": s.revenue,
                "gross_profit": s.gross_profit,
                "margin_pct": s.margin_pct,
            }

        return {
            "date": self.day.isoformat(),
            "day": sales(self.sales_day),
            "month_to_date": {
                **sales(self.sales_month),
                "from": self.month.start.isoformat(),
                "plan": self.plan.plan,
                "plan_pct": self.plan.plan_pct,
                "run_rate": self.plan.projection,
                "run_rate_pct": self.plan.projection_pct,
            },
            "largest_open_deals": [
                {
                    "id": row.deal.pk,
                    "title": row.deal.title,
                    "client": str(row.deal.client) if row.deal.client else None,
                    "manager": str(row.deal.manager) if row.deal.manager else None,
                    "stage": row.deal.stage,
                    "amount": row.deal.amount,
                    "risks": row.risks,
                    "risk_labels": row.risk_labels,
                }
                for row in self.deals
            ],
            "overdue_receivables": {
                "total": self.overdue.total,
                "count": self.overdue.count,
                "buckets": self.overdue.buckets,
                "largest": [
                    {
                        "invoice_id": invoice.pk,
                        "number": invoice.number,
                        "client": str(invoice.client) if invoice.client else None,
                        "balance": invoice.overdue_balance,
                        "days_overdue": invoice.days_overdue,
                        "action": invoice.action,
                    }
                    for invoice in self.overdue_invoices
                ],
            },
            "requests": {
                "total": self.requests.total,
                "on_time": self.requests.on_time,
                "on_time_pct": self.requests.on_time_pct,
            },
            "stalled_deals": {"count": self.stalled.count, "amount": self.stalled.amount},
        }


def owner_dashboard(
    *, viewer, day: date | None = None, now: datetime | None = None
) -> OwnerDashboard:
    """The owner's five minutes for ``day`` (today): at most ten queries.

    Money of the day and month to date against the month's gross-profit plan, the five
    largest open deals with their risks, overdue receivables with the action on each,
    requests of the month processed on time, stalled deals — as of the end of ``day``
    (or now, for today).
    """
    now = now or timezone.now()
    day = day or timezone.localdate(now)
    at = min(now, _end_of(day))
    month = period_of("month", day)
    month_to_date = Period(month.start, day, "custom")
    with company_settings_cached() as policy:
        sales_day, sales_month = sales_day_and_period(viewer=viewer, day=day, period=month_to_date)
        target = plan_target(viewer=viewer, metric=Metric.GROSS_PROFIT, period=month)
        invoices = sources.overdue_invoices(viewer=viewer, at=day, limit=5)
        for invoice in invoices:
            invoice.action = overdue_action(invoice, policy)
        return OwnerDashboard(
            day=day,
            month=month,
            sales_day=sales_day,
            sales_month=sales_month,
            plan=run_rate(fact=sales_month.gross_profit, plan=target, period=month, at=day),
            deals=largest_open_deals(viewer=viewer, at=at, day=day),
            overdue=sources.receivables_ageing(viewer=viewer, at=day),
            overdue_invoices=invoices,
            requests=sources.sla_summary(viewer=viewer, period=month_to_date, at=at),
            stalled=sources.stalled_summary(viewer=viewer, at=at),
        )


# --- the head's dashboard ------------------------------------------------------------------


@dataclass
class ManagerRow:
    manager_id: int | None
    name: str
    sales: Sales
    plan: RunRate
    stalled: int = 0
    stalled_amount: Decimal = ZERO
    overdue: Decimal = ZERO
    colours: dict[str, str] = field(default_factory=dict)


def _colour_rows(rows: list[ManagerRow], policy) -> None:
    """Thresholds: margin under the minimum is red; run-rate under 90 % of plan red,
    under 100 % amber; any stalled deal amber, more than three red; overdue amber."""
    for row in rows:
        margin = row.sales.margin_pct
        row.colours["margin"] = (
            "" if margin is None else ("bad" if margin < policy.min_margin_pct else "good")
        )
        projection = row.plan.projection_pct
        row.colours["plan"] = (
            ""
            if projection is None
            else ("bad" if projection < 90 else "warn" if projection < 100 else "good")
        )
        row.colours["stalled"] = "bad" if row.stalled > 3 else "warn" if row.stalled else "good"
        row.colours["overdue"] = "warn" if row.overdue > 0 else "good"


def plan_fact_by_manager(
    *, viewer, period: Period, at: date, metric: str = Metric.GROSS_PROFIT
) -> list[ManagerRow]:
    """Plan vs fact with run-rate for every manager with a plan or a sale — three queries."""
    from vrop.accounts.models import User

    sales = sales_by_manager(viewer=viewer, period=period)
    targets = plan_targets_by_manager(viewer=viewer, metric=metric, period=period)
    ids = {pk for pk in sales if pk is not None} | set(targets)
    names = {user.pk: str(user) for user in User.objects.filter(pk__in=ids)}
    empty = Sales(ZERO, ZERO, ZERO, Decimal("0.000"), 0)
    fact_of = {
        Metric.GROSS_PROFIT: lambda s: s.gross_profit,
        Metric.REVENUE: lambda s: s.revenue,
        Metric.VOLUME: lambda s: s.volume,
    }[metric]
    rows = []
    for pk in sorted(ids, key=lambda pk: names.get(pk, "")):
        manager_sales = sales.get(pk, empty)
        rows.append(
            ManagerRow(
                manager_id=pk,
                name=names.get(pk, "—"),
                sales=manager_sales,
                plan=run_rate(
                    fact=fact_of(manager_sales), plan=targets.get(pk), period=period, at=at
                ),
            )
        )
    return rows


@dataclass
class HeadDashboard:
    period: Period
    day: date
    rows: list[ManagerRow]
    total: Sales
    plan: RunRate
    funnel: object
    trend: list
    lost: list


def head_dashboard(
    *, viewer, day: date | None = None, now: datetime | None = None
) -> HeadDashboard:
    """Plan vs fact by manager, the KPI table with thresholds, the funnel, the trend of
    the last twelve weeks and the lost reasons of the month."""
    from django.db.models import Count

    from vrop.analytics.selectors.funnel import funnel
    from vrop.analytics.selectors.kpi import sales_totals
    from vrop.analytics.selectors.lost import lost_summary

    now = now or timezone.now()
    day = day or timezone.localdate(now)
    at = min(now, _end_of(day))
    month = period_of("month", day)
    with company_settings_cached() as policy:
        rows = plan_fact_by_manager(viewer=viewer, period=month, at=day)
        by_id = {row.manager_id: row for row in rows}
        stalled_rows = (
            sources.stalled_deals(viewer=viewer, at=at)
            .values("manager_id")
            .annotate(n=Count("pk"), amount_sum=Sum("amount"))
            .order_by()
        )
        for item in stalled_rows:
            row = by_id.get(item["manager_id"])
            if row is not None:
                row.stalled, row.stalled_amount = item["n"], item["amount_sum"] or ZERO
        for manager_id, overdue in sources.overdue_by_manager(viewer=viewer, at=day).items():
            row = by_id.get(manager_id)
            if row is not None:
                row.overdue = overdue
        _colour_rows(rows, policy)
        total = sales_totals(viewer=viewer, period=Period(month.start, day))
        target = plan_target(viewer=viewer, metric=Metric.GROSS_PROFIT, period=month)
        trend_period = Period(period_of("week", day).start - timedelta(weeks=11), day)
        return HeadDashboard(
            period=month,
            day=day,
            rows=rows,
            total=total,
            plan=run_rate(fact=total.gross_profit, plan=target, period=month, at=day),
            funnel=funnel(viewer=viewer, period=month, as_of=day),
            trend=sales_trend(viewer=viewer, period=trend_period, by="week"),
            lost=lost_summary(viewer=viewer, period=month, by="reason"),
        )
