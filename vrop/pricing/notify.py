"""Approvals and confirmations in Telegram (through the notifications outbox).

``approval_announce`` tells the deciders of a pending request, with Approve/Reject buttons;
the buttons carry signed callback data (``appr:<id>:a|r``) and land in
``approval_callback``, which calls the same service as the web UI: only a linked user of
the right role decides, a second press decides nothing. ``confirmation_request_announce``
asks supply to confirm the lines of a deal that promises a date; its button
(``conf:<line id>``) records a confirmation from stock for the line's quantity by the
promised date.
"""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.core.money import format_money
from vrop.pricing.models import ApprovalRequest, ApprovalStatus

APPROVAL_PREFIX = "appr"
CONFIRM_PREFIX = "conf"
CONFIRMATION_VALID_DAYS = 3


def _deciders(level: str):
    return User.objects.filter(is_active=True, role=level, left_on__isnull=True)


def approval_announce(approval_id: int) -> int:
    """Notify the users of the request's level; returns how many were told."""
    from vrop.notifications.services import make_callback_data, notify

    approval = ApprovalRequest.objects.select_related("deal", "deal__manager").get(pk=approval_id)
    if approval.status != ApprovalStatus.PENDING:
        return 0
    buttons = [
        [
            [_("Approve"), make_callback_data(APPROVAL_PREFIX, f"{approval.pk}:a")],
            [_("Reject"), make_callback_data(APPROVAL_PREFIX, f"{approval.pk}:r")],
        ]
    ]
    told = 0
    for user in _deciders(approval.level):
        with translation.override(getattr(user, "language", "") or None):
            reasons = "\n".join(f"• {reason['message']}" for reason in approval.reasons[:5])
            text = _(
                "Price approval for deal №%(deal)s “%(title)s” (%(manager)s): "
                "amount %(amount)s, gross profit %(profit)s.\n%(reasons)s"
            ) % {
                "deal": approval.deal_id,
                "title": approval.deal.title,
                "manager": approval.deal.manager or "—",
                "amount": format_money(approval.amount),
                "profit": format_money(approval.gross_profit),
                "reasons": reasons,
            }
            written = notify(
                user=user,
                text=text,
                buttons=buttons,
                dedupe_key=f"approval:{approval.pk}:{approval.level}",
                subject=_("Price approval"),
                link=reverse("deal-detail", args=[approval.deal_id]),
            )
        told += bool(written)
    return told


def approval_callback(*, user: User, payload: str) -> str:
    """A press of Approve/Reject in Telegram."""
    from vrop.pricing.services import approval_decide

    approval_id, _sep, action = payload.partition(":")
    if not approval_id.isdigit() or action not in ("a", "r"):
        raise ValidationError(_("This button is not valid."), code="forged")
    if user.role not in ("head", "owner") and not user.is_superuser:
        raise PermissionDenied(_("Only the head of sales or the owner decides approvals."))
    approval = ApprovalRequest.objects.filter(pk=int(approval_id)).first()
    if approval is None:
        raise ValidationError(_("This approval no longer exists."))
    approve = action == "a"
    approval_decide(
        actor=user,
        approval=approval,
        approve=approve,
        comment="" if approve else _("Rejected in Telegram."),
    )
    if approve:
        return _("Approved: deal №%(deal)s.") % {"deal": approval.deal_id}
    return _("Rejected: deal №%(deal)s.") % {"deal": approval.deal_id}


def confirmation_request_announce(*, deal_id: int) -> int:
    """Ask supply to confirm each line of a deal that promises a date."""
    from vrop.crm.models import Deal
    from vrop.notifications.services import make_callback_data, notify

    deal = Deal.objects.get(pk=deal_id)
    if deal.promised_date is None:
        return 0
    lines = list(deal.lines.select_related("product").order_by("position", "id")[:10])
    buttons = [
        [[f"✓ {line.product.name[:40]}", make_callback_data(CONFIRM_PREFIX, str(line.pk))]]
        for line in lines
    ]
    told = 0
    for user in User.objects.filter(is_active=True, role="supply", left_on__isnull=True):
        with translation.override(getattr(user, "language", "") or None):
            text = _(
                "Deal №%(deal)s promises delivery by %(date)s. Confirm from stock:\n%(lines)s"
            ) % {
                "deal": deal.pk,
                "date": deal.promised_date.strftime("%d.%m.%Y"),
                "lines": "\n".join(
                    f"• {line.product.name}: {line.qty.normalize()}" for line in lines
                ),
            }
            written = notify(
                user=user,
                text=text,
                buttons=buttons,
                dedupe_key=f"confirm:{deal.pk}:{deal.promised_date.isoformat()}",
                subject=_("Confirm stock"),
            )
        told += bool(written)
    return told


def confirmation_callback(*, user: User, payload: str) -> str:
    """A press of a line's button: supply confirms it from stock by the promised date."""
    from vrop.crm.models import DealLine
    from vrop.pricing.services import confirmation_create

    if not payload.isdigit():
        raise ValidationError(_("This button is not valid."), code="forged")
    line = DealLine.objects.select_related("deal", "product").filter(pk=int(payload)).first()
    if line is None or line.deal.promised_date is None:
        raise ValidationError(_("This deal no longer promises a date."))
    confirmation_create(
        actor=user,
        product=line.product,
        qty=line.qty,
        available_on=line.deal.promised_date,
        valid_until=timezone.now() + dt.timedelta(days=CONFIRMATION_VALID_DAYS),
        deal=line.deal,
    )
    return _("Confirmed: %(product)s, %(qty)s by %(date)s.") % {
        "product": line.product.name,
        "qty": line.qty.normalize(),
        "date": line.deal.promised_date.strftime("%d.%m.%Y"),
    }


def register() -> None:
    try:
        from vrop.notifications.services import register_callback
    except ImportError:  # the notifications app is not installed
        return

    register_callback(APPROVAL_PREFIX, approval_callback)
    register_callback(CONFIRM_PREFIX, confirmation_callback)


__all__ = [
    "approval_announce",
    "approval_callback",
    "confirmation_callback",
    "confirmation_request_announce",
    "register",
]
