"""Loading a bank statement or a 1C payments file, applying what matches for sure, and
the person's decisions on the rest.

``payment_import_load`` reads the whole file first (a bad line refuses the file and
writes nothing), skips rows loaded before (same key), matches the others row by row in
statement order, and applies the confident matches through ``payment_allocate``
(partial payments leave a balance; over-payments pay the client's next invoices or stay
as an advance). The rest wait on the confirmation page, where
``payment_import_row_confirm`` applies a row to the invoice (or client) a person chose
and ``payment_import_row_ignore`` sets it aside.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.core.policy import company_settings
from vrop.crm.models import Client
from vrop.receivables import bulk
from vrop.receivables.choices import RowStatus
from vrop.receivables.models import Invoice, Payment, PaymentImport, PaymentImportRow
from vrop.receivables.services.documents import payment_allocate, payments_record_bulk
from vrop.receivables.statements import (
    Index,
    OpenInvoice,
    StatementRow,
    match_row,
    parse_statement,
)

SOURCE = "bank"
MAX_FILE_BYTES = 20 * 1024 * 1024


def _require(actor: User | None) -> None:
    if actor is not None and not can(actor, "change", "payment"):
        raise PermissionDenied(_("Only finance, the head of sales or the owner record payments."))


NOT_A_NUMBER = re.compile(r"\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d+[.,]\d{2}|\d+%")
LATIN_TO_CYRILLIC = str.maketrans("ABEKMHOPCTYX", "АВЕКМНОРСТУХ")
CYRILLIC_TO_LATIN = str.maketrans("АВЕКМНОРСТУХ", "ABEKMHOPCTYX")


def _number_forms(purpose: str) -> set[str]:
    """The ways an invoice number in a purpose may be stored: as written, upper case,
    with look-alike letters either way."""
    forms: set[str] = set()
    for token in purpose.replace("№", " ").split():
        token = token.strip(".,;:()\"'«»")
        if any(ch.isdigit() for ch in token) and not NOT_A_NUMBER.fullmatch(token):
            upper = token.upper()
            forms.update(
                {
                    token,
                    upper,
                    upper.translate(LATIN_TO_CYRILLIC),
                    upper.translate(CYRILLIC_TO_LATIN),
                }
            )
    return forms


def _build_index(rows: list[StatementRow]) -> Index:
    """What matching needs, read in a few set-based queries: the payers' clients (by INN),
    their unpaid invoices, and the invoices named in the purposes (paid or not)."""
    index = Index()
    fields = ("pk", "number", "client_id", "amount", "paid_amount", "due_on")
    seen: set[int] = set()

    def add(values) -> None:
        pk, number, client_id, amount, paid, due_on = values
        if pk not in seen:
            seen.add(pk)
            index.add(OpenInvoice(pk, number, client_id, amount, paid, due_on))

    inns = sorted({row.payer_inn for row in rows if row.payer_inn})
    for start in range(0, len(inns), 2000):
        for pk, inn in Client.objects.filter(
            inn__in=inns[start : start + 2000], merged_into__isnull=True
        ).values_list("pk", "inn"):
            index.clients_by_inn.setdefault(inn, []).append(pk)
    client_ids = sorted({pk for pks in index.clients_by_inn.values() for pk in pks})
    for start in range(0, len(client_ids), 2000):
        for values in Invoice.objects.filter(
            client_id__in=client_ids[start : start + 2000], paid_on__isnull=True
        ).values_list(*fields):
            add(values)
    forms = sorted({form for row in rows for form in _number_forms(row.purpose)})
    for start in range(0, len(forms), 2000):
        for values in Invoice.objects.filter(number__in=forms[start : start + 2000]).values_list(
            *fields
        ):
            add(values)
    return index


def _allocate(index: Index, invoice: OpenInvoice | None, client_id: int | None, amount):
    """``payment_allocate`` in memory: [(invoice or None for an advance, amount)]."""
    targets = [invoice] if invoice is not None else []
    others = sorted(index.by_client.get(client_id, []) if client_id else [], key=_due_order)
    targets += [item for item in others if item is not invoice]
    parts, remaining = [], amount
    for target in targets:
        if remaining <= 0:
            break
        balance = target.balance
        if balance <= 0:
            continue
        part = min(balance, remaining)
        parts.append((target, part))
        target.paid += part
        remaining -= part
    if remaining > 0:
        parts.append((None, remaining))
    return parts


def _due_order(item: OpenInvoice):
    return (item.due_on, item.id)


def _apply(
    *,
    actor: User | None,
    row: PaymentImportRow,
    invoice: Invoice | None,
    client: Client | None,
) -> list[Payment]:
    payments = payment_allocate(
        actor=actor,
        client=client,
        invoice=invoice,
        paid_on=row.paid_on,
        amount=row.amount,
        payer_inn=row.payer_inn,
        purpose=row.purpose,
        source=SOURCE,
        external_id=row.key,
        extra={"statement": row.batch_id, "line": row.line_no, "document": row.document_number},
    )
    row.allocations = [
        {"payment": p.pk, "invoice": p.invoice_id, "amount": str(p.amount)} for p in payments
    ]
    return payments


def payment_import_load(
    *, actor: User | None, content: bytes, file_name: str = ""
) -> PaymentImport:
    """Load a statement: confident matches applied, the rest offered to a person."""
    _require(actor)
    if len(content) > MAX_FILE_BYTES:
        raise ValidationError(_("The file is larger than 20 MB."))
    file_format, rows = parse_statement(content, company_inn=company_settings().inn)
    with transaction.atomic():
        batch = PaymentImport.objects.create(
            file_name=(file_name or "")[:255], file_format=file_format, uploaded_by=actor
        )
        known = set()
        keys = [row.key for row in rows]
        for start in range(0, len(keys), 2000):
            chunk = keys[start : start + 2000]
            known.update(
                PaymentImportRow.objects.filter(key__in=chunk).values_list("key", flat=True)
            )
            known.update(
                Payment.objects.filter(source=SOURCE)
                .filter(Q(external_id__in=chunk))
                .values_list("external_id", flat=True)
            )
        index = _build_index([row for row in rows if row.key not in known])
        counts = {status: 0 for status in RowStatus.values}
        records: list[PaymentImportRow] = []
        payments: list[Payment] = []
        owners: list[PaymentImportRow] = []  # the row of each payment
        for parsed in rows:
            record = PaymentImportRow(
                batch=batch,
                line_no=parsed.line_no,
                key=parsed.key,
                paid_on=parsed.paid_on,
                amount=parsed.amount,
                payer_inn=parsed.payer_inn,
                payer_name=parsed.payer_name,
                purpose=parsed.purpose,
                document_number=parsed.document_number,
            )
            records.append(record)
            if parsed.key in known:
                record.status = RowStatus.DUPLICATE
                record.reason = _("This payment was loaded before.")
                counts[record.status] += 1
                continue
            known.add(parsed.key)
            match = match_row(parsed, index)
            record.status = match.status
            record.reason = match.reason[:300]
            record.invoice_id = match.invoice.id if match.invoice else None
            record.client_id = match.client_id
            counts[record.status] += 1
            if match.status != RowStatus.APPLIED:
                continue
            for n, (target, part) in enumerate(
                _allocate(index, match.invoice, match.client_id, parsed.amount)
            ):
                payments.append(
                    Payment(
                        invoice_id=target.id if target else None,
                        client_id=match.client_id,
                        paid_on=parsed.paid_on,
                        amount=part,
                        payer_inn=parsed.payer_inn,
                        purpose=parsed.purpose,
                        source=SOURCE,
                        external_id=f"{parsed.key}/{n}" if n else parsed.key,
                        extra={
                            "statement": batch.pk,
                            "line": parsed.line_no,
                            "document": parsed.document_number,
                        },
                    )
                )
                owners.append(record)
        payments_record_bulk(actor=actor, payments=payments)
        for payment, record in zip(payments, owners, strict=True):
            record.allocations.append(
                {
                    "payment": payment.pk,
                    "invoice": payment.invoice_id,
                    "amount": str(payment.amount),
                }
            )
        bulk.insert(PaymentImportRow, records)
        batch.rows_total = len(rows)
        batch.rows_applied = counts[RowStatus.APPLIED]
        batch.rows_to_confirm = counts[RowStatus.SUGGESTED]
        batch.rows_unmatched = counts[RowStatus.UNMATCHED]
        batch.rows_duplicate = counts[RowStatus.DUPLICATE]
        batch.save()
    return batch


def _refresh_counts(batch: PaymentImport) -> None:
    from django.db.models import Count

    counts = dict(
        PaymentImportRow.objects.filter(batch=batch)
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    PaymentImport.objects.filter(pk=batch.pk).update(
        rows_applied=counts.get(RowStatus.APPLIED, 0),
        rows_to_confirm=counts.get(RowStatus.SUGGESTED, 0),
        rows_unmatched=counts.get(RowStatus.UNMATCHED, 0),
        rows_duplicate=counts.get(RowStatus.DUPLICATE, 0),
    )


def _open_row(row: PaymentImportRow) -> PaymentImportRow:
    row = PaymentImportRow.objects.select_for_update().get(pk=row.pk)
    if row.status not in (RowStatus.SUGGESTED, RowStatus.UNMATCHED):
        raise ValidationError(
            _("This row is already decided: %(status)s.") % {"status": row.get_status_display()},
            code="already_decided",
        )
    return row


@transaction.atomic
def payment_import_row_confirm(
    *,
    actor: User | None,
    row: PaymentImportRow,
    invoice: Invoice | None = None,
    client: Client | None = None,
    at: datetime | None = None,
) -> PaymentImportRow:
    """Apply a statement row to the invoice a person chose, or to a client as an advance."""
    _require(actor)
    row = _open_row(row)
    if invoice is not None and client is not None and invoice.client_id != client.pk:
        raise ValidationError(_("The invoice belongs to another client."), field="invoice")
    client = client or (invoice.client if invoice is not None else None)
    if client is None and invoice is None:
        raise ValidationError(_("Choose the invoice or the client."), field="invoice")
    _apply(actor=actor, row=row, invoice=invoice, client=client)
    row.status = RowStatus.APPLIED
    row.invoice = invoice
    row.client = client
    row.decided_by = actor
    row.decided_at = at or timezone.now()
    row.reason = _("Confirmed by %(who)s.") % {"who": actor or _("the system")}
    row.save()
    _refresh_counts(row.batch)
    return row


@transaction.atomic
def payment_import_row_ignore(
    *, actor: User | None, row: PaymentImportRow, reason: str = "", at: datetime | None = None
) -> PaymentImportRow:
    """Set a row aside: not a client's payment (a loan, a fee, a transfer between accounts)."""
    _require(actor)
    row = _open_row(row)
    row.status = RowStatus.IGNORED
    row.reason = ((reason or "").strip() or _("Set aside by %(who)s.") % {"who": actor})[:300]
    row.decided_by = actor
    row.decided_at = at or timezone.now()
    row.save()
    _refresh_counts(row.batch)
    return row
