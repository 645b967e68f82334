"""Writes on plans."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
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
