"""Work on overdue debt: actions with promises, the daily review of promises, and the
sweep that raises alerts, escalates and puts clients on stop.

- ``overdue_action_add``: a call made, a letter sent, a promised payment date and amount,
  the next action with its date and who is responsible. A call, e-mail or meeting is
  also written to the deal's activity history.
- ``promises_review``: a promise whose date has passed is kept when the payments dated
  up to that day reach what was paid when it was made plus the promised amount, and
  missed otherwise; a missed promise alerts the responsible person and the head, and
  the owner too when the invoice's promise was missed before or it is over the stop
  threshold. A missed promise with no new action after ``OWNER_AFTER_WORKING_DAYS``
  working days escalates to the owner.
- ``receivables_sweep``: all of the above, alerts on invoices that became overdue, the
  automatic stop of clients overdue by more than 30 days (and its lifting once paid),
  and alerts on clients near or over their limit. Safe to run any number of times.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.choices import Role
from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.core.calendar import add_working_days
from vrop.core.errors import NotFound, PermissionDenied, ValidationError
from vrop.core.money import format_money, to_decimal
from vrop.crm.choices import ActivityKind, CreditStatus
from vrop.crm.models import Client
from vrop.receivables import alerts
from vrop.receivables.choices import ActionKind, PromiseStatus
from vrop.receivables.models import CreditChange, Invoice, OverdueAction, Payment

OWNER_AFTER_WORKING_DAYS = 3
NEW_OVERDUE_WINDOW_DAYS = 7
ACTIVITY_KIND = {
    ActionKind.CALL: ActivityKind.CALL,
    ActionKind.EMAIL: ActivityKind.EMAIL,
    ActionKind.LETTER: ActivityKind.EMAIL,
    ActionKind.MEETING: ActivityKind.MEETING,
    ActionKind.NOTE: ActivityKind.NOTE,
}


def _url(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


@transaction.atomic
def overdue_action_add(
    *,
    actor: User | None,
    invoice: Invoice,
    kind: str,
    note: str = "",
    promised_on: date | None = None,
    promised_amount: Decimal | str | None = None,
    next_action: str = "",
    next_action_on: date | None = None,
    responsible: User | None = None,
    at: datetime | None = None,
) -> OverdueAction:
    """Record what was done about an unpaid invoice, and what was promised and is next."""
    if actor is not None and not can(actor, "change", "activity"):
        raise PermissionDenied(_("You may not do this."))
    if actor is not None and not Invoice.objects.visible_to(actor).filter(pk=invoice.pk).exists():
        raise NotFound(_("No such invoice."))
    invoice = (
        Invoice.objects.select_for_update(of=("self",)).select_related("deal").get(pk=invoice.pk)
    )
    now = at or timezone.now()
    today = timezone.localdate(now)
    if kind not in ActionKind.values:
        raise ValidationError(_("Unknown action “%(kind)s”.") % {"kind": kind}, field="kind")
    if invoice.paid_on is not None:
        raise ValidationError(
            _("Invoice %(number)s is paid: there is no debt to work on.")
            % {"number": invoice.number},
            field="invoice",
        )
    balance = invoice.amount - invoice.paid_amount
    amount = None
    if promised_on is not None:
        if promised_on < today:
            raise ValidationError(
                _("The promised payment date cannot be in the past."), field="promised_on"
            )
        amount = balance if promised_amount in (None, "") else to_decimal(promised_amount)
        if amount <= 0 or amount > balance:
            raise ValidationError(
                _("The promised amount must be more than zero and at most the debt (%(debt)s).")
                % {"debt": format_money(balance)},
                field="promised_amount",
            )
    elif promised_amount not in (None, ""):
        raise ValidationError(_("Give the promised payment date."), field="promised_on")
    if next_action_on is not None and next_action_on < today:
        raise ValidationError(_("The next action cannot be in the past."), field="next_action_on")
    if next_action_on is not None and not (next_action or "").strip():
        raise ValidationError(_("Say what the next action is."), field="next_action")
    responsible = responsible or actor or invoice.manager
    if responsible is not None and responsible.is_dismissed:
        raise ValidationError(
            _("%(name)s has left the company.") % {"name": responsible}, field="responsible"
        )
    if promised_on is not None:
        OverdueAction.objects.filter(invoice=invoice, promise_status=PromiseStatus.PENDING).update(
            promise_status=PromiseStatus.REPLACED
        )
    action = OverdueAction.objects.create(
        invoice=invoice,
        client_id=invoice.client_id,
        kind=kind,
        note=(note or "").strip(),
        done_by=actor,
        done_at=now,
        promised_on=promised_on,
        promised_amount=amount,
        promise_status=PromiseStatus.PENDING if promised_on else PromiseStatus.NONE,
        paid_before=invoice.paid_amount,
        next_action=(next_action or "").strip()[:300],
        next_action_on=next_action_on,
        responsible=responsible,
    )
    if invoice.deal_id or invoice.client_id:
        from vrop.crm.services import activity_create

        activity_create(
            actor=None,
            kind=ACTIVITY_KIND[kind],
            deal=invoice.deal,
            client=invoice.client,
            occurred_at=now,
            subject=_("Debt on invoice %(number)s: %(kind)s")
            % {"number": invoice.number, "kind": action.get_kind_display()},
            body=action.note,
            user=actor,
        )
    return action


def _heads() -> list[User]:
    return alerts.people(Role.HEAD)


def _paid_by(invoice_id: int, day: date) -> Decimal:
    return Payment.objects.filter(invoice_id=invoice_id, paid_on__lte=day).aggregate(
        total=Sum("amount")
    )["total"] or Decimal("0")


def _promise_text(action: OverdueAction) -> str:
    invoice = action.invoice
    return _(
        "Promise missed: %(client)s promised to pay %(amount)s on invoice %(number)s by "
        "%(date)s. Debt: %(debt)s. Responsible: %(who)s."
    ) % {
        "client": invoice.client or "—",
        "amount": format_money(action.promised_amount),
        "number": invoice.number,
        "date": action.promised_on.strftime("%d.%m.%Y"),
        "debt": format_money(invoice.amount - invoice.paid_amount),
        "who": action.responsible or "—",
    }


@transaction.atomic
def promises_review(*, at: date | None = None) -> dict:
    """Judge promises: kept once paid, missed the day after the promised date."""
    from vrop.receivables.selectors import credit_policy

    at = at or timezone.localdate()
    counts = {"kept": 0, "missed": 0, "escalated": 0}
    pending = (
        OverdueAction.objects.select_for_update(of=("self",))
        .filter(promise_status=PromiseStatus.PENDING)
        .select_related("invoice", "invoice__client", "responsible")
        .order_by("promised_on", "id")
    )
    policy = credit_policy()
    for action in pending:
        invoice = action.invoice
        target = action.paid_before + (action.promised_amount or Decimal("0"))
        fully_paid = invoice.paid_on is not None and invoice.paid_on <= action.promised_on
        if fully_paid or (
            action.promised_on < at and _paid_by(invoice.pk, action.promised_on) >= target
        ):
            action.promise_status = PromiseStatus.KEPT
            action.save(update_fields=["promise_status"])
            counts["kept"] += 1
            continue
        if action.promised_on >= at:
            continue
        missed_before = OverdueAction.objects.filter(
            invoice=invoice, promise_status=PromiseStatus.MISSED
        ).exists()
        overdue_days = (at - invoice.due_on).days
        to_owner = missed_before or overdue_days > policy.client_stop_overdue_days
        action.promise_status = PromiseStatus.MISSED
        action.escalation_level = 2 if to_owner else 1
        action.save(update_fields=["promise_status", "escalation_level"])
        counts["missed"] += 1
        users = [action.responsible, invoice.manager, *_heads()]
        if to_owner:
            users += alerts.owners()
            counts["escalated"] += 1
        alerts.alert_raise(
            "promise_missed",
            key=str(action.pk),
            users=users,
            text=_promise_text(action),
            link=_url("receivables"),
        )
    # A missed promise with nothing done since: the owner hears of it.
    stale = (
        OverdueAction.objects.select_for_update(of=("self",))
        .filter(
            promise_status=PromiseStatus.MISSED,
            escalation_level=1,
            invoice__paid_on__isnull=True,
        )
        .select_related("invoice", "invoice__client", "responsible")
    )
    for action in stale:
        if add_working_days(action.promised_on, OWNER_AFTER_WORKING_DAYS) >= at:
            continue
        if OverdueAction.objects.filter(
            invoice_id=action.invoice_id, done_at__gt=action.done_at
        ).exists():
            continue
        action.escalation_level = 2
        action.save(update_fields=["escalation_level"])
        counts["escalated"] += 1
        alerts.alert_raise(
            "promise_escalated",
            key=str(action.pk),
            users=alerts.owners(),
            text=_("Nothing done for %(days)s working days since the promise was missed. ")
            % {"days": OWNER_AFTER_WORKING_DAYS}
            + _promise_text(action),
            link=_url("receivables"),
        )
    return counts


def _new_overdue_alerts(at: date) -> int:
    finance = alerts.people(Role.FINANCE)
    told = 0
    invoices = (
        Invoice.objects.filter(
            paid_on__isnull=True,
            due_on__lt=at,
            due_on__gte=at - timedelta(days=NEW_OVERDUE_WINDOW_DAYS),
        )
        .select_related("client", "manager")
        .order_by("due_on", "id")
    )
    for invoice in invoices.iterator(chunk_size=500):
        told += alerts.alert_raise(
            "overdue",
            key=str(invoice.pk),
            users=[invoice.manager, *finance],
            text=_("Invoice %(number)s of %(client)s is overdue: %(debt)s was due on %(date)s.")
            % {
                "number": invoice.number,
                "client": invoice.client or "—",
                "debt": format_money(invoice.amount - invoice.paid_amount),
                "date": invoice.due_on.strftime("%d.%m.%Y"),
            },
            link=_url("receivables"),
        )
    return told


def _automatic_stops(at: date) -> dict:
    from vrop.receivables.selectors import credit_policy
    from vrop.receivables.services.credit import client_credit_set

    policy = credit_policy()
    threshold = at - timedelta(days=policy.client_stop_overdue_days)
    oldest = {
        row["client_id"]: row
        for row in Invoice.objects.filter(
            paid_on__isnull=True, due_on__lt=threshold, client__isnull=False
        )
        .order_by("client_id", "due_on", "id")
        .values("client_id", "number", "due_on")
    }
    counts = {"stopped": 0, "lifted": 0}
    for client in Client.objects.filter(pk__in=list(oldest)).exclude(
        credit_status=CreditStatus.STOP
    ):
        row = oldest[client.pk]
        client_credit_set(
            actor=None,
            client=client,
            credit_status=CreditStatus.STOP,
            reason=_("Invoice %(number)s is overdue by %(days)s days.")
            % {"number": row["number"], "days": (at - row["due_on"]).days},
            is_automatic=True,
        )
        counts["stopped"] += 1
    for client in Client.objects.filter(credit_status=CreditStatus.STOP).exclude(
        pk__in=list(oldest)
    ):
        last = CreditChange.objects.filter(client=client).order_by("-changed_at", "-id").first()
        if last is None or not last.is_automatic or last.credit_status != CreditStatus.STOP:
            continue
        previous = last.previous.get("credit_status") or CreditStatus.ACTIVE
        if previous == CreditStatus.STOP:
            previous = CreditStatus.ACTIVE
        client_credit_set(
            actor=None,
            client=client,
            credit_status=previous,
            reason=_("The long overdue debt is paid: the automatic stop is lifted."),
            is_automatic=True,
        )
        counts["lifted"] += 1
    return counts


def _limit_alerts(at: date) -> int:
    from vrop.receivables.selectors import near_limit_rows

    told = 0
    watchers = alerts.people(Role.HEAD, Role.FINANCE)
    for row in near_limit_rows(Client.objects.all()):
        client = row["client"]
        state = "over" if row["is_over"] else "near"
        text = (
            _("%(client)s is over the credit limit: exposure %(exposure)s of %(limit)s.")
            if row["is_over"]
            else _("%(client)s is near the credit limit: exposure %(exposure)s of %(limit)s.")
        ) % {
            "client": client.name,
            "exposure": format_money(row["exposure"]),
            "limit": format_money(row["limit"]),
        }
        told += alerts.alert_raise(
            "limit",
            key=f"{client.pk}:{state}:{at:%Y-%m}",
            users=[client.manager, *watchers],
            text=text,
            link=_url("client-credit", client.pk),
        )
    return told


def receivables_sweep(*, at: date | None = None) -> dict:
    """The daily pass over receivables (idempotent: run it as often as you like)."""
    at = at or timezone.localdate()
    result = promises_review(at=at)
    with transaction.atomic():
        result["overdue_alerts"] = _new_overdue_alerts(at)
    with transaction.atomic():
        result.update(_automatic_stops(at))
    with transaction.atomic():
        result["limit_alerts"] = _limit_alerts(at)
    return result
