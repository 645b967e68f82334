"""Reads on plans: the target of a scope for any period, and the run-rate projection.

How a target is found for a period (docs/numbers.md, "plan"):

* the plans of the scope itself (a manager's, a team's, or the company's — neither
  manager nor team set) on the metric that overlap the period are taken;
* plans are grouped by length (month, quarter, year); the group that covers the most
  working days of the period wins (a tie goes to the shorter plans), so a quarter plan
  and its three month plans are never added together;
* each plan counts by the share of its working days that fall inside the period
  (a month plan of 22 working days asked for a week of 5 gives 5/22 of its target);
* a team or the company without a plan of its own gets the sum of its managers' plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from vrop.accounts.visibility import can
from vrop.analytics.periods import Period, Scope
from vrop.core.calendar import working_days_between
from vrop.core.money import ZERO, round_money
from vrop.planning.models import Plan


def _length_class(plan: Plan) -> int:
    days = (plan.period_end - plan.period_start).days + 1
    if days <= 31:
        return 1
    if days <= 92:
        return 2
    return 3


def _overlap(plan: Plan, period: Period) -> tuple[date, date] | None:
    start, end = max(plan.period_start, period.start), min(plan.period_end, period.end)
    return (start, end) if start <= end else None


def _prorated(plans: list[Plan], period: Period) -> tuple[Decimal | None, int]:
    """(target for the period, working days of the period the plans cover)."""
    if not plans:
        return None, 0
    best: tuple[int, int] | None = None
    best_plans: list[Plan] = []
    groups: dict[int, list[Plan]] = {}
    for plan in plans:
        groups.setdefault(_length_class(plan), []).append(plan)
    for length, group in groups.items():
        covered = 0
        for plan in group:
            start, end = _overlap(plan, period)
            covered += working_days_between(start, end)
        key = (covered, -length)
        if best is None or key > best:
            best, best_plans = key, group
    target = ZERO
    for plan in best_plans:
        start, end = _overlap(plan, period)
        plan_days = working_days_between(plan.period_start, plan.period_end)
        inside = working_days_between(start, end)
        if plan_days == 0 or inside == plan_days:
            target += plan.target
        else:
            target += plan.target * Decimal(inside) / Decimal(plan_days)
    return round_money(target), best[0]


def _overlapping(metric: str, period: Period, base=None):
    return (
        (base if base is not None else Plan.objects.all())
        .filter(metric=metric, period_start__lte=period.end, period_end__gte=period.start)
        .select_related("manager")
    )


def plan_target_from_rows(
    rows: list[Plan], *, scope: Scope, period: Period, team_members: set[int] | None = None
) -> Decimal | None:
    """The target of ``scope`` for ``period`` from already fetched plan rows."""
    if scope.manager_id is not None:
        own = [p for p in rows if p.manager_id == scope.manager_id]
        return _prorated(own, period)[0]
    if scope.team_id is not None:
        own = [p for p in rows if p.team_id == scope.team_id and p.manager_id is None]
    else:
        own = [p for p in rows if p.team_id is None and p.manager_id is None]
    target, _covered = _prorated(own, period)
    if target is not None:
        return target
    by_manager: dict[int, list[Plan]] = {}
    for plan in rows:
        if plan.manager_id is None:
            continue
        if scope.team_id is not None:
            in_team = (
                plan.manager_id in team_members
                if team_members is not None
                else plan.manager.team_id == scope.team_id
            )
            if not in_team:
                continue
        by_manager.setdefault(plan.manager_id, []).append(plan)
    if not by_manager:
        return None
    total = ZERO
    for manager_plans in by_manager.values():
        total += _prorated(manager_plans, period)[0] or ZERO
    return round_money(total)


def plan_target(
    *, viewer, metric: str, period: Period, scope: Scope | None = None
) -> Decimal | None:
    """The target of ``scope`` on ``metric`` for ``period`` (None when there is no plan).

    One query. A viewer who may not see the scope's plans gets None.
    """
    scope = scope or Scope()
    if not can(viewer, "view", "plan"):
        return None
    if viewer.role == "manager" and not viewer.is_superuser and scope.manager_id != viewer.pk:
        return None
    return plan_target_from_rows(list(_overlapping(metric, period)), scope=scope, period=period)


def plan_targets_by_manager(*, viewer, metric: str, period: Period) -> dict[int, Decimal]:
    """Every visible manager's own target for ``period``, in one query."""
    rows: dict[int, list[Plan]] = {}
    visible = Plan.objects.visible_to(viewer).filter(manager__isnull=False)
    for plan in _overlapping(metric, period, base=visible):
        rows.setdefault(plan.manager_id, []).append(plan)
    return {
        manager_id: target
        for manager_id, plans in rows.items()
        if (target := _prorated(plans, period)[0]) is not None
    }


@dataclass(frozen=True)
class RunRate:
    """Fact, plan and the run-rate projection on the Russian working-day calendar."""

    fact: Decimal
    plan: Decimal | None
    working_days: int
    working_days_passed: int
    projection: Decimal | None

    @property
    def plan_pct(self) -> Decimal | None:
        from vrop.core.money import percent

        return percent(self.fact, self.plan)

    @property
    def projection_pct(self) -> Decimal | None:
        from vrop.core.money import percent

        return percent(self.projection, self.plan)


def run_rate(*, fact: Decimal, plan: Decimal | None, period: Period, at: date) -> RunRate:
    """Run-rate = fact / working days passed × working days in the period.

    Days passed count the working days from the period's start up to and including
    ``at`` (the day's shipments are in the fact). No working day passed yet: no projection.
    """
    total_days = working_days_between(period.start, period.end)
    passed = working_days_between(period.start, min(at, period.end)) if at >= period.start else 0
    projection = (
        round_money(Decimal(fact) / Decimal(passed) * Decimal(total_days)) if passed else None
    )
    return RunRate(
        fact=fact,
        plan=plan,
        working_days=total_days,
        working_days_passed=passed,
        projection=projection,
    )
