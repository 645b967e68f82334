"""Writes on invoices, payments and shipments.

``payment_record`` changes ``paid_amount`` with ``F()`` under a row lock and sets
``paid_on`` when the balance reaches zero (clears it when a refund reopens it).
Shipments and invoices run the "deal.invoice" and "shipment.create" rules, where the
credit and approval rules of later issues hook in.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.core import rulebook
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.core.money import to_decimal
from vrop.core.rulebook import ENFORCE, FLAG
from vrop.crm.models import Deal
from vrop.receivables.models import Invoice, Payment, Shipment


def _require(actor, kind: str) -> None:
    if actor is not None and not (can(actor, "change", kind) or can(actor, "change", "deal")):
        raise PermissionDenied(_("You may not do this."))


@transaction.atomic
def invoice_create(
    *,
    actor: User | None,
    deal: Deal | None,
    number: str,
    issued_on: date,
    amount: Decimal,
    due_on: date | None = None,
    source: str = "",
    external_id: str = "",
    extra: dict | None = None,
    client=None,
    mode: str = ENFORCE,
) -> Invoice:
    _require(actor, "invoice")
    number = (number or "").strip()
    if not number:
        raise ValidationError(_("The invoice needs a number."), field="number")
    amount = to_decimal(amount, field="amount")
    if amount <= 0:
        raise ValidationError(_("The invoice amount must be greater than zero."), field="amount")
    client = client or (deal.client if deal else None)
    if due_on is None:
        terms = client.payment_terms_days if client else 0
        due_on = issued_on + timedelta(days=terms)
    if due_on < issued_on:
        raise ValidationError(_("The due date cannot be before the invoice date."), field="due_on")
    invoice = Invoice.objects.create(
        deal=deal,
        client=client,
        manager=deal.manager if deal else None,
        number=number[:64],
        issued_on=issued_on,
        due_on=due_on,
        amount=amount,
        source=source,
        external_id=external_id,
        extra=extra or {},
    )
    if deal is not None:
        violations = rulebook.check(
            "deal.invoice", deal, mode=mode, actor=actor, context={"invoice": invoice}
        )
        if mode == FLAG and violations:
            from vrop.crm.services import _store_flags

            _store_flags(deal, violations)
    return invoice


@transaction.atomic
def payment_record(
    *,
    actor: User | None,
    invoice: Invoice | None,
    paid_on: date,
    amount: Decimal,
    client=None,
    payer_inn: str = "",
    purpose: str = "",
    source: str = "",
    external_id: str = "",
    extra: dict | None = None,
) -> Payment:
    """Record money in (positive) or a refund (negative) against an invoice."""
    _require(actor, "payment")
    amount = to_decimal(amount, field="amount")
    if amount == 0:
        raise ValidationError(_("The payment amount cannot be zero."), field="amount")
    if paid_on is None:
        raise ValidationError(_("Give the payment date."), field="paid_on")
    payment = Payment.objects.create(
        invoice=invoice,
        client=client or (invoice.client if invoice else None),
        paid_on=paid_on,
        amount=amount,
        payer_inn=payer_inn or "",
        purpose=(purpose or "")[:500],
        source=source,
        external_id=external_id,
        extra=extra or {},
    )
    if invoice is not None:
        invoice_apply_payments(invoice=invoice)
    return payment


def invoice_apply_payments(*, invoice: Invoice) -> Invoice:
    """Recompute ``paid_amount`` and ``paid_on`` of one invoice from its payments, in SQL.

    ``paid_on`` is the date of the payment with which the running total first reached
    the invoice amount (DESIGN.md: days to payment end when the invoice became fully paid).
    """
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    running = Decimal("0")
    paid_on = None
    for pay_date, amount in (
        Payment.objects.filter(invoice=invoice)
        .order_by("paid_on", "id")
        .values_list("paid_on", "amount")
    ):
        running += amount
        if paid_on is None and running >= invoice.amount:
            paid_on = pay_date
        elif paid_on is not None and running < invoice.amount:
            paid_on = None
    Invoice.objects.filter(pk=invoice.pk).update(
        paid_amount=running, paid_on=paid_on, updated_at=timezone.now()
    )
    invoice.paid_amount, invoice.paid_on = running, paid_on
    return invoice


@transaction.atomic
def shipment_create(
    *,
    actor: User | None,
    deal: Deal,
    shipped_on: date,
    amount: Decimal | None = None,
    cost: Decimal | None = None,
    volume: Decimal | None = None,
    is_deferred: bool | None = None,
    source: str = "",
    external_id: str = "",
    extra: dict | None = None,
    mode: str = ENFORCE,
) -> Shipment:
    """Ship a deal (all its lines unless amounts are given)."""
    _require(actor, "shipment")
    amount = deal.amount if amount is None else to_decimal(amount, field="amount")
    cost = deal.cost_amount if cost is None else to_decimal(cost, field="cost")
    volume = deal.volume if volume is None else to_decimal(volume, field="volume")
    if amount < 0 or cost < 0:
        raise ValidationError(_("Shipment amount and cost cannot be negative."), field="amount")
    if is_deferred is None:
        is_deferred = bool(deal.client and deal.client.payment_terms_days > 0)
    shipment = Shipment.objects.create(
        deal=deal,
        client=deal.client,
        manager=deal.manager,
        shipped_on=shipped_on,
        amount=amount,
        cost=cost,
        volume=volume,
        is_deferred=is_deferred,
        source=source,
        external_id=external_id,
        extra=extra or {},
    )
    violations = rulebook.check("shipment.create", shipment, mode=mode, actor=actor)
    if mode == FLAG and violations:
        from vrop.crm.services import _store_flags

        _store_flags(deal, violations)
    return shipment


def invoice_paid_amount_add(*, invoice: Invoice, amount: Decimal) -> None:
    """Race-safe balance change used by bulk matching: F() update, never read-modify-write."""
    Invoice.objects.filter(pk=invoice.pk).update(paid_amount=F("paid_amount") + amount)
