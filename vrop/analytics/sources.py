"""Numbers that other apps own, read through one door.

Stalled deals and request SLA belong to discipline; overdue receivables, ageing and
days to payment to receivables. Each has ONE definition, in its app. Until an app ships
its selector, the adapter below answers with a plain fallback of the same definition
(DESIGN.md "Numbers"), clearly marked; as soon as the app's selector is importable it
is used instead, so pages, the API, reports and digests never hold a second definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import import_module

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from vrop.analytics.periods import Period, Scope, datetime_range
from vrop.core.calendar import WorkingTime, is_working_day
from vrop.core.money import ZERO, round_money
from vrop.core.policy import company_settings
from vrop.crm.choices import OPEN_STAGES
from vrop.crm.models import Deal, Request
from vrop.receivables.models import Invoice

MONEY_FIELD = DecimalField(max_digits=18, decimal_places=2)
BALANCE = ExpressionWrapper(F("amount") - F("paid_amount"), output_field=MONEY_FIELD)


def _external(module: str, name: str):
    """The owning app's selector, or None while it does not exist yet."""
    try:
        return getattr(import_module(module), name, None)
    except ImportError:
        return None


# --- stalled deals (discipline) -----------------------------------------------------------


def _working_days_back(day: date, n: int) -> date:
    current = day
    while n > 0:
        current -= timedelta(days=1)
        if is_working_day(current):
            n -= 1
    return current


def _stalled_fallback(*, viewer, at: datetime, policy=None):
    """FALLBACK until ``vrop.discipline.selectors.stalled_deals`` exists.

    Open deals with no next step, or the next step overdue by more than the tolerance,
    or in the stage (or without activity) longer than the stage norm.
    """
    policy = policy or company_settings()
    local = timezone.localtime(at)

    def back(days: int) -> datetime:
        return local.replace(
            year=(d := _working_days_back(local.date(), days)).year, month=d.month, day=d.day
        )

    condition = Q(next_step_at__isnull=True) | Q(
        next_step_at__lt=back(policy.next_step_overdue_days)
    )
    for stage, norm in (policy.stage_norms_days or {}).items():
        cutoff = back(int(norm))
        condition |= Q(stage=stage, stage_changed_at__lt=cutoff)
    return Deal.objects.visible_to(viewer).filter(stage__in=OPEN_STAGES).filter(condition)


def stalled_deals(*, viewer, at: datetime, scope: Scope | None = None, policy=None):
    """Open deals that meet the stalled rule at ``at`` (a queryset of Deal)."""
    external = _external("vrop.discipline.selectors", "stalled_deals")
    deals = (
        external(viewer=viewer, at=at)
        if external
        else _stalled_fallback(viewer=viewer, at=at, policy=policy)
    )
    if scope is not None and not scope.is_company:
        deals = deals.filter(**scope.filter("manager"))
    return deals


@dataclass
class StalledSummary:
    count: int
    amount: Decimal


def stalled_summary(
    *, viewer, at: datetime, scope: Scope | None = None, policy=None
) -> StalledSummary:
    row = stalled_deals(viewer=viewer, at=at, scope=scope, policy=policy).aggregate(
        n_deals=Count("pk"), sum_amount=Sum("amount")
    )
    return StalledSummary(count=row["n_deals"] or 0, amount=round_money(row["sum_amount"] or ZERO))


# --- request SLA (discipline) ---------------------------------------------------------------


@dataclass
class SlaSummary:
    total: int
    on_time: int

    @property
    def on_time_pct(self) -> Decimal | None:
        from vrop.core.money import percent

        return percent(Decimal(self.on_time), Decimal(self.total))


def _sla_fallback(*, viewer, period: Period, scope: Scope, policy=None) -> SlaSummary:
    """FALLBACK until ``vrop.discipline.selectors.sla_stats`` exists.

    Requests received in the period; on time = first processed within the first-contact
    SLA in working minutes. Requests still unprocessed count as late once the SLA passed.
    """
    from zoneinfo import ZoneInfo

    policy = policy or company_settings()
    hours = WorkingTime(policy.workday_start, policy.workday_end, ZoneInfo(policy.time_zone))
    start, end = datetime_range(period)
    rows = (
        Request.objects.visible_to(viewer)
        .filter(received_at__gte=start, received_at__lt=end, **scope.filter("manager"))
        .values_list("received_at", "processed_at")
    )
    now = timezone.now()
    total = on_time = 0
    for received_at, processed_at in rows:
        limit = hours.add_minutes(received_at, policy.sla_first_contact_minutes)
        if processed_at is None and limit > now:
            continue  # still within its SLA: not decided yet
        total += 1
        on_time += processed_at is not None and processed_at <= limit
    return SlaSummary(total=total, on_time=on_time)


def sla_summary(*, viewer, period: Period, scope: Scope | None = None, policy=None) -> SlaSummary:
    scope = scope or Scope()
    external = _external("vrop.discipline.selectors", "sla_stats")
    if external is not None:
        stats = external(
            viewer=viewer,
            date_from=period.start,
            date_to=period.end,
            manager_id=scope.manager_id,
        )
        return SlaSummary(total=stats.total, on_time=stats.first_contact_on_time)
    return _sla_fallback(viewer=viewer, period=period, scope=scope, policy=policy)


# --- receivables --------------------------------------------------------------------------

AGEING_BUCKETS = (("1-7", 1, 7), ("8-30", 8, 30), ("31-60", 31, 60), ("60+", 61, None))


