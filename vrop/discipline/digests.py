"""The daily digests of the discipline area, registered with the notifications app:
a manager gets their Today list, the head the control board in short."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.core.money import format_money
from vrop.discipline import selectors

TOP = 10


def _task_line(task) -> str:
    moment = timezone.localtime(task.due_at).strftime("%d.%m %H:%M") if task.due_at else "—"
    line = f"• {moment} {task.title}"
    deal = task.deal
    if deal is not None:
        if deal.client_id:
            line += f" — {deal.client.name}"
        if deal.amount:
            line += f", {format_money(deal.amount)}"
    return line


def manager_digest(*, user: User, day: date) -> str | None:
    """Overdue first, then today's tasks, the requests waiting, the stalled deals."""
    data = selectors.today(viewer=user)
    if not (data.overdue or data.today or data.requests or data.stalled):
        return None
    lines = [
        _(
            "Today: %(overdue)s overdue, %(today)s tasks for today, %(requests)s requests "
            "waiting, %(stalled)s stalled deals."
        )
        % {
            "overdue": data.overdue_count,
            "today": data.today_count,
            "requests": len(data.requests),
            "stalled": data.stalled_count,
        }
    ]
    tasks = (data.overdue + data.today)[:TOP]
    if data.overdue:
        lines.append(_("Overdue first:"))
    lines += [_task_line(task) for task in tasks]
    for deal in data.stalled[:3]:
        reasons = ", ".join(str(text) for _code, text in deal.stalled_reasons)
        lines.append(
            _("Stalled: %(deal)s (%(reasons)s)") % {"deal": deal.title, "reasons": reasons}
        )
    return "\n".join(str(line) for line in lines)


def head_digest(*, user: User, day: date) -> str | None:
    """The board in short: totals, then the managers who are behind."""
    data = selectors.board(viewer=user)
    totals = data.totals
    lines = [
        _(
            "Department: %(stalled)s stalled deals for %(amount)s, %(overdue)s overdue tasks, "
            "%(sla)s SLA breaches this week, %(requests)s unprocessed requests, "
            "%(no_step)s deals without a next step."
        )
        % {
            "stalled": totals.stalled_count,
            "amount": format_money(totals.stalled_amount),
            "overdue": totals.overdue_tasks,
            "sla": totals.sla_breaches_week,
            "requests": totals.unprocessed_requests,
            "no_step": totals.without_next_step,
        }
    ]
    for row in [r for r in data.rows if r.is_behind][:TOP]:
        lines.append(
            _(
                "• %(manager)s: stalled %(stalled)s (%(amount)s), overdue %(overdue)s, "
                "SLA %(sla)s, requests %(requests)s, without a next step %(no_step)s"
            )
            % {
                "manager": row.manager or _("nobody"),
                "stalled": row.stalled_count,
                "amount": format_money(row.stalled_amount),
                "overdue": row.overdue_tasks,
                "sla": row.sla_breaches_week,
                "requests": row.unprocessed_requests,
                "no_step": row.without_next_step,
            }
        )
    return "\n".join(str(line) for line in lines)


def register() -> None:
    try:
        from vrop.notifications.services import digest_register
    except ImportError:  # the notifications app is optional for the discipline area
        return
    digest_register("manager", manager_digest)
    digest_register("head", head_digest)
