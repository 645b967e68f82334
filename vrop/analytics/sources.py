"""Numbers that other apps own, read through one door.

Stalled deals and request SLA belong to discipline (``vrop.discipline.selectors``,
``docs/discipline.md``); overdue receivables, ageing and days to payment to
receivables (``vrop.receivables.selectors``, ``docs/receivables.md``). Each has ONE
definition, in its app, and this module reads it:

* stalled deals: discipline's ``stalled_queryset`` (its rule as one SQL condition),
  summed here in one query;
* requests on time: the first-contact share of discipline's ``sla_stats``, computed
  from the same building blocks (``_measured`` working seconds on the ``WorkingDay``
  axis, ``working_cutoff`` for waiting ones) in three queries instead of the full
  statistics' twelve, so that a dashboard stays within ten queries; a test checks it
  equals ``sla_stats(...)["requests_on_time_pct"]``;
* ageing: receivables' ``receivables_ageing``; the overdue list: its ``overdue_list``;
* days to payment: receivables' definition (invoices fully paid in the period, whole
  days by ``DaysBetween``) with the median read from a histogram in one query; a test
  checks it equals ``receivables.selectors.days_to_payment``.

While an owning app has not shipped its selector, a FALLBACK of the same definition
answers (marked below); it goes away as soon as the app's function is importable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib import import_module

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from vrop.analytics.periods import Period, Scope, datetime_range
from vrop.core.calendar import WorkingTime, is_working_day
from vrop.core.money import ZERO, round_money
from vrop.core.policy import company_settings
from vrop.crm.choices import OPEN_STAGES, RequestStatus, Stage
from vrop.crm.models import Deal, Request
from vrop.receivables.models import Invoice

MONEY_FIELD = DecimalField(max_digits=18, decimal_places=2)


def _external(module: str, name: str):
    """The owning app's function, or None while it does not exist yet."""
    try:
        return getattr(import_module(module), name, None)
    except ImportError:
        return None


def _team_filter(queryset, scope: Scope, manager_field: str = "manager"):
    return queryset.filter(**scope.filter(manager_field)) if scope.team_id else queryset


# --- stalled deals (discipline) -----------------------------------------------------------


def _working_days_back(day: date, n: int) -> date:
    current = day
    while n > 0:
        current -= timedelta(days=1)
        if is_working_day(current):
            n -= 1
    return current


def _stalled_fallback(*, viewer, at: datetime):
    """FALLBACK until ``vrop.discipline.selectors.stalled_queryset`` exists."""
    policy = company_settings()
    local = timezone.localtime(at)

    def back(days: int) -> datetime:
        day = _working_days_back(local.date(), days)
        return local.replace(year=day.year, month=day.month, day=day.day)

    condition = Q(next_step_at__isnull=True) | Q(
        next_step_at__lt=back(policy.next_step_overdue_days)
    )
    for stage, norm in (policy.stage_norms_days or {}).items():
        condition |= Q(stage=stage, stage_changed_at__lt=back(int(norm)))
    return Deal.objects.visible_to(viewer).filter(stage__in=OPEN_STAGES).filter(condition)


def stalled_deals(*, viewer, at: datetime, scope: Scope | None = None):
    """Open deals that meet discipline's stalled rule at ``at`` (a queryset of Deal)."""
    scope = scope or Scope()
    external = _external("vrop.discipline.selectors", "stalled_queryset")
    if external is not None:
        deals, _cutoffs = external(viewer=viewer, at=at, manager_id=scope.manager_id)
    else:
        deals = _stalled_fallback(viewer=viewer, at=at).filter(**scope.filter("manager"))
    return _team_filter(deals, scope)


def stalled_condition_for(at: datetime):
    """Discipline's stalled rule as an expression usable inside another deal query
    (``Exists`` over it), or None when discipline has not shipped it."""
    rules = _external("vrop.discipline.rules", "StalledCutoffs")
    stalled_filter = _external("vrop.discipline.rules", "stalled_filter")
    if rules is None or stalled_filter is None:
        return None
    return stalled_filter(Deal.objects.all(), rules.at_moment(at))


@dataclass
class StalledSummary:
    count: int
    amount: Decimal


