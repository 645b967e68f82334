"""Writes on plans."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from vrop.accounts.models import Team, User
from vrop.accounts.visibility import can
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.core.money import to_decimal
from vrop.planning.models import Metric, Plan


@transaction.atomic
def plan_set(
    *,
    actor: User | None,
    period_start: date,
    period_end: date,
    metric: str,
    target: Decimal,
    manager: User | None = None,
    team: Team | None = None,
) -> Plan:
    """Set (create or replace) the target for one scope, period and metric."""
    if (
        actor is not None
        and not (actor.is_superuser or actor.role in ("owner", "head"))
        and not can(actor, "change", "plan_all")
    ):
        raise PermissionDenied(_("Only the head or the owner sets plans."))
    if metric not in Metric.values:
        raise ValidationError(
            _("Unknown metric “%(metric)s”.") % {"metric": metric}, field="metric"
        )
    if period_end < period_start:
        raise ValidationError(_("The period ends before it starts."), field="period_end")
    target = to_decimal(target, field="target")
    if target < 0:
        raise ValidationError(_("A plan cannot be negative."), field="target")
    plan, _created = Plan.objects.update_or_create(
        period_start=period_start,
        period_end=period_end,
        metric=metric,
        manager=manager,
        team=team,
        defaults={"target": target},
    )
    return plan


# --- decomposition ----------------------------------------------------------------------


def _active_managers(team: Team | None):
    managers = User.objects.active_staff().filter(role="manager")
    if team is not None:
        managers = managers.filter(team=team)
    return list(managers.order_by("pk"))


def _history_weights(managers: list[User], *, metric: str, before: date, months: int) -> dict:
    """Each manager's fact on ``metric`` over the ``months`` months before ``before``."""
    from django.db.models import DecimalField, ExpressionWrapper, F, Sum

    from vrop.receivables.models import Shipment

    start = before
    for _month in range(months):
        start = (start.replace(day=1) - timedelta(days=1)).replace(day=1)
    column = {
        Metric.GROSS_PROFIT: ExpressionWrapper(
            F("amount") - F("cost"), output_field=DecimalField(max_digits=18, decimal_places=2)
        ),
        Metric.REVENUE: F("amount"),
        Metric.VOLUME: F("volume"),
    }[metric]
    rows = (
        Shipment.objects.filter(manager__in=managers, shipped_on__gte=start, shipped_on__lt=before)
        .values("manager_id")
        .annotate(fact=Sum(column))
        .order_by()
    )
    facts = {row["manager_id"]: max(row["fact"] or Decimal("0"), Decimal("0")) for row in rows}
    return {manager.pk: facts.get(manager.pk, Decimal("0")) for manager in managers}


def split_by_weights(total: Decimal, weights: dict[int, Decimal]) -> dict[int, Decimal]:
    """Split ``total`` by ``weights`` into kopecks that add up exactly to ``total``.

    No positive weight: an equal split. The rounding remainder goes to the largest share.
    """
    from vrop.core.money import round_money

    keys = list(weights)
    if not keys:
        return {}
    weight_sum = sum(weights.values(), Decimal("0"))
    if weight_sum <= 0:
        weights = {key: Decimal("1") for key in keys}
        weight_sum = Decimal(len(keys))
    shares = {key: round_money(total * weights[key] / weight_sum) for key in keys}
    remainder = total - sum(shares.values(), Decimal("0"))
    if remainder:
        largest = max(keys, key=lambda key: (shares[key], -keys.index(key)))
        shares[largest] += remainder
    return shares


