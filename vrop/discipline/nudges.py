"""Nudges: the messages the sweep sends when an alert reaches someone new.

Alerts pending a nudge (``notified_level < level``) are grouped by kind, level and
manager; each recipient gets one message per group, written for them (the manager,
the head, the owner), in their language, with up to five examples. Delivery goes
through the notifications outbox (``vrop.notifications.services.notify``) in the
sweep's own transaction, so that a nudge is queued exactly when the alert is marked
as told, and never twice.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.db.models import Count, F, Max
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from vrop.accounts.choices import Role
from vrop.accounts.models import User
from vrop.core.money import format_money
from vrop.core.policy import company_settings
from vrop.discipline import texts
from vrop.discipline.choices import AlertKind, Level
from vrop.discipline.models import Alert

logger = logging.getLogger(__name__)
EXAMPLES = 5


def _notify_function():
    try:
        from vrop.notifications.services import notify
    except ImportError:
        return None
    return notify


def delivery_available() -> bool:
    return _notify_function() is not None


def deliver(*, user: User, text: str, dedupe_key: str, link: str = "") -> bool:
    """Queue a message to ``user`` through the notifications outbox (in-app, Telegram)."""
    notify = _notify_function()
    if notify is None:
        logger.info("notifications are not installed; nudge to %s kept pending", user.pk)
        return False
    notify(user=user, text=text, dedupe_key=dedupe_key, link=link)
    return True


def _link(kind: str, person: User) -> str:
    """Where the recipient fixes it: the inbox, their Today page, or the board."""
    if kind == AlertKind.REQUEST_WAITING:
        name = "inbox"
    else:
        name = "today" if person.role == Role.MANAGER else "board"
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


@dataclass
class NudgeGroup:
    kind: str
    level: int
    manager: User | None
    count: int
    examples: list


def recipients(level: int, manager: User | None) -> list[User]:
    """Who hears about an alert at ``level``: its manager, then the heads, then owners."""
    if level == Level.MANAGER and manager is not None and not manager.is_dismissed:
        return [manager]
    role = Role.OWNER if level == Level.OWNER else Role.HEAD
    people = list(
        User.objects.filter(role=role, is_active=True, left_on__isnull=True).order_by("id")
    )
    if not people and role == Role.HEAD:
        people = list(User.objects.filter(role=Role.OWNER, is_active=True, left_on__isnull=True))
    return people


def _example(alert: Alert) -> str:
    if alert.deal_id:
        deal = alert.deal
        client = deal.client.name if deal.client_id else ""
        line = f"• {deal.title}"
        if client:
            line += f" — {client}"
        if deal.amount:
            line += f", {format_money(deal.amount)}"
        return line
    request = alert.request
    who = request.company_name or request.contact_name or request.phone or request.email
    return f"• #{request.pk} {who}".rstrip()


def nudge_text(group: NudgeGroup) -> str:
    """The message for a group, in the active language."""
    policy = company_settings()
    params = {
        "count": group.count,
        "manager": str(group.manager) if group.manager else str(texts.NOBODY),
        "minutes": policy.sla_first_contact_minutes,
    }
    kind, level = group.kind, group.level
    if kind == AlertKind.STALLED_DEAL:
        if level == Level.OWNER:
            params["hours"] = policy.escalation_owner_hours
            head = texts.NUDGE_STALLED_OWNER
        elif level == Level.HEAD:
            params["hours"] = policy.escalation_head_hours
            head = texts.NUDGE_STALLED_HEAD
        else:
            head = texts.NUDGE_STALLED_MANAGER
    elif kind == AlertKind.FIRST_CONTACT_SLA:
        head = texts.NUDGE_FIRST_CONTACT
    elif kind == AlertKind.QUOTE_SLA:
        params["minutes"] = policy.sla_quote_minutes
        head = texts.NUDGE_QUOTE
    elif group.manager is None:
        head = texts.NUDGE_REQUEST_UNASSIGNED
    elif level == Level.MANAGER:
        head = texts.NUDGE_REQUEST_MANAGER
    else:
        head = texts.NUDGE_REQUEST_HEAD
    lines = [head % params]
    lines += [_example(alert) for alert in group.examples]
    if group.count > len(group.examples):
        lines.append(texts.NUDGE_MORE % {"count": group.count - len(group.examples)})
    return "\n".join(str(line) for line in lines)


def send_pending(alerts=None) -> int:
    """Nudge everyone an open alert has newly reached; returns messages queued.

    Runs inside the sweep's transaction (the caller serialises sweeps for this step).
    When the notifications outbox is not installed, the alerts stay pending.
    """
    if not delivery_available():
        return 0
    pending = (alerts if alerts is not None else Alert.objects.all()).filter(
        resolved_at__isnull=True, notified_level__lt=F("level")
    )
    groups = (
        pending.values("kind", "level", "manager_id")
        .annotate(count=Count("id"))
        .order_by("kind", "level", "manager_id")
    )
    managers = {
        user.pk: user
        for user in User.objects.filter(pk__in=pending.values("manager_id").distinct())
    }
    sent = 0
    for row in list(groups):
        in_group = (
            pending.filter(kind=row["kind"], level=row["level"]).filter(
                manager_id=row["manager_id"]
            )
            if row["manager_id"] is not None
            else pending.filter(kind=row["kind"], level=row["level"], manager_id__isnull=True)
        )
        examples = list(
            in_group.select_related("deal", "deal__client", "request").order_by(
                "-deal__amount", "id"
            )[:EXAMPLES]
        )
        newest = in_group.aggregate(newest=Max("id"))["newest"]
        group = NudgeGroup(
            kind=row["kind"],
            level=row["level"],
            manager=managers.get(row["manager_id"]),
            count=row["count"],
            examples=examples,
        )
        digest = hashlib.sha1(f"{row['count']}:{newest}".encode()).hexdigest()[:16]
        for person in recipients(group.level, group.manager):
            with translation.override(person.language or "ru"):
                text = nudge_text(group)
            key = f"discipline:{group.kind}:{group.level}:{row['manager_id']}:{person.pk}:{digest}"
            if deliver(user=person, text=text, dedupe_key=key, link=_link(group.kind, person)):
                sent += 1
        in_group.update(notified_level=F("level"))
    return sent