def stalled_summary(*, viewer, at: datetime, scope: Scope | None = None) -> StalledSummary:
    row = stalled_deals(viewer=viewer, at=at, scope=scope).aggregate(
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
        """Share on time, one decimal as in discipline's ``sla_stats``."""
        if not self.total:
            return None
        return (Decimal(self.on_time) * 100 / Decimal(self.total)).quantize(
            Decimal("0.1"), ROUND_HALF_UP
        )


def _sla_discipline(*, viewer, period: Period, scope: Scope, at: datetime) -> SlaSummary | None:
    """The first-contact share of discipline's ``sla_stats`` from its building blocks:
    working seconds from arrival to first contact on the ``WorkingDay`` axis; deals and
    inbox requests still waiting past the SLA count as late. Three queries."""
    try:
        from vrop.discipline.selectors import _local_midnight, company_working_time
        from vrop.discipline.worktime import (
            ensure_calendar,
            position_annotations,
            working_cutoff,
        )
    except ImportError:
        return None
    from django.db.models import Value
    from django.db.models.functions import Greatest

    policy = company_settings()
    working_time = company_working_time()
    ensure_calendar(working_time)
    start = _local_midnight(period.start, working_time)
    end = _local_midnight(period.end + timedelta(days=1), working_time)
    deals = Deal.objects.visible_to(viewer).filter(
        received_at__gte=start, received_at__lt=end, **scope.filter("manager")
    )
    waiting = Request.objects.visible_to(viewer).filter(
        status=RequestStatus.NEW,
        received_at__gte=start,
        received_at__lt=end,
        **scope.filter("manager"),
    )
    sla_seconds = policy.sla_first_contact_minutes * 60
    cutoff = working_cutoff(at, policy.sla_first_contact_minutes, working_time)
    contacted = Q(first_contact_at__isnull=False, elapsed__isnull=False)
    row = (
        deals.alias(**position_annotations("received_at", "arrival_pos", working_time))
        .alias(**position_annotations("first_contact_at", "contact_pos", working_time))
        .annotate(elapsed=Greatest(F("contact_pos") - F("arrival_pos"), Value(0)))
        .aggregate(
            measured=Count("id", filter=contacted),
            within=Count("id", filter=contacted & Q(elapsed__lte=sla_seconds)),
            pending=Count(
                "id",
                filter=Q(
                    first_contact_at__isnull=True,
                    stage__in=OPEN_STAGES,
                    received_at__lt=cutoff,
                ),
            ),
        )
    )
    pending = row["pending"] + waiting.filter(received_at__lt=cutoff).count()
    return SlaSummary(total=row["measured"] + pending, on_time=row["within"])


def _sla_fallback(*, viewer, period: Period, scope: Scope, at: datetime) -> SlaSummary:
    """FALLBACK until discipline's ``sla_stats`` exists: deals that arrived in the period,
    first contact within the SLA in working minutes (waiting ones count once late)."""
    policy = company_settings()
    hours = WorkingTime(policy.workday_start, policy.workday_end, timezone.get_current_timezone())
    start, end = datetime_range(period)
    rows = (
        Deal.objects.visible_to(viewer)
        .filter(received_at__gte=start, received_at__lt=end, **scope.filter("manager"))
        .values_list("received_at", "first_contact_at", "stage")
    )
    total = on_time = 0
    for received_at, first_contact_at, stage in rows:
        limit = hours.add_minutes(received_at, policy.sla_first_contact_minutes)
        if first_contact_at is None and (limit > at or stage not in OPEN_STAGES):
            continue
        total += 1
        on_time += first_contact_at is not None and first_contact_at <= limit
    return SlaSummary(total=total, on_time=on_time)


def sla_summary(
    *, viewer, period: Period, scope: Scope | None = None, at: datetime | None = None
) -> SlaSummary:
    """Requests processed on time: the first-contact share of the SLA."""
    scope = scope or Scope()
    at = at or timezone.now()
    result = _sla_discipline(viewer=viewer, period=period, scope=scope, at=at)
    if result is None:
        result = _sla_fallback(viewer=viewer, period=period, scope=scope, at=at)
    return result


# --- receivables --------------------------------------------------------------------------

AGEING_BUCKETS = (("1-7", 1, 7), ("8-30", 8, 30), ("31-60", 31, 60), ("60+", 61, None))


@dataclass
class Ageing:
    total: Decimal
    count: int
    buckets: dict[str, Decimal] = field(default_factory=dict)


def _ageing_fallback(*, viewer, at: date, scope: Scope) -> Ageing:
    """FALLBACK until ``vrop.receivables.selectors.receivables_ageing`` exists."""
    balance = ExpressionWrapper(F("amount") - F("paid_amount"), output_field=MONEY_FIELD)
    aggregates = {"sum_total": Sum(balance), "n_invoices": Count("pk")}
    for name, low, high in AGEING_BUCKETS:
        window = Q(due_on__lte=at - timedelta(days=low))
        if high is not None:
            window &= Q(due_on__gte=at - timedelta(days=high))
        aggregates[f"bucket_{name}"] = Sum(balance, filter=window)
    row = (
        Invoice.objects.visible_to(viewer)
        .filter(paid_on__isnull=True, due_on__lt=at, **scope.filter("manager"))
        .aggregate(**aggregates)
    )
    return Ageing(
        total=round_money(row["sum_total"] or ZERO),
        count=row["n_invoices"] or 0,
        buckets={
            name: round_money(row[f"bucket_{name}"] or ZERO) for name, _l, _h in AGEING_BUCKETS
        },
    )


def _ageing_of(result) -> Ageing:
    return Ageing(
        total=round_money(result.total),
        count=result.count,
        buckets={str(k): round_money(v) for k, v in result.buckets.items()},
    )


def receivables_ageing(*, viewer, at: date, scope: Scope | None = None) -> Ageing:
    """Overdue receivables on ``at`` with ageing buckets (receivables' definition)."""
    scope = scope or Scope()
    external = _external("vrop.receivables.selectors", "receivables_ageing")
    if external is None:
        return _ageing_fallback(viewer=viewer, at=at, scope=scope)
    if scope.team_id is None:
        return _ageing_of(external(viewer=viewer, at=at, manager_id=scope.manager_id))
    from vrop.accounts.models import User

    members = set(User.objects.filter(team_id=scope.team_id).values_list("pk", flat=True))
    rows = [row for row in external(viewer=viewer, at=at, group_by="manager") if row.id in members]
    buckets = {name: ZERO for name, _l, _h in AGEING_BUCKETS}
    for row in rows:
        for name, value in row.buckets.items():
            buckets[str(name)] = buckets.get(str(name), ZERO) + value
    return Ageing(
        total=round_money(sum(buckets.values(), ZERO)),
        count=sum(row.count for row in rows),
        buckets={k: round_money(v) for k, v in buckets.items()},
    )


def overdue_invoices(*, viewer, at: date, scope: Scope | None = None, limit: int = 5) -> list:
    """The largest overdue balances on ``at``: invoices with ``overdue_balance``, ``days_overdue``
    and, when receivables records actions, the latest action and the next one."""
    scope = scope or Scope()
    external = _external("vrop.receivables.selectors", "overdue_list")
    if external is not None:
        invoices = _team_filter(external(viewer=viewer, at=at, manager_id=scope.manager_id), scope)
        name = "balance_due" if "balance_due" in invoices.query.annotations else "balance"
        rows = list(invoices.order_by(f"-{name}", "due_on", "pk")[:limit])
        for invoice in rows:
            invoice.overdue_balance = getattr(invoice, name)
        return rows
    balance = ExpressionWrapper(F("amount") - F("paid_amount"), output_field=MONEY_FIELD)
    rows = list(
        Invoice.objects.visible_to(viewer)
        .filter(paid_on__isnull=True, due_on__lt=at, **scope.filter("manager"))
        .select_related("client", "manager")
        .annotate(overdue_balance=balance)
        .order_by("-overdue_balance", "due_on", "pk")[:limit]
    )
    for invoice in rows:
        invoice.days_overdue = (at - invoice.due_on).days
        invoice.next_action = ""
    return rows


@dataclass
class DaysToPayment:
    count: int
    median: Decimal | None
    mean: Decimal | None


def median_from_histogram(histogram: list[tuple[int, int]]) -> Decimal | None:
    """Median of values given as (value, how many) sorted by value: the middle value, or
    the mean of the two middle ones."""
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


def days_to_payment(*, viewer, period: Period, scope: Scope | None = None) -> DaysToPayment:
    """Days from invoice date to full payment of the invoices fully paid in the period —
    receivables' definition; median from a histogram, one grouped query."""
    scope = scope or Scope()
    days_between = _external("vrop.receivables.selectors", "DaysBetween")
    invoices = Invoice.objects.visible_to(viewer).filter(
        paid_on__gte=period.start, paid_on__lte=period.end, **scope.filter("manager")
    )
    if days_between is not None:
        expression = days_between(F("paid_on"), F("issued_on"))
    else:  # FALLBACK: the same whole days through Django's date arithmetic
        from django.db.models import DurationField

        expression = ExpressionWrapper(F("paid_on") - F("issued_on"), output_field=DurationField())
    rows = (
        invoices.annotate(days=expression).values("days").annotate(n=Count("pk")).order_by("days")
    )
    histogram = [
        (row["days"].days if isinstance(row["days"], timedelta) else int(row["days"]), row["n"])
        for row in rows
        if row["days"] is not None
    ]
    count = sum(n for _d, n in histogram)
    mean = (
        (Decimal(sum(d * n for d, n in histogram)) / count).quantize(Decimal("0.1"), ROUND_HALF_UP)
        if count
        else None
    )
    return DaysToPayment(count=count, median=median_from_histogram(histogram), mean=mean)


# --- risks of a deal ---------------------------------------------------------------------------


def pending_approval_exists():
    """``Exists`` of a pending price approval for the outer deal, if pricing has them."""
    from django.db.models import Exists, OuterRef

    model = _external("vrop.pricing.models", "ApprovalRequest")
    if model is None:
        return None
    return Exists(model.objects.filter(deal_id=OuterRef("pk"), status="pending"))


def unconfirmed_promise_condition(at: datetime):
    """A promised date without a valid stock/supplier confirmation, if pricing has them."""
    from django.db.models import Exists, OuterRef

    model = _external("vrop.pricing.models", "Confirmation")
    if model is None:
        return None
    confirmed = model.objects.filter(deal_id=OuterRef("pk"), valid_until__gte=at)
    return Q(promised_date__isnull=False) & ~Q(Exists(confirmed))


__all__ = [
    "Ageing",
    "DaysToPayment",
    "SlaSummary",
    "StalledSummary",
    "days_to_payment",
    "overdue_invoices",
    "receivables_ageing",
    "sla_summary",
    "stalled_deals",
    "stalled_summary",
    "Stage",
]
