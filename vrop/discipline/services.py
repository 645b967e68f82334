"""Every write of the discipline area: the sweep (alerts, escalation, nudges), snoozes,
and the next step actions of the Today page.

The sweep is set-based: each kind of alert is opened by one ``INSERT … SELECT … ON
CONFLICT DO NOTHING`` over the deals or requests that meet its cause (the partial
unique constraint keeps one open alert per kind and object, so a rerun or two sweeps
at once add nothing), closed by one ``UPDATE`` where the cause is gone, and escalated
by one ``UPDATE`` per level. ``deal_ids``/``request_ids`` narrow it to the objects that
just changed (the incremental sweep after each write).
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connections, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.core.calendar import WorkingTime
from vrop.core.errors import NotFound, PermissionDenied, ValidationError
from vrop.core.policy import company_settings
from vrop.crm import services as crm_services
from vrop.crm.choices import OPEN_STAGES, RequestStatus, Stage
from vrop.crm.models import Deal, Request, Task
from vrop.discipline import nudges, texts
from vrop.discipline.choices import AlertKind, Level, Severity
from vrop.discipline.models import Alert, Snooze
from vrop.discipline.rules import StalledCutoffs, schedule_deal_sweep, stalled_filter
from vrop.discipline.worktime import working_cutoff

PAST_TOLERANCE = timedelta(minutes=5)
SLA_ALERT_WINDOW = timedelta(days=7)
MAX_SNOOZE_DAYS = 180
NUDGE_LOCK = 73_100_301  # pg_advisory_xact_lock key serialising the nudge step
ANALYZE_AFTER = 1000  # alerts opened in one sweep after which PostgreSQL re-reads statistics


# --- the sweep --------------------------------------------------------------------------


@dataclass
class SweepResult:
    at: datetime
    opened: dict = field(default_factory=dict)
    resolved: dict = field(default_factory=dict)
    escalated: int = 0
    nudges: int = 0
    seconds: float = 0.0


def _company_working_time() -> WorkingTime:
    policy = company_settings()
    return WorkingTime(policy.workday_start, policy.workday_end, ZoneInfo(policy.time_zone))


def _open_alerts(kind: str, causes, *, target: str, at: datetime, severity: str) -> int:
    """Open an alert for every object of ``causes`` that has no open one of ``kind``:
    one INSERT … SELECT … ON CONFLICT DO NOTHING."""
    column = f"{target}_id"
    existing = Alert.objects.filter(kind=kind, resolved_at__isnull=True, **{column: OuterRef("pk")})
    source = (
        causes.exclude(Exists(existing))
        .values(alert_object=F("pk"), alert_manager=F("manager_id"))
        .order_by()
    )
    connection = connections[Alert.objects.db]
    select_sql, select_params = source.query.sql_with_params()
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(name)
        for name in (
            "kind",
            "severity",
            column,
            "manager_id",
            "level",
            "notified_level",
            "first_seen_at",
            "details",
        )
    )
    details = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    statement = (
        f"INSERT INTO {quote(Alert._meta.db_table)} ({columns}) "
        f"SELECT %s, %s, s.{quote('alert_object')}, s.{quote('alert_manager')}, %s, %s, %s, "
        f"{details} FROM ({select_sql}) s WHERE 1 = 1 ON CONFLICT DO NOTHING"
    )
    params = [
        kind,
        severity,
        int(Level.MANAGER),
        int(Level.NONE),
        connection.ops.adapt_datetimefield_value(at),
        "{}",
        *select_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return max(cursor.rowcount, 0)


def _resolve_alerts(kind: str, causes, *, target: str, ids, at: datetime) -> int:
    """Close the open alerts of ``kind`` whose object no longer meets its cause."""
    column = f"{target}_id"
    alerts = Alert.objects.filter(kind=kind, resolved_at__isnull=True)
    if ids is not None:
        alerts = alerts.filter(**{f"{column}__in": ids})
    still = Exists(causes.filter(pk=OuterRef(column)))
    return alerts.exclude(still).update(resolved_at=at)


def _sync_managers(alerts) -> None:
    """An alert follows its deal or request to a new manager."""
    for target, model in (("deal", Deal), ("request", Request)):
        current = model.objects.filter(pk=OuterRef(f"{target}_id")).values("manager_id")[:1]
        stale = alerts.filter(**{f"{target}__isnull": False}).exclude(
            Q(**{"manager_id": F(f"{target}__manager_id")})
            | Q(manager__isnull=True, **{f"{target}__manager__isnull": True})
        )
        stale.update(manager_id=Subquery(current))


def _escalate(alerts, at: datetime, working_time: WorkingTime) -> int:
    """Stalled deals: manager → head after N working hours → owner after M; requests
    waiting with a manager: manager → head."""
    policy = company_settings()
    to_head = working_cutoff(at, policy.escalation_head_hours * 60, working_time)
    to_owner = working_cutoff(at, policy.escalation_owner_hours * 60, working_time)
    open_alerts = alerts.filter(resolved_at__isnull=True)
    count = open_alerts.filter(
        kind=AlertKind.STALLED_DEAL, level=Level.HEAD, first_seen_at__lt=to_owner
    ).update(level=Level.OWNER, escalated_at=at, severity=Severity.CRITICAL)
    count += open_alerts.filter(
        Q(kind=AlertKind.STALLED_DEAL) | Q(kind=AlertKind.REQUEST_WAITING, manager__isnull=False),
        level=Level.MANAGER,
        first_seen_at__lt=to_head,
    ).update(level=Level.HEAD, escalated_at=at)
    return count


def sweep(
    *,
    at: datetime | None = None,
    deal_ids: list[int] | None = None,
    request_ids: list[int] | None = None,
) -> SweepResult:
    """Bring the alerts in line with the data at ``at``: open, close, escalate, nudge.

    Without ids it is the full sweep (periodic); with ``deal_ids`` or ``request_ids``
    only those objects are looked at (after a change). Safe to run twice, or twice at
    once: the second run finds nothing to do.
    """
    started = clock.monotonic()
    at = at or timezone.now()
    full = deal_ids is None and request_ids is None
    working_time = _company_working_time()
    policy = company_settings()
    cutoffs = StalledCutoffs.at_moment(at, working_time)
    first_cutoff = working_cutoff(at, policy.sla_first_contact_minutes, working_time)
    quote_cutoff = working_cutoff(at, policy.sla_quote_minutes, working_time)
    window = at - SLA_ALERT_WINDOW
    result = SweepResult(at=at)
    with transaction.atomic():
        if full or deal_ids is not None:
            every = Deal.objects.all()
            first_contact = every.filter(
                stage__in=OPEN_STAGES, first_contact_at__isnull=True, received_at__lt=first_cutoff
            )
            quote = every.filter(
                stage__in=(Stage.LEAD, Stage.CONTACT),
                quote_sent_at__isnull=True,
                received_at__lt=quote_cutoff,
            )
            deal_causes = (
                (AlertKind.STALLED_DEAL, stalled_filter(every, cutoffs), None),
                (AlertKind.FIRST_CONTACT_SLA, first_contact, window),
                (AlertKind.QUOTE_SLA, quote, window),
            )
            for kind, causes, since in deal_causes:
                new = causes if deal_ids is None else causes.filter(pk__in=deal_ids)
                if since is not None:
                    new = new.filter(received_at__gte=since)
                result.opened[kind] = _open_alerts(
                    kind, new, target="deal", at=at, severity=Severity.WARNING
                )
                result.resolved[kind] = _resolve_alerts(
                    kind, causes, target="deal", ids=deal_ids, at=at
                )
        if full or request_ids is not None:
            waiting = Request.objects.filter(status=RequestStatus.NEW, received_at__lt=first_cutoff)
            new = waiting if request_ids is None else waiting.filter(pk__in=request_ids)
            kind = AlertKind.REQUEST_WAITING
            result.opened[kind] = _open_alerts(
                kind,
                new.filter(received_at__gte=window),
                target="request",
                at=at,
                severity=Severity.WARNING,
            )
            result.resolved[kind] = _resolve_alerts(
                kind, waiting, target="request", ids=request_ids, at=at
            )
        connection = connections[Alert.objects.db]
        if connection.vendor == "postgresql" and sum(result.opened.values()) >= ANALYZE_AFTER:
            # Fresh statistics, or the planner takes the grown table for empty and the next
            # sweep's anti-join with the open alerts goes quadratic.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(Alert._meta.db_table)}")
        touched = Alert.objects.all()
        if not full:
            condition = Q(pk__in=[])
            if deal_ids is not None:
                condition |= Q(deal_id__in=deal_ids)
            if request_ids is not None:
                condition |= Q(request_id__in=request_ids)
            touched = touched.filter(condition)
        _sync_managers(touched.filter(resolved_at__isnull=True))
        result.escalated = _escalate(touched, at, working_time)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [NUDGE_LOCK])
        result.nudges = nudges.send_pending(None if full else touched)
    result.seconds = clock.monotonic() - started
    return result


# --- snooze -----------------------------------------------------------------------------


def _require(actor: User | None, kind: str = "deal") -> None:
    if actor is not None and not can(actor, "change", kind):
        raise PermissionDenied(texts.FORBIDDEN)


def _visible_deal(actor: User | None, deal: Deal, *, lock: bool = False) -> Deal:
    deals = Deal.objects.all() if actor is None else Deal.objects.visible_to(actor)
    if lock:
        deals = Deal.objects.select_for_update().filter(pk__in=deals.filter(pk=deal.pk))
    found = deals.filter(pk=deal.pk).first()
    if found is None:
        raise NotFound(texts.NO_SUCH_DEAL)
    return found


def _visible_task(actor: User | None, task: Task) -> Task:
    tasks = Task.objects.all() if actor is None else Task.objects.visible_to(actor)
    found = tasks.select_related("deal").filter(pk=task.pk).first()
    if found is None:
        raise NotFound(texts.NO_SUCH_TASK)
    return found


@transaction.atomic
def deal_snooze(*, actor: User | None, deal: Deal, reason: str, resume_on: date | None) -> Snooze:
    """The deal waits for a known reason until ``resume_on``: not stalled until then.

    A task to come back on that date (at the start of the working day) becomes its next
    step, so the deal returns to the manager's Today page by itself.
    """
    _require(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(texts.SNOOZE_NEEDS_REASON, field="reason")
    if resume_on is None:
        raise ValidationError(texts.SNOOZE_NEEDS_DATE, field="resume_on")
    today = timezone.localdate()
    if resume_on <= today:
        raise ValidationError(texts.SNOOZE_DATE_NOT_FUTURE, field="resume_on")
    if resume_on > today + timedelta(days=MAX_SNOOZE_DAYS):
        raise ValidationError(texts.SNOOZE_TOO_FAR % {"days": MAX_SNOOZE_DAYS}, field="resume_on")
    deal = _visible_deal(actor, deal, lock=True)
    if deal.stage not in OPEN_STAGES:
        raise ValidationError(texts.SNOOZE_NOT_OPEN, field="deal")
    now = timezone.now()
    Snooze.objects.filter(deal=deal, ended_at__isnull=True, resume_at__gt=now).update(ended_at=now)
    working_time = _company_working_time()
    resume_at = datetime.combine(resume_on, working_time.start, working_time.tz)
    snooze = Snooze.objects.create(
        deal=deal, reason=reason[:300], resume_on=resume_on, resume_at=resume_at, created_by=actor
    )
    crm_services.task_create(
        actor=actor,
        title=str(texts.SNOOZE_RESUME_TASK % {"reason": reason})[:300],
        due_at=resume_at,
        deal=deal,
        manager=deal.manager,
    )
    schedule_deal_sweep(deal.pk)
    return snooze


@transaction.atomic
def deal_snooze_end(*, actor: User | None, deal: Deal) -> int:
    """Take the deal out of waiting now; returns how many snoozes ended."""
    _require(actor)
    deal = _visible_deal(actor, deal)
    now = timezone.now()
    ended = Snooze.objects.filter(deal=deal, ended_at__isnull=True, resume_at__gt=now).update(
        ended_at=now
    )
    schedule_deal_sweep(deal.pk)
    return ended


# --- next steps (the Today page) --------------------------------------------------------


def _future(due_at: datetime | None, field_name: str = "due_at") -> datetime:
    if due_at is None:
        raise ValidationError(texts.NEXT_STEP_NEEDS_DATE, field=field_name)
    if due_at < timezone.now() - PAST_TOLERANCE:
        raise ValidationError(texts.NEXT_STEP_IN_PAST, field=field_name)
    return due_at


@transaction.atomic
def next_step_set(
    *, actor: User | None, deal: Deal, due_at: datetime | None, title: str = ""
) -> Task:
    """Give a deal its next step: a task with a date, not in the past."""
    _require(actor, "task")
    due_at = _future(due_at)
    deal = _visible_deal(actor, deal)
    return crm_services.task_create(
        actor=actor,
        title=(title or "").strip() or str(texts.NEXT_STEP_DEFAULT_TITLE),
        due_at=due_at,
        deal=deal,
        manager=deal.manager if deal.manager and not deal.manager.is_dismissed else None,
    )


@transaction.atomic
def next_step_reschedule(*, actor: User | None, task: Task, due_at: datetime | None) -> Task:
    """Move a task to a new date (not in the past)."""
    _require(actor, "task")
    due_at = _future(due_at)
    task = _visible_task(actor, task)
    task = crm_services.task_reschedule(actor=actor, task=task, due_at=due_at)
    if task.deal_id:
        schedule_deal_sweep(task.deal_id)
    return task


@transaction.atomic
def task_done(
    *,
    actor: User | None,
    task: Task,
    result: str = "",
    next_step_title: str = "",
    next_step_due_at: datetime | None = None,
) -> Task:
    """Mark a task done; with ``next_step_due_at`` the deal's next step is set first, in
    the same transaction (an open deal is never left without one)."""
    _require(actor, "task")
    task = _visible_task(actor, task)
    if next_step_due_at is not None or next_step_title:
        due_at = _future(next_step_due_at, "next_step_due_at")
        if task.deal_id:
            next_step_set(actor=actor, deal=task.deal, due_at=due_at, title=next_step_title)
    return crm_services.task_complete(actor=actor, task=task, result=result)