@transaction.atomic
def plan_decompose(
    *,
    actor: User | None,
    plan: Plan,
    method: str = "history",
    weights: dict[int, Decimal] | None = None,
    history_months: int = 3,
) -> list[Plan]:
    """Split a company or team plan onto its active managers, as their own plans.

    ``history``: by each manager's share of the metric over the previous months;
    ``weights``: by the weights the head sets ({manager id: weight}). The managers'
    targets add up to the plan's target to the kopeck.
    """
    if (
        actor is not None
        and not (actor.is_superuser or actor.role in ("owner", "head"))
        and not can(actor, "change", "plan_all")
    ):
        raise PermissionDenied(_("Only the head or the owner sets plans."))
    if plan.manager_id is not None:
        raise ValidationError(_("A manager's plan cannot be split further."), field="plan")
    managers = _active_managers(plan.team)
    if not managers:
        raise ValidationError(_("There are no active managers to split the plan onto."))
    if method == "history":
        shares = _history_weights(
            managers, metric=plan.metric, before=plan.period_start, months=history_months
        )
    elif method == "weights":
        known = {manager.pk for manager in managers}
        given = {int(k): to_decimal(v, field="weights") for k, v in (weights or {}).items()}
        if not given:
            raise ValidationError(_("Give a weight for each manager."), field="weights")
        if set(given) - known:
            raise ValidationError(
                _("Weights are given for people who are not active managers of this plan."),
                field="weights",
            )
        if any(value < 0 for value in given.values()) or sum(given.values()) <= 0:
            raise ValidationError(
                _("Weights cannot be negative and must add up to more than zero."),
                field="weights",
            )
        shares = {manager.pk: given.get(manager.pk, Decimal("0")) for manager in managers}
    else:
        raise ValidationError(_("Unknown way to split a plan."), field="method")
    targets = split_by_weights(plan.target, shares)
    by_pk = {manager.pk: manager for manager in managers}
    result = []
    for manager_pk, target in targets.items():
        child, _created = Plan.objects.update_or_create(
            period_start=plan.period_start,
            period_end=plan.period_end,
            metric=plan.metric,
            manager=by_pk[manager_pk],
            team=None,
            defaults={
                "target": target,
                "extra": {"decomposed_from": plan.pk, "method": method},
            },
        )
        result.append(child)
    return result


# --- forecast snapshots -------------------------------------------------------------------


def _snapshot_write(*, on: date, result, reconstructed: bool, replace: bool = True):
    """Write the day's snapshot and its lines; ``replace=False`` only into an empty day
    (an IntegrityError if a snapshot of the day exists)."""
    from vrop.planning.forecast import odds_params
    from vrop.planning.models import ForecastSnapshot, ForecastSnapshotLine

    values = {
        "total": result.total,
        "params": odds_params(result.odds),
        "reconstructed": reconstructed,
    }
    if replace:
        snapshot, _created = ForecastSnapshot.objects.update_or_create(made_on=on, defaults=values)
        snapshot.lines.all().delete()
    else:
        snapshot = ForecastSnapshot.objects.create(made_on=on, **values)
    ForecastSnapshotLine.objects.bulk_create(
        [
            ForecastSnapshotLine(snapshot=snapshot, expected_on=day, kind=kind, amount=amount)
            for (kind, day), amount in sorted(result.days.items(), key=lambda i: (i[0][1], i[0][0]))
            if amount
        ],
        batch_size=1000,
    )
    return snapshot


def _reconstructed_forecast(*, on: date, horizon_days: int):
    """The company's forecast as it could be made on the morning of ``on``: from ``on``,
    with what was known at the end of the day before."""
    from vrop.planning.forecast import SYSTEM, forecast

    return forecast(
        viewer=SYSTEM,
        at=on,
        horizon_days=horizon_days,
        fresh=True,
        known_through=on - timedelta(days=1),
    )


@transaction.atomic
def forecast_snapshot_take(*, on: date | None = None, horizon_days: int = 92):
    """Keep the company's payment forecast as made on ``on`` (today). Idempotent: taking
    it again the same day replaces that day's snapshot.

    A past day is reconstructed from the history (as the backfill does) and marked so; a
    snapshot taken live on its day is never replaced by a reconstruction.
    """
    from django.utils import timezone

    from vrop.planning.forecast import SYSTEM, forecast
    from vrop.planning.models import ForecastSnapshot

    today = timezone.localdate()
    on = on or today
    if on < today:
        live = ForecastSnapshot.objects.filter(made_on=on, reconstructed=False).first()
        if live is not None:
            return live
        result = _reconstructed_forecast(on=on, horizon_days=horizon_days)
        return _snapshot_write(on=on, result=result, reconstructed=True)
    result = forecast(viewer=SYSTEM, at=on, horizon_days=horizon_days, fresh=True)
    return _snapshot_write(on=on, result=result, reconstructed=False)


