"""Writes on invoices, payments (with their allocation to invoices) and shipments.

``payment_record`` changes ``paid_amount`` with ``F()`` under a row lock and sets
``paid_on`` when the balance reaches zero (clears it when a refund reopens it).
Shipments and invoices run the "deal.invoice" and "shipment.create" rules, where the
credit and approval rules of later issues hook in.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Case, Exists, F, Max, OuterRef, Subquery, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.core import rulebook
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.core.money import format_money, to_decimal
from vrop.core.rulebook import ENFORCE, FLAG
from vrop.crm.choices import CreditStatus
from vrop.crm.models import Deal
from vrop.receivables import bulk
from vrop.receivables.models import Invoice, Payment, Shipment
from vrop.receivables.rules import due_date_for


def _require(actor, kind: str) -> None:
    if actor is not None and not (can(actor, "change", kind) or can(actor, "change", "deal")):
        raise PermissionDenied(_("You may not do this."))


def _require_payment(actor) -> None:
    """Money is recorded by finance, the head or the owner (and imports, actor None)."""
    if actor is not None and not can(actor, "change", "payment"):
        raise PermissionDenied(_("Only finance, the head of sales or the owner record payments."))


def invoice_default_due_on(*, client, issued_on: date) -> date:
    """Due by the client's terms (a day off moves it to the next working day); due on
    the invoice date for prepayment clients and clients on prepayment only or stop."""
    if client is None:
        return issued_on
    client = type(client).objects.only("payment_terms_days", "credit_status").get(pk=client.pk)
    if client.payment_terms_days == 0:
        return issued_on
    if client.credit_status != CreditStatus.ACTIVE:
        return issued_on
    return due_date_for(issued_on, client.payment_terms_days)


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
        due_on = invoice_default_due_on(client=client, issued_on=issued_on)
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
    if client is not None:
        invoice = _advances_apply(invoice=invoice)
    if deal is not None:
        deals_paid_on_refresh(Deal.objects.filter(pk=deal.pk))
    return invoice


def deals_paid_on_refresh(deals) -> int:
    """Write ``Deal.paid_on`` of ``deals`` (a queryset of Deal): the day the deal became
    fully paid — it has invoices and every one is paid — which is its latest invoice's
    ``paid_on``; empty otherwise. The one place this fact is computed: every write that
    changes an invoice's ``paid_on`` (or adds an invoice) calls it for the invoice's deal;
    import and the demo call it for what they loaded."""
    invoices = Invoice.objects.filter(deal_id=OuterRef("pk")).order_by()
    latest = invoices.values("deal_id").annotate(latest=Max("paid_on")).values("latest")[:1]
    return deals.order_by().update(
        paid_on=Case(
            When(Exists(invoices.filter(paid_on__isnull=True)), then=Value(None)),
            default=Subquery(latest),
        )
    )


def _deals_of_invoices_refresh(invoice_ids) -> None:
    deal_ids = set(
        Invoice.objects.filter(pk__in=list(invoice_ids), deal__isnull=False).values_list(
            "deal_id", flat=True
        )
    )
    if deal_ids:
        deals_paid_on_refresh(Deal.objects.filter(pk__in=sorted(deal_ids)))


def _advances_apply(*, invoice: Invoice) -> Invoice:
    """Money the client paid before there was an invoice (payments without one) pays it."""
    advances = list(
        Payment.objects.select_for_update()
        .filter(client_id=invoice.client_id, invoice__isnull=True)
        .order_by("paid_on", "id")
    )
    available = sum((payment.amount for payment in advances), Decimal("0"))
    if available <= 0:
        return invoice
    to_cover = min(available, invoice.amount)
    for payment in advances:
        if to_cover <= 0:
            break
        if payment.amount <= 0:
            continue
        if payment.amount <= to_cover:
            Payment.objects.filter(pk=payment.pk).update(invoice=invoice)
            to_cover -= payment.amount
            continue
        Payment.objects.filter(pk=payment.pk).update(amount=F("amount") - to_cover)
        Payment.objects.create(
            invoice=invoice,
            client_id=invoice.client_id,
            paid_on=payment.paid_on,
            amount=to_cover,
            payer_inn=payment.payer_inn,
            purpose=payment.purpose,
            source=payment.source,
            external_id=f"{payment.external_id}/{invoice.pk}" if payment.external_id else "",
            extra={**payment.extra, "advance_of": payment.pk},
        )
        to_cover = Decimal("0")
    return invoice_apply_payments(invoice=invoice)


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
    _require_payment(actor)
    amount = to_decimal(amount, field="amount")
    if amount == 0:
        raise ValidationError(_("The payment amount cannot be zero."), field="amount")
    if paid_on is None:
        raise ValidationError(_("Give the payment date."), field="paid_on")
    if invoice is not None:
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if amount < 0 and invoice.paid_amount + amount < 0:
            raise ValidationError(
                _("A refund cannot be more than was paid on invoice %(number)s (%(paid)s).")
                % {"number": invoice.number, "paid": format_money(invoice.paid_amount)},
                field="amount",
            )
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


@transaction.atomic
def payment_allocate(
    *,
    actor: User | None,
    client,
    paid_on: date,
    amount: Decimal,
    invoice: Invoice | None = None,
    payer_inn: str = "",
    purpose: str = "",
    source: str = "",
    external_id: str = "",
    extra: dict | None = None,
) -> list[Payment]:
    """Money from a client, spread over its invoices with ``payment_record``.

    First ``invoice`` up to its balance; an overpayment then pays the client's other
    unpaid invoices, the oldest due first; what is left stays as an advance (a payment
    without an invoice) that pays the client's next invoice. A refund (negative amount)
    goes against ``invoice`` (or the client's advance) as it is. Parts of one payment get
    ``external_id``, ``external_id/1``, ``external_id/2``, ...
    """
    _require_payment(actor)
    amount = to_decimal(amount, field="amount")
    client = client or (invoice.client if invoice else None)
    common = {
        "actor": actor,
        "paid_on": paid_on,
        "client": client,
        "payer_inn": payer_inn,
        "purpose": purpose,
        "source": source,
        "extra": extra,
    }
    if amount <= 0 or client is None:
        return [payment_record(invoice=invoice, amount=amount, external_id=external_id, **common)]
    first = None
    if invoice is not None:
        first = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if amount <= first.amount - first.paid_amount:  # the usual case: one invoice
            return [payment_record(invoice=first, amount=amount, external_id=external_id, **common)]
    targets = list(
        Invoice.objects.select_for_update()
        .filter(client=client, paid_on__isnull=True)
        .exclude(pk=invoice.pk if invoice else 0)
        .order_by("due_on", "id")
    )
    if first is not None:
        targets.insert(0, first)
    payments: list[Payment] = []
    remaining = amount

    def part_id() -> str:
        return f"{external_id}/{len(payments)}" if external_id and payments else external_id

    for target in targets:
        if remaining <= 0:
            break
        balance = target.amount - target.paid_amount
        if balance <= 0:
            continue
        part = min(balance, remaining)
        payments.append(
            payment_record(invoice=target, amount=part, external_id=part_id(), **common)
        )
        remaining -= part
    if remaining > 0:
        payments.append(
            payment_record(invoice=None, amount=remaining, external_id=part_id(), **common)
        )
    return payments


def _paid_state(amount: Decimal, issued_on: date, payments) -> tuple[Decimal, date | None]:
    """(paid amount, fully paid on) from payments [(date, amount)] in date order."""
    running = Decimal("0")
    paid_on = None
    for pay_date, part in payments:
        running += part
        if paid_on is None and running >= amount:
            paid_on = max(pay_date, issued_on)
        elif paid_on is not None and running < amount:
            paid_on = None
    return running, paid_on


def invoice_apply_payments(*, invoice: Invoice) -> Invoice:
    """Recompute ``paid_amount`` and ``paid_on`` of one invoice from its payments.

    ``paid_on`` is the date of the payment with which the running total first reached
    the invoice amount (DESIGN.md: days to payment end when the invoice became fully paid),
    and never before the invoice date: money paid in advance pays the invoice the day it
    is issued. A refund that takes the total below the amount reopens the invoice.
    """
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    running, paid_on = _paid_state(
        invoice.amount,
        invoice.issued_on,
        Payment.objects.filter(invoice=invoice)
        .order_by("paid_on", "id")
        .values_list("paid_on", "amount"),
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        paid_amount=running, paid_on=paid_on, updated_at=timezone.now()
    )
    invoice.paid_amount, invoice.paid_on = running, paid_on
    if invoice.deal_id is not None:
        deals_paid_on_refresh(Deal.objects.filter(pk=invoice.deal_id))
    return invoice


def invoices_apply_payments(*, invoice_ids) -> int:
    """``invoice_apply_payments`` for many invoices: one read of their payments and one
    write per thousand invoices (the caller holds their row locks)."""
    invoice_ids = sorted(set(invoice_ids))
    changed = 0
    now = timezone.now()
    for start in range(0, len(invoice_ids), 1000):
        chunk = invoice_ids[start : start + 1000]
        invoices = {
            pk: (amount, issued_on, paid_amount, paid_on)
            for pk, amount, issued_on, paid_amount, paid_on in Invoice.objects.filter(
                pk__in=chunk
            ).values_list("pk", "amount", "issued_on", "paid_amount", "paid_on")
        }
        by_invoice: dict[int, list] = {pk: [] for pk in invoices}
        for invoice_id, pay_date, part in (
            Payment.objects.filter(invoice_id__in=chunk)
            .order_by("invoice_id", "paid_on", "id")
            .values_list("invoice_id", "paid_on", "amount")
        ):
            by_invoice[invoice_id].append((pay_date, part))
        updated = []
        for pk, (amount, issued_on, paid_amount, paid_on) in invoices.items():
            state = _paid_state(amount, issued_on, by_invoice[pk])
            if state != (paid_amount, paid_on):
                updated.append((pk, *state))
        _invoices_write_paid(updated, now)
        changed += len(updated)
    return changed


def _invoices_write_paid(updated: list[tuple], now) -> None:
    """Write (pk, paid_amount, paid_on) of many invoices: one UPDATE … FROM (VALUES …) on
    PostgreSQL (a bulk_update's CASE over a thousand rows is slow there)."""
    if not updated:
        return
    if connection.vendor != "postgresql":
        for pk, paid_amount, paid_on in updated:
            Invoice.objects.filter(pk=pk).update(
                paid_amount=paid_amount, paid_on=paid_on, updated_at=now
            )
        _deals_of_invoices_refresh(row[0] for row in updated)
        return
    values = ", ".join(["(%s::bigint, %s::numeric, %s::date)"] * len(updated))
    params = [now]
    for row in updated:
        params += list(row)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE receivables_invoice AS i SET paid_amount = v.paid_amount, "
            "paid_on = v.paid_on, updated_at = %s "
            f"FROM (VALUES {values}) AS v(id, paid_amount, paid_on) WHERE i.id = v.id",
            params,
        )
    _deals_of_invoices_refresh(row[0] for row in updated)


@transaction.atomic
def payments_record_bulk(*, actor: User | None, payments: list[Payment]) -> list[Payment]:
    """Many payments at once (a bank statement): the same checks and the same invoice
    state as ``payment_record`` for each, written in bulk; refunds are not taken here."""
    _require_payment(actor)
    for payment in payments:
        if payment.amount is None or payment.amount <= 0:
            raise ValidationError(_("The payment amount cannot be zero."), field="amount")
        if payment.paid_on is None:
            raise ValidationError(_("Give the payment date."), field="paid_on")
        payment.purpose = (payment.purpose or "")[:500]
    invoice_ids = sorted({p.invoice_id for p in payments if p.invoice_id})
    for start in range(0, len(invoice_ids), 1000):  # lock in id order: no deadlocks
        list(
            Invoice.objects.select_for_update()
            .filter(pk__in=invoice_ids[start : start + 1000])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    bulk.insert(Payment, payments)
    invoices_apply_payments(invoice_ids=invoice_ids)
    return payments


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