@dataclass
class Ageing:
    total: Decimal
    count: int
    buckets: dict[str, Decimal] = field(default_factory=dict)


def _unpaid_on(at: date, base=None):
    """Invoices not fully paid on ``at`` with ``balance_due``: amount − payments up to ``at``."""
    from django.db.models import OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from vrop.receivables.models import Payment

    paid_by_then = (
        Payment.objects.filter(invoice_id=OuterRef("pk"), paid_on__lte=at)
        .order_by()
        .values("invoice_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    base = base if base is not None else Invoice.objects.all()
    return base.filter(Q(paid_on__isnull=True) | Q(paid_on__gt=at)).annotate(
        balance_due=ExpressionWrapper(
            F("amount") - Coalesce(Subquery(paid_by_then, output_field=MONEY_FIELD), ZERO),
            output_field=MONEY_FIELD,
        )
    )


def _ageing_fallback(*, viewer, at: date, scope: Scope) -> Ageing:
    """FALLBACK until ``vrop.receivables.selectors.receivables_ageing`` exists.

    Unpaid balance on ``at`` of invoices past their due date, by days overdue.
    """
    aggregates = {"sum_total": Sum("balance_due"), "n_invoices": Count("pk")}
    for name, low, high in AGEING_BUCKETS:
        window = Q(due_on__lte=at - timedelta(days=low))
        if high is not None:
            window &= Q(due_on__gte=at - timedelta(days=high))
        aggregates[f"bucket_{name}"] = Sum("balance_due", filter=window)
    visible = Invoice.objects.visible_to(viewer).filter(due_on__lt=at, **scope.filter("manager"))
    row = _unpaid_on(at, visible).aggregate(**aggregates)
    return Ageing(
        total=round_money(row["sum_total"] or ZERO),
        count=row["n_invoices"] or 0,
        buckets={
            name: round_money(row[f"bucket_{name}"] or ZERO) for name, _l, _h in AGEING_BUCKETS
        },
    )


def receivables_ageing(*, viewer, at: date, scope: Scope | None = None) -> Ageing:
    scope = scope or Scope()
    external = _external("vrop.receivables.selectors", "receivables_ageing")
    if external is not None and scope.team_id is None:
        result = external(viewer=viewer, at=at, manager_id=scope.manager_id)
        return Ageing(
            total=round_money(result.total),
            count=result.count,
            buckets={k: round_money(v) for k, v in result.buckets.items()},
        )
    return _ageing_fallback(viewer=viewer, at=at, scope=scope)


def overdue_invoices(*, viewer, at: date, scope: Scope | None = None, limit: int = 10):
    """The largest overdue balances on ``at`` (invoices with client and manager)."""
    scope = scope or Scope()
    visible = Invoice.objects.visible_to(viewer).filter(due_on__lt=at, **scope.filter("manager"))
    return (
        _unpaid_on(at, visible)
        .select_related("client", "manager", "deal")
        .order_by("-balance_due", "due_on", "pk")[:limit]
    )


@dataclass
class DaysToPayment:
    count: int
    median: Decimal | None
    mean: Decimal | None


def _median_from_histogram(histogram: list[tuple[int, int]]) -> Decimal | None:
    """Median of values given as (value, how many) sorted by value."""
    total = sum(n for _v, n in histogram)
    if not total:
        return None
    lower_rank, upper_rank = (total - 1) // 2, total // 2
    seen = 0
    lower = upper = None
    for value, n in histogram:
        if lower is None and seen + n > lower_rank:
            lower = value
        if upper is None and seen + n > upper_rank:
            upper = value
            break
        seen += n
    return (Decimal(lower) + Decimal(upper)) / 2


def days_histogram(queryset, later: str, earlier: str) -> list[tuple[int, int]]:
    """(whole days between two date columns, rows) sorted — one grouped query."""
    from django.db.models import DurationField

    rows = (
        queryset.annotate(
            days_between=ExpressionWrapper(F(later) - F(earlier), output_field=DurationField())
        )
        .values("days_between")
        .annotate(n=Count("pk"))
        .order_by("days_between")
    )
    return [(row["days_between"].days, row["n"]) for row in rows if row["days_between"] is not None]


def _days_to_payment_fallback(*, viewer, period: Period, scope: Scope) -> DaysToPayment:
    """FALLBACK until ``vrop.receivables.selectors.days_to_payment`` exists.

    Invoices that became fully paid in the period: days from invoice date to full payment.
    """
    invoices = Invoice.objects.visible_to(viewer).filter(
        paid_on__gte=period.start, paid_on__lte=period.end, **scope.filter("manager")
    )
    histogram = days_histogram(invoices, "paid_on", "issued_on")
    count = sum(n for _d, n in histogram)
    mean = (
        (Decimal(sum(d * n for d, n in histogram)) / count).quantize(Decimal("0.1"))
        if count
        else None
    )
    return DaysToPayment(count=count, median=_median_from_histogram(histogram), mean=mean)


def days_to_payment(*, viewer, period: Period, scope: Scope | None = None) -> DaysToPayment:
    scope = scope or Scope()
    external = _external("vrop.receivables.selectors", "days_to_payment")
    if external is not None and scope.team_id is None:
        result = external(
            viewer=viewer,
            date_from=period.start,
            date_to=period.end,
            manager_id=scope.manager_id,
        )
        return DaysToPayment(count=result.count, median=result.median, mean=result.mean)
    return _days_to_payment_fallback(viewer=viewer, period=period, scope=scope)