BACKFILL_EVERY = ("day", "week")


def forecast_backfill_days(*, since: date, until: date, every: str = "day") -> list[date]:
    """The days a backfill from ``since`` to ``until`` (both included) takes: every day, or
    each Monday and each first of a month (the days accuracy reads first for a week and a
    month)."""
    if every not in BACKFILL_EVERY:
        raise ValidationError(
            _("Snapshots are taken every day or every week, not “%(every)s”.") % {"every": every},
            field="every",
        )
    days = []
    day = since
    while day <= until:
        if every == "day" or day.weekday() == 0 or day.day == 1:
            days.append(day)
        day += timedelta(days=1)
    return days


def forecast_snapshots_backfill(
    *,
    since: date,
    until: date | None = None,
    every: str = "day",
    horizon_days: int = 92,
    progress=None,
) -> list[date]:
    """Take the missing snapshots of past days from ``since`` to ``until`` (yesterday by
    default; never today or later) by reconstructing each day's forecast from the history:
    the forecast as it could be made on that morning, from what was known at the end of the
    day before (``forecast(known_through=...)``). Marked ``reconstructed``.

    Idempotent: a day that has a snapshot (taken live, or reconstructed before) is left as
    it is. Mornings before the first deal arrived have nothing to forecast and are skipped.
    Each snapshot is written in its own transaction, so an interrupted run keeps what it
    took and a second run takes the rest. Returns the days taken.
    """
    from django.db.models import Min
    from django.utils import timezone

    from vrop.crm.models import Deal
    from vrop.planning.models import ForecastSnapshot

    yesterday = timezone.localdate() - timedelta(days=1)
    until = min(until or yesterday, yesterday)
    first = Deal.objects.aggregate(first=Min("received_at"))["first"]
    if first is None:
        return []
    since = max(since, timezone.localdate(first) + timedelta(days=1))
    wanted = forecast_backfill_days(since=since, until=until, every=every)
    if not wanted:
        return []
    kept = set(
        ForecastSnapshot.objects.filter(
            made_on__gte=wanted[0], made_on__lte=wanted[-1]
        ).values_list("made_on", flat=True)
    )
    taken = []
    for day in wanted:
        if day in kept:
            continue
        result = _reconstructed_forecast(on=day, horizon_days=horizon_days)
        try:
            with transaction.atomic():
                # Only into an empty day: a snapshot taken meanwhile wins.
                _snapshot_write(on=day, result=result, reconstructed=True, replace=False)
        except IntegrityError:
            continue
        taken.append(day)
        if progress is not None:
            progress(day)
    return taken


def forecast_snapshots_backfill_recent(
    *, weeks: int = 12, days: int = 7, months: int = 7, progress=None
) -> list[date]:
    """The recent past reconstructed for the accuracy tables: a snapshot each Monday (and
    first of a month) of the last ``weeks`` weeks, each of the last ``days`` days and the
    first days of the last ``months`` months (this one and six complete ones). Returns the
    days taken."""
    from django.utils import timezone

    yesterday = timezone.localdate() - timedelta(days=1)
    taken = forecast_snapshots_backfill(
        since=yesterday - timedelta(weeks=weeks) + timedelta(days=1),
        until=yesterday,
        every="week",
        progress=progress,
    )
    if days > 0:
        taken += forecast_snapshots_backfill(
            since=yesterday - timedelta(days=days - 1),
            until=yesterday,
            every="day",
            progress=progress,
        )
    first = yesterday.replace(day=1)
    for _month in range(months):
        taken += forecast_snapshots_backfill(
            since=first, until=first, every="day", progress=progress
        )
        first = (first - timedelta(days=1)).replace(day=1)
    return sorted(taken)
