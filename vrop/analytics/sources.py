"""Numbers that other apps own, read through one door.

Stalled deals and request SLA belong to discipline (``vrop.discipline.selectors``,
``docs/discipline.md``); overdue receivables, ageing, the overdue list and days to
payment to receivables (``vrop.receivables.selectors``, ``docs/receivables.md``). Each
has ONE definition, in its app; this module calls it and adapts the answer to the
analytics scope (company, team or manager) and data shapes — it defines nothing:

* stalled deals: discipline's ``stalled_queryset`` (its rule as one SQL condition),
  summed here in one query; on a row of another deal query, its ``is_stalled``;
* requests on time: discipline's ``requests_on_time`` — the first-contact part of
  ``sla_stats`` in two queries (the full statistics take ten), so that a dashboard
  stays within ten queries;
* ageing: receivables' ``receivables_ageing``; the overdue list: its ``overdue_list``;
  days to payment: its ``days_to_payment`` (one query).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import BooleanField, Case, Count, Exists, OuterRef, Q, Sum, Value, When
from django.utils import timezone

from vrop.analytics.periods import Period, Scope
from vrop.core.money import ZERO, round_money
from vrop.discipline import selectors as discipline
from vrop.discipline.rules import StalledCutoffs, is_stalled
from vrop.pricing.models import ApprovalRequest, ApprovalStatus, Confirmation
from vrop.receivables import selectors as receivables
from vrop.receivables.selectors import DaysToPayment


def _team_filter(queryset, scope: Scope, manager_field: str = "manager"):
    return (
        queryset.filter(**{f"{manager_field}__team_id": scope.team_id})
        if scope.team_id
        else queryset
    )


# --- stalled deals (discipline) -----------------------------------------------------------


def stalled_deals(*, viewer, at: datetime, scope: Scope | None = None):
    """Open deals that meet discipline's stalled rule at ``at`` (a queryset of Deal)."""
    scope = scope or Scope()
    deals, _cutoffs = discipline.stalled_queryset(viewer=viewer, at=at, manager_id=scope.manager_id)
    return _team_filter(deals, scope)


def stalled_at(at: datetime):
    """True for a deal stalled at ``at`` (an annotation of the deal row): discipline's
    ``is_stalled`` (the condition of its ``stalled_filter``), evaluated on the row itself."""
    return Case(
        When(is_stalled(StalledCutoffs.at_moment(at)), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


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
    """Requests of the period decided against the first-contact SLA (measured + waiting
    past it), those on time, and discipline's share (one decimal)."""

    total: int
    on_time: int
    on_time_pct: Decimal | None


def sla_summary(
    *, viewer, period: Period, scope: Scope | None = None, at: datetime | None = None
) -> SlaSummary:
    """Requests processed on time: discipline's first-contact share of the SLA."""
    scope = scope or Scope()
    stats = discipline.requests_on_time(
        viewer=viewer,
        date_from=period.start,
        date_to=period.end,
        manager_id=scope.manager_id,
        team_id=scope.team_id,
        at=at or timezone.now(),
    )
    return SlaSummary(
        total=stats["measured"] + stats["pending_breached"],
        on_time=stats["within_sla"],
        on_time_pct=stats["share_within_pct"],
    )


# --- receivables --------------------------------------------------------------------------


@dataclass
class Ageing:
    total: Decimal
    count: int
    buckets: dict[str, Decimal] = field(default_factory=dict)


def _ageing_of(result) -> Ageing:
    """Receivables' ageing in kopecks: the total is the sum of the rounded buckets."""
    buckets = {str(k): round_money(v) for k, v in result.buckets.items()}
    return Ageing(total=sum(buckets.values(), ZERO), count=result.count, buckets=buckets)


def receivables_ageing(*, viewer, at: date, scope: Scope | None = None) -> Ageing:
    """Overdue receivables on ``at`` with ageing buckets (receivables' definition)."""
    scope = scope or Scope()
    if scope.team_id is None:
        return _ageing_of(
            receivables.receivables_ageing(viewer=viewer, at=at, manager_id=scope.manager_id)
        )
    from vrop.accounts.models import User

    members = set(User.objects.filter(team_id=scope.team_id).values_list("pk", flat=True))
    rows = [
        row
        for row in receivables.receivables_ageing(viewer=viewer, at=at, group_by="manager")
        if row.id in members
    ]
    buckets: dict[str, Decimal] = {}
    for row in rows:
        for name, value in row.buckets.items():
            buckets[str(name)] = buckets.get(str(name), ZERO) + value
    buckets = {k: round_money(v) for k, v in buckets.items()}
    return Ageing(
        total=sum(buckets.values(), ZERO), count=sum(row.count for row in rows), buckets=buckets
    )


def overdue_by_manager(*, viewer, at: date) -> dict[int | None, Decimal]:
    """{manager id: overdue receivables on ``at``} (receivables' ageing by manager)."""
    rows = receivables.receivables_ageing(viewer=viewer, at=at, group_by="manager")
    return {row.id: round_money(row.total) for row in rows}


def overdue_invoices(*, viewer, at: date, scope: Scope | None = None, limit: int = 5) -> list:
    """The largest overdue balances on ``at``: receivables' overdue list (with
    ``days_overdue`` and the latest action's ``next_action``), largest first, with the
    balance as ``overdue_balance``."""
    scope = scope or Scope()
    invoices = _team_filter(
        receivables.overdue_list(viewer=viewer, at=at, manager_id=scope.manager_id), scope
    )
    rows = list(invoices.order_by("-balance_due", "due_on", "pk")[:limit])
    for invoice in rows:
        invoice.overdue_balance = invoice.balance_due
    return rows


def days_to_payment(*, viewer, period: Period, scope: Scope | None = None) -> DaysToPayment:
    """Days from invoice date to full payment of the invoices fully paid in the period
    (receivables' ``days_to_payment``: count, median, mean)."""
    scope = scope or Scope()
    return receivables.days_to_payment(
        viewer=viewer,
        date_from=period.start,
        date_to=period.end,
        manager_id=scope.manager_id,
        team_id=scope.team_id,
    )


# --- risks of a deal (pricing) ---------------------------------------------------------------


def pending_approval_exists():
    """``Exists`` of a pending price approval for the outer deal."""
    return Exists(
        ApprovalRequest.objects.filter(deal_id=OuterRef("pk"), status=ApprovalStatus.PENDING)
    )


def unconfirmed_promise(at: datetime):
    """True for a deal with a promised date and no stock/supplier confirmation valid at
    ``at`` (an annotation)."""
    confirmed = Confirmation.objects.filter(deal_id=OuterRef("pk"), valid_until__gte=at)
    return Case(
        When(Q(promised_date__isnull=False) & ~Q(Exists(confirmed)), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


__all__ = [
    "Ageing",
    "DaysToPayment",
    "SlaSummary",
    "StalledSummary",
    "days_to_payment",
    "overdue_by_manager",
    "overdue_invoices",
    "receivables_ageing",
    "sla_summary",
    "stalled_at",
    "stalled_deals",
    "stalled_summary",
]
