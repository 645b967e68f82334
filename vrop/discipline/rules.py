"""Discipline rules: the next step rule (registered on deal.save, with a bulk variant),
the one definition of a stalled deal, and the hook that sweeps a deal after each change.

Stalled deal (DESIGN.md): open and not snoozed, and (no next step, or the next step
overdue by more than ``next_step_overdue_days`` working days, or no activity for longer
than the stage norm, or in the stage longer than the stage norm). Norms are in working
days of the company's hours (lead 1, contact 3, quote 5 by default). "No activity" counts
from the last activity, or from the deal's arrival when it has none. Every threshold
becomes one cut-off moment (``StalledCutoffs``), computed once per sweep, so the
definition is one SQL condition over the denormalised deal columns.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from vrop.core.calendar import WorkingTime
from vrop.core.policy import company_settings
from vrop.core.rulebook import Violation, rule
from vrop.crm.choices import OPEN_STAGES
from vrop.crm.models import Task
from vrop.discipline.choices import StalledReason
from vrop.discipline.worktime import working_cutoff

# --- the next step rule -----------------------------------------------------------------


def next_step_rule_bulk(deals) -> dict:
    """The next step rule over a queryset of deals, in one query."""
    message = _("An open deal needs a next step: add a task with a due date.")
    with_step = Task.objects.filter(
        deal_id=OuterRef("pk"), done_at__isnull=True, due_at__isnull=False
    )
    missing = (
        deals.filter(stage__in=OPEN_STAGES).exclude(Exists(with_step)).values_list("pk", flat=True)
    )
    return {pk: [Violation("no_next_step", message)] for pk in missing.iterator(chunk_size=5000)}


@rule("deal.save", bulk=next_step_rule_bulk)
def next_step_rule(deal, *, actor, context) -> list[Violation]:
    """Every open deal has an open task with a due date (its next step)."""
    if deal.stage not in OPEN_STAGES:
        return []
    has_next_step = Task.objects.filter(
        deal_id=deal.pk, done_at__isnull=True, due_at__isnull=False
    ).exists()
    if has_next_step:
        return []
    return [
        Violation("no_next_step", _("An open deal needs a next step: add a task with a due date."))
    ]


# --- stalled deals ----------------------------------------------------------------------


@dataclass(frozen=True)
class StalledCutoffs:
    """The stalled rule at one moment: every working-time threshold as a timestamp."""

    at: datetime
    next_step_overdue_before: datetime
    stage_norm_before: dict[str, datetime]

    @classmethod
    def at_moment(cls, at: datetime, working_time: WorkingTime | None = None) -> StalledCutoffs:
        policy = company_settings()
        working_time = working_time or WorkingTime(
            policy.workday_start, policy.workday_end, _zone(policy.time_zone)
        )
        day = working_time.minutes_per_day
        norms = policy.stage_norms_days or {}
        return cls(
            at=at,
            next_step_overdue_before=working_cutoff(
                at, policy.next_step_overdue_days * day, working_time
            ),
            stage_norm_before={
                str(stage): working_cutoff(at, int(norms.get(str(stage), 1)) * day, working_time)
                for stage in OPEN_STAGES
            },
        )


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def active_snooze(at: datetime, deal_ref: str = "pk"):
    """Exists: the deal (``OuterRef(deal_ref)``) is snoozed at ``at``."""
    from vrop.discipline.models import Snooze

    return Exists(
        Snooze.objects.filter(deal_id=OuterRef(deal_ref), ended_at__isnull=True, resume_at__gt=at)
    )


def stalled_condition(cutoffs: StalledCutoffs) -> Q:
    """The stalled rule as one condition on deal rows (snoozes excluded separately)."""
    per_stage = Q()
    for stage, norm_before in cutoffs.stage_norm_before.items():
        per_stage |= Q(stage=stage) & (
            Q(last_activity_at__lt=norm_before)
            | Q(last_activity_at__isnull=True, received_at__lt=norm_before)
            | Q(stage_changed_at__lt=norm_before)
        )
    return Q(stage__in=OPEN_STAGES) & (
        Q(next_step_at__isnull=True)
        | Q(next_step_at__lt=cutoffs.next_step_overdue_before)
        | per_stage
    )


def is_stalled(cutoffs: StalledCutoffs) -> Q:
    """The stalled rule at ``cutoffs.at`` with snoozes: one condition on deal rows (also
    usable in an annotation, e.g. a risk flag on a few rows of another deal query)."""
    return stalled_condition(cutoffs) & ~Q(active_snooze(cutoffs.at))


def stalled_filter(deals, cutoffs: StalledCutoffs):
    """``deals`` narrowed to the stalled ones at ``cutoffs.at``: one SQL condition."""
    return deals.filter(is_stalled(cutoffs))


def stalled_reasons(
    *,
    stage: str,
    next_step_at: datetime | None,
    last_activity_at: datetime | None,
    received_at: datetime,
    stage_changed_at: datetime,
    cutoffs: StalledCutoffs,
) -> list[str]:
    """Why a deal is stalled (empty: it is not), in the order a person fixes them."""
    if stage not in OPEN_STAGES:
        return []
    reasons = []
    if next_step_at is None:
        reasons.append(StalledReason.NO_NEXT_STEP.value)
    elif next_step_at < cutoffs.next_step_overdue_before:
        reasons.append(StalledReason.NEXT_STEP_OVERDUE.value)
    norm_before = cutoffs.stage_norm_before[str(stage)]
    if (last_activity_at or received_at) < norm_before:
        reasons.append(StalledReason.NO_ACTIVITY.value)
    if stage_changed_at < norm_before:
        reasons.append(StalledReason.STAGE_TOO_LONG.value)
    return reasons


# --- sweep a deal after each change -----------------------------------------------------

_pending = threading.local()


def _flush_pending() -> None:
    deal_ids = getattr(_pending, "deal_ids", None)
    _pending.deal_ids = None
    if deal_ids:
        from vrop.discipline.tasks import sweep_deals_task

        sweep_deals_task(sorted(deal_ids))


def schedule_deal_sweep(deal_id: int) -> None:
    """Sweep ``deal_id`` once the current transaction commits (one task per transaction)."""
    connection = transaction.get_connection()
    deal_ids = getattr(_pending, "deal_ids", None)
    registered = any(
        getattr(entry[1], "__name__", "") == "_flush_pending"
        for entry in getattr(connection, "run_on_commit", [])
    )
    if deal_ids is None or not registered:
        deal_ids = _pending.deal_ids = set()
        deal_ids.add(deal_id)
        transaction.on_commit(_flush_pending)
        return
    deal_ids.add(deal_id)


def _sweep_hook_bulk(deals) -> dict:
    """Imports sweep once at the end (``sweep``), not per deal."""
    return {}


@rule("deal.save", bulk=_sweep_hook_bulk)
def sweep_after_change(deal, *, actor, context) -> list[Violation]:
    """Not a refusal: keeps the deal's alerts current after every write (on commit)."""
    if deal.pk is not None:
        schedule_deal_sweep(deal.pk)
    return []
