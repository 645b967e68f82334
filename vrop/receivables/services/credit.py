"""Client credit terms and status, and the owner's override of the credit stop rules.

- ``client_credit_set``: the only write of a client's payment terms, credit limit and
  credit status; every change leaves a ``CreditChange`` row (what, who, when, why).
- ``credit_override_request``: someone asks the owner to let one deal through; the
  owners get it in the app and in Telegram with buttons.
- ``credit_override_decide``: the owner grants or refuses (web, API, Telegram), with a
  reason; ``credit_override_grant``: the owner overrides a deal directly.
Only the owner decides; anybody else is refused and nothing changes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.core.errors import NotFound, PermissionDenied, ValidationError
from vrop.core.money import format_money, to_decimal
from vrop.crm.choices import CreditStatus
from vrop.crm.models import Client, Deal
from vrop.receivables import alerts
from vrop.receivables.choices import DecisionChannel, OverrideStatus
from vrop.receivables.models import CreditChange, CreditOverride

CALLBACK_PREFIX = "credit_ovr"


def _url(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _credit_values(client: Client) -> dict:
    return {
        "payment_terms_days": client.payment_terms_days,
        "credit_limit": str(client.credit_limit),
        "credit_status": client.credit_status,
        "credit_status_reason": client.credit_status_reason,
    }


@transaction.atomic
def client_credit_set(
    *,
    actor: User | None,
    client: Client,
    payment_terms_days: int | None = None,
    credit_limit: Decimal | str | None = None,
    credit_status: str | None = None,
    reason: str = "",
    is_automatic: bool = False,
    at: datetime | None = None,
) -> Client:
    """Set a client's terms (0 = prepayment), limit and status; log who, when and why.

    A change of status needs a reason. Finance, the head and the owner may do it; the
    daily sweep does it with ``is_automatic`` (actor None) for long overdue debts.
    """
    if not is_automatic and not can(actor, "change", "client_credit"):
        raise PermissionDenied(_("Only finance, the head of sales or the owner set credit terms."))
    if actor is not None and not Client.objects.visible_to(actor).filter(pk=client.pk).exists():
        raise NotFound(_("No such client."))
    client = Client.objects.select_for_update().get(pk=client.pk)
    before = _credit_values(client)
    reason = (reason or "").strip()[:300]
    if payment_terms_days is not None:
        try:
            days = int(payment_terms_days)
        except (TypeError, ValueError):
            raise ValidationError(
                _("Payment terms must be a whole number of days."), field="payment_terms_days"
            )
        if not 0 <= days <= 365:
            raise ValidationError(
                _("Payment terms must be between 0 and 365 days."), field="payment_terms_days"
            )
        client.payment_terms_days = days
    if credit_limit is not None:
        limit = to_decimal(credit_limit, field="credit_limit")
        if limit < 0:
            raise ValidationError(_("The credit limit cannot be negative."), field="credit_limit")
        if limit >= Decimal("1e16"):
            raise ValidationError(_("The credit limit is too large."), field="credit_limit")
        client.credit_limit = limit.quantize(Decimal("0.01"))
    status_changed = False
    if credit_status is not None and credit_status != client.credit_status:
        if credit_status not in CreditStatus.values:
            raise ValidationError(
                _("Unknown credit status “%(status)s”.") % {"status": credit_status},
                field="credit_status",
            )
        if not reason:
            raise ValidationError(_("Say why the credit status changes."), field="reason")
        client.credit_status = credit_status
        client.credit_status_reason = reason
        status_changed = True
    elif reason and credit_status is not None:
        client.credit_status_reason = reason
    if _credit_values(client) == before:
        return client
    client.save(
        update_fields=[
            "payment_terms_days",
            "credit_limit",
            "credit_status",
            "credit_status_reason",
            "updated_at",
        ]
    )
    CreditChange.objects.create(
        client=client,
        payment_terms_days=client.payment_terms_days,
        credit_limit=client.credit_limit,
        credit_status=client.credit_status,
        reason=reason,
        previous=before,
        changed_by=actor,
        changed_at=at or timezone.now(),
        is_automatic=is_automatic,
    )
    if status_changed and client.manager_id:
        alerts.alert_raise(
            "status",
            key=f"{client.pk}:{client.credit_status}:{timezone.now():%Y%m%d%H%M%S}",
            users=[client.manager],
            text=_("Credit status of %(client)s: %(status)s. %(reason)s")
            % {
                "client": client.name,
                "status": client.get_credit_status_display(),
                "reason": reason,
            },
            link=_url("client-credit", client.pk),
        )
    return client


# --- overrides --------------------------------------------------------------------------


def _current_refusals(deal: Deal) -> list[dict]:
    """What the credit rules say about this deal now (winning it and shipping on deferral)."""
    from vrop.receivables.rules import shipment_refusals, won_refusals
    from vrop.receivables.selectors import client_credit_facts, credit_policy

    if deal.client_id is None:
        return []
    facts = client_credit_facts(client=deal.client, deal=deal)
    policy = credit_policy()
    found: dict[str, str] = {}
    refusals = won_refusals(facts, policy)
    if deal.client.payment_terms_days > 0:
        refusals += shipment_refusals(facts, policy)
    for violation in refusals:
        found.setdefault(violation.code, violation.message)
    return [{"code": code, "message": message} for code, message in found.items()]


def _visible_deal(actor: User | None, deal: Deal) -> Deal:
    if actor is not None and not Deal.objects.visible_to(actor).filter(pk=deal.pk).exists():
        raise NotFound(_("No such deal."))
    return Deal.objects.select_related("client", "manager").get(pk=deal.pk)


def _owner_buttons(override: CreditOverride):
    from vrop.notifications.services import make_callback_data

    return [
        [
            (_("Allow"), make_callback_data(CALLBACK_PREFIX, f"{override.pk}:g")),
            (_("Refuse"), make_callback_data(CALLBACK_PREFIX, f"{override.pk}:r")),
        ]
    ]


@transaction.atomic
def credit_override_request(
    *, actor: User | None, deal: Deal, reason: str, at: datetime | None = None
) -> CreditOverride:
    """Ask the owner to let one deal through the credit rules; the owners are told."""
    if actor is not None and not can(actor, "change", "deal"):
        raise PermissionDenied(_("You may not do this."))
    deal = _visible_deal(actor, deal)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the owner should allow this deal."), field="reason")
    pending = CreditOverride.objects.filter(deal=deal, status=OverrideStatus.PENDING).first()
    if pending is not None:
        return pending
    refusals = _current_refusals(deal)
    if not refusals:
        raise ValidationError(
            _("The credit rules do not stop this deal: there is nothing to override."),
            code="not_needed",
        )
    override = CreditOverride.objects.create(
        deal=deal,
        client=deal.client,
        deal_amount=deal.amount,
        violations=refusals,
        requested_by=actor,
        requested_at=at or timezone.now(),
        request_reason=reason[:500],
    )
    text = _(
        "Credit exception requested by %(who)s for %(deal)s (%(client)s, %(amount)s): "
        "%(rule)s Why: %(reason)s"
    ) % {
        "who": actor or _("the system"),
        "deal": deal,
        "client": deal.client,
        "amount": format_money(deal.amount),
        "rule": refusals[0]["message"],
        "reason": override.request_reason,
    }
    alerts.alert_raise(
        "override",
        key=str(override.pk),
        users=alerts.owners(),
        text=text,
        link=_url("credit-override-list"),
        buttons=_owner_buttons(override),
    )
    return override


def _require_owner(actor: User | None) -> None:
    if actor is None or not actor.is_active or not actor.is_owner:
        raise PermissionDenied(_("Only the owner overrides the credit rules."))


@transaction.atomic
def credit_override_decide(
    *,
    actor: User | None,
    override: CreditOverride,
    grant: bool,
    reason: str = "",
    channel: str = DecisionChannel.WEB,
    at: datetime | None = None,
) -> CreditOverride:
    """The owner grants or refuses a requested override, with a reason (logged)."""
    _require_owner(actor)
    if channel not in DecisionChannel.values:
        raise ValidationError(_("Unknown channel."), field="channel")
    override = CreditOverride.objects.select_for_update().get(pk=override.pk)
    if override.status != OverrideStatus.PENDING:
        raise ValidationError(
            _("This request has already been decided: %(status)s.")
            % {"status": override.get_status_display()},
            code="already_decided",
        )
    reason = (reason or "").strip()
    if not reason:
        if channel != DecisionChannel.TELEGRAM:
            raise ValidationError(_("Give the reason for the decision."), field="reason")
        reason = _("Decided with the Telegram button.")
    override.status = OverrideStatus.GRANTED if grant else OverrideStatus.REFUSED
    override.decided_by = actor
    override.decided_at = at or timezone.now()
    override.decision_reason = reason[:500]
    override.channel = channel
    override.save(
        update_fields=["status", "decided_by", "decided_at", "decision_reason", "channel"]
    )
    deal = override.deal
    message = (
        _("The owner allowed %(deal)s through the credit rules: %(reason)s")
        if grant
        else _("The owner refused a credit exception for %(deal)s: %(reason)s")
    ) % {"deal": deal, "reason": override.decision_reason}
    alerts.alert_raise(
        "override_decided",
        key=str(override.pk),
        users=[override.requested_by, deal.manager],
        text=message,
        link=_url("deal-detail", deal.pk),
    )
    return override


@transaction.atomic
def credit_override_grant(
    *,
    actor: User | None,
    deal: Deal,
    reason: str,
    channel: str = DecisionChannel.WEB,
    at: datetime | None = None,
) -> CreditOverride:
    """The owner lets one deal through the credit rules directly, with a reason."""
    _require_owner(actor)
    deal = _visible_deal(actor, deal)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason for the decision."), field="reason")
    pending = CreditOverride.objects.filter(deal=deal, status=OverrideStatus.PENDING).first()
    if pending is not None:
        return credit_override_decide(
            actor=actor, override=pending, grant=True, reason=reason, channel=channel, at=at
        )
    now = at or timezone.now()
    return CreditOverride.objects.create(
        deal=deal,
        client=deal.client,
        status=OverrideStatus.GRANTED,
        deal_amount=deal.amount,
        violations=_current_refusals(deal),
        requested_by=actor,
        requested_at=now,
        request_reason=reason[:500],
        decided_by=actor,
        decided_at=now,
        decision_reason=reason[:500],
        channel=channel,
    )


def credit_override_callback(*, user: User | None, payload: str) -> str:
    """A press of "Allow" or "Refuse" in Telegram (payload ``<id>:g`` or ``<id>:r``)."""
    override_id, _sep, decision = (payload or "").partition(":")
    if not override_id.isdigit() or decision not in ("g", "r"):
        raise ValidationError(_("This button is not valid."), code="forged")
    override = CreditOverride.objects.filter(pk=int(override_id)).first()
    if override is None:
        raise NotFound(_("This request no longer exists."))
    override = credit_override_decide(
        actor=user, override=override, grant=decision == "g", channel=DecisionChannel.TELEGRAM
    )
    if override.status == OverrideStatus.GRANTED:
        return _("Allowed: %(deal)s.") % {"deal": override.deal}
    return _("Refused: %(deal)s.") % {"deal": override.deal}
