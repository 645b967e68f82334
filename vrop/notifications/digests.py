"""Daily digests: each person's digest at the time they chose (``User.digest_time``, in
the company's time zone), once a day, on working days of the Russian calendar.

Other apps register the text per role with ``services.digest_register``; until they do,
``default_digest`` tells a person their overdue tasks, today's tasks and the requests
waiting for them. A digest missed while no worker ran is still sent within
``CATCH_UP`` after its time, and never twice: its dedupe key is ``digest:<user>:<date>``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from vrop.accounts.models import User
from vrop.core.calendar import is_working_day
from vrop.notifications.models import OutboxMessage
from vrop.notifications.services import (
    digest_builder_for,
    digest_key,
    notify,
    telegram_is_configured,
)

logger = logging.getLogger(__name__)

CATCH_UP = timedelta(hours=2)
TOP_TASKS = 5


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def _today_url() -> str:
    try:
        return reverse("today")
    except NoReverseMatch:
        return "/"


def default_digest(*, user: User, day: date) -> str:
    """Overdue tasks, today's tasks (the first few by time) and requests waiting."""
    from vrop.crm.choices import RequestStatus
    from vrop.crm.models import Request, Task

    start, end = _day_bounds(day)
    open_tasks = Task.objects.filter(manager=user, done_at__isnull=True, due_at__lt=end)
    counts = open_tasks.aggregate(
        overdue=Count("id", filter=Q(due_at__lt=start)),
        today=Count("id", filter=Q(due_at__gte=start)),
    )
    waiting = Request.objects.filter(manager=user, status=RequestStatus.NEW).count()
    lines = [
        _("Good morning, %(name)s! Your day, %(date)s:")
        % {
            "name": user.first_name or str(user),
            "date": date_format(day, "d.m.Y"),
        }
    ]
    lines.append(
        ngettext("%(count)d overdue task", "%(count)d overdue tasks", counts["overdue"])
        % {"count": counts["overdue"]}
    )
    lines.append(
        ngettext("%(count)d task for today", "%(count)d tasks for today", counts["today"])
        % {"count": counts["today"]}
    )
    lines.append(
        ngettext("%(count)d request waiting for you", "%(count)d requests waiting for you", waiting)
        % {"count": waiting}
    )
    first = list(open_tasks.select_related("client").order_by("due_at", "id")[:TOP_TASKS])
    if first:
        lines.append("")
        lines.append(_("First in line:"))
        for task in first:
            moment = timezone.localtime(task.due_at)
            when = date_format(moment, "d.m.Y") if moment < start else date_format(moment, "H:i")
            client = f" — {task.client.name}" if task.client_id else ""
            lines.append(f"• {when} {task.title}{client}")
    if not (counts["overdue"] or counts["today"] or waiting):
        lines.append(_("Nothing is due: a good day to call the clients who went quiet."))
    return "\n".join(lines)


def _channels(user: User) -> tuple[str, ...]:
    if user.telegram_chat_id and telegram_is_configured():
        return ("inapp", "telegram")
    return ("inapp", "email")


def digest_send(*, user: User, day: date) -> int:
    """Build and queue ``user``'s digest for ``day`` (once); returns rows written."""
    builder = digest_builder_for(user)
    with translation.override(user.language or settings.LANGUAGE_CODE):
        text = builder(user=user, day=day)
        if not text:
            return 0
        subject = _("Your day in Virtual ROP, %(date)s") % {"date": date_format(day, "d.m.Y")}
    with transaction.atomic():
        written = notify(
            user=user,
            text=text,
            channels=_channels(user),
            dedupe_key=digest_key(user, day),
            subject=subject,
            link=_today_url(),
        )
    return len(written)


def digest_send_due(*, now: datetime | None = None) -> dict:
    """Send the digests whose time has come today (idempotent; run every minute)."""
    local = timezone.localtime(now or timezone.now())
    day = local.date()
    if not is_working_day(day):
        return {"day": day.isoformat(), "sent": 0, "working_day": False}
    earliest = max(datetime.combine(day, time.min, tzinfo=local.tzinfo), local - CATCH_UP)
    users = list(
        User.objects.filter(
            is_active=True,
            left_on__isnull=True,
            digest_time__isnull=False,
            digest_time__lte=local.time(),
            digest_time__gte=earliest.time(),
        ).order_by("digest_time", "pk")
    )
    keys = {digest_key(user, day) for user in users}
    done = set(
        OutboxMessage.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)
    )
    sent = failed = 0
    for user in users:
        if digest_key(user, day) in done:
            continue
        try:
            sent += 1 if digest_send(user=user, day=day) else 0
        except Exception:  # one broken builder must not stop everyone's digest
            failed += 1
            logger.exception("digest for user %s failed", user.pk)
    return {"day": day.isoformat(), "sent": sent, "failed": failed, "working_day": True}
