"""API for receivables and credit (``/api/v1/``).

- ``GET /receivables``: ageing (total, by client or manager) and the overdue list with
  each debt's latest action; ``/receivables/ageing``, ``/receivables/overdue``,
  ``/receivables/days-to-payment``, ``/receivables/dso``.
- ``POST /receivables/invoices/{id}/actions``: a call made, a promise, the next action.
- ``GET|PUT /clients/{id}/credit``: terms, limit, status (who set it and why), exposure,
  payment discipline.
- Overrides: ``POST /deals/{id}/credit-override`` (request), ``GET
  /receivables/overrides``, ``POST /receivables/overrides/{id}/decide`` and ``POST
  /receivables/overrides/grant`` (the owner only).
- Statements: ``POST /receivables/statements`` (a file), ``GET
  /receivables/statements/{id}/rows``, ``POST /receivables/statement-rows/{id}/confirm``
  and ``/ignore``.

Endpoints parse, call one selector or service and shape the answer; refusals come back
as ``{"detail", "code", "field"}`` with 403, 404, 409 or 422.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from vrop.accounts.visibility import can
from vrop.core.api_utils import (
    DEFAULT_PAGE_SIZE,
    CreditLimit,
    Day,
    ErrorOut,
    Id,
    Limit,
    MoneyOut,
    Offset,
    PercentOut,
    Text,
    paginate,
)
from vrop.core.errors import NotFound, PermissionDenied, ValidationError
from vrop.crm.models import Client, Deal
from vrop.receivables import selectors, services
from vrop.receivables.choices import DecisionChannel
from vrop.receivables.models import CreditOverride, Invoice, PaymentImport, PaymentImportRow

router = Router(tags=["receivables"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
Reason = Text(500)


def _require(user, action: str, kind: str) -> None:
    if not can(user, action, kind):
        raise PermissionDenied(_("You may not do this."))


# --- schemas ----------------------------------------------------------------------------


class BucketsOut(Schema):
    d1_7: MoneyOut
    d8_30: MoneyOut
    d31_60: MoneyOut
    over_60: MoneyOut


class AgeingOut(Schema):
    id: int | None = None
    name: str = ""
    current: MoneyOut
    buckets: BucketsOut
    overdue: MoneyOut
    receivables: MoneyOut
    invoices_overdue: int


class ActionOut(Schema):
    kind: str | None
    at: datetime | None
    note: str | None
    promised_on: date | None
    promise_status: str | None
    next_action: str | None
    next_action_on: date | None
    responsible_id: int | None


class OverdueOut(Schema):
    id: int
    number: str
    client_id: int | None
    client: str
    manager_id: int | None
    deal_id: int | None
    issued_on: date
    due_on: date
    amount: MoneyOut
    balance: MoneyOut
    days_overdue: int
    bucket: str
    last_action: ActionOut | None


class OverduePage(Schema):
    items: list[OverdueOut]
    next: str | None


class ReceivablesOut(Schema):
    at: date
    ageing: AgeingOut
    by_client: list[AgeingOut] | None = None
    by_manager: list[AgeingOut] | None = None
    overdue: list[OverdueOut]
    next: str | None


class DaysToPaymentOut(Schema):
    date_from: date
    date_to: date
    count: int
    median: Decimal | None
    mean: Decimal | None


class DsoOut(Schema):
    date_from: date
    date_to: date
    receivables: MoneyOut
    invoiced: MoneyOut
    days: int
    dso: Decimal | None


class ActionIn(Schema):
    kind: Literal["call", "email", "letter", "meeting", "note"]
    note: Text(5000) = ""
    promised_on: Day | None = None
    promised_amount: CreditLimit | None = None
    next_action: Text(300) = ""
    next_action_on: Day | None = None
    responsible_id: Id | None = None


class ActionCreatedOut(Schema):
    id: int
    invoice_id: int
    kind: str
    promise_status: str
    promised_on: date | None
    promised_amount: MoneyOut | None
    next_action: str
    next_action_on: date | None
    responsible_id: int | None


class CreditChangeOut(Schema):
    at: datetime
    by_id: int | None
    by: str
    payment_terms_days: int
    credit_limit: MoneyOut
    credit_status: str
    reason: str
    is_automatic: bool


class CreditOut(Schema):
    client_id: int
    client: str
    payment_terms_days: int
    credit_limit: MoneyOut
    credit_status: str
    credit_status_reason: str
    set_by: str | None
    set_at: datetime | None
    exposure: MoneyOut
    unpaid_invoices: MoneyOut
    won_not_invoiced: MoneyOut
    advances: MoneyOut
    available: MoneyOut
    used_pct: PercentOut
    oldest_overdue_days: int
    oldest_overdue_invoice: str
    payment_mark: str
    mean_days_to_payment: Decimal | None
    mean_days_late: Decimal | None
    history: list[CreditChangeOut]


class CreditIn(Schema):
    payment_terms_days: int | None = None
    credit_limit: CreditLimit | None = None
    credit_status: Literal["active", "prepayment_only", "stop"] | None = None
    reason: Text(300) = ""


class OverrideRequestIn(Schema):
    reason: Reason


class OverrideGrantIn(Schema):
    deal_id: Id
    reason: Reason


class DecisionIn(Schema):
    grant: bool
    reason: Reason = ""


class OverrideOut(Schema):
    id: int
    deal_id: int
    deal: str
    client_id: int | None
    status: str
    deal_amount: MoneyOut
    violations: list[dict]
    requested_by_id: int | None
    requested_at: datetime
    request_reason: str
    decided_by_id: int | None
    decided_at: datetime | None
    decision_reason: str
    channel: str


class OverridePage(Schema):
    items: list[OverrideOut]
    next: str | None


class StatementOut(Schema):
    id: int
    file_name: str
    file_format: str
    rows_total: int
    rows_applied: int
    rows_to_confirm: int
    rows_unmatched: int
    rows_duplicate: int


class RowOut(Schema):
    id: int
    line_no: int
    paid_on: date
    amount: MoneyOut
    payer_inn: str
    payer_name: str
    purpose: str
    status: str
    reason: str
    invoice_id: int | None
    client_id: int | None
    allocations: list[dict]


class RowPage(Schema):
    items: list[RowOut]
    next: str | None


class ConfirmIn(Schema):
    invoice_id: Id | None = None
    client_id: Id | None = None


class IgnoreIn(Schema):
    reason: Text(300) = ""


# --- shaping ----------------------------------------------------------------------------


def _ageing(row: selectors.Ageing) -> dict:
    buckets = row.buckets
    return {
        "id": row.id,
        "name": row.name,
        "current": row.current,
        "buckets": {
            "d1_7": buckets["1-7"],
            "d8_30": buckets["8-30"],
            "d31_60": buckets["31-60"],
            "over_60": buckets["60+"],
        },
        "overdue": row.total,
        "receivables": row.receivables,
        "invoices_overdue": row.count,
    }


def _overdue(invoice) -> dict:
    action = None
    if invoice.action_kind is not None:
        action = {
            "kind": invoice.action_kind,
            "at": invoice.action_at,
            "note": invoice.action_note,
            "promised_on": invoice.promised_on,
            "promise_status": invoice.promise_status,
            "next_action": invoice.next_action,
            "next_action_on": invoice.next_action_on,
            "responsible_id": invoice.responsible_id,
        }
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "client_id": invoice.client_id,
        "client": invoice.client.name if invoice.client else "",
        "manager_id": invoice.manager_id,
        "deal_id": invoice.deal_id,
        "issued_on": invoice.issued_on,
        "due_on": invoice.due_on,
        "amount": invoice.amount,
        "balance": invoice.balance_due,
        "days_overdue": invoice.days_overdue,
        "bucket": selectors.bucket_for(invoice.days_overdue),
        "last_action": action,
    }


def _override(item: CreditOverride) -> dict:
    return {
        "id": item.pk,
        "deal_id": item.deal_id,
        "deal": str(item.deal),
        "client_id": item.client_id,
        "status": item.status,
        "deal_amount": item.deal_amount,
        "violations": item.violations,
        "requested_by_id": item.requested_by_id,
        "requested_at": item.requested_at,
        "request_reason": item.request_reason,
        "decided_by_id": item.decided_by_id,
        "decided_at": item.decided_at,
        "decision_reason": item.decision_reason,
        "channel": item.channel,
    }


def _row(item: PaymentImportRow) -> dict:
    return {
        "id": item.pk,
        "line_no": item.line_no,
        "paid_on": item.paid_on,
        "amount": item.amount,
        "payer_inn": item.payer_inn,
        "payer_name": item.payer_name,
        "purpose": item.purpose,
        "status": item.status,
        "reason": item.reason,
        "invoice_id": item.invoice_id,
        "client_id": item.client_id,
        "allocations": item.allocations,
    }


def _visible_deal(user, deal_id: int) -> Deal:
    deal = Deal.objects.visible_to(user).filter(pk=deal_id).first()
    if deal is None:
        raise NotFound(_("No such deal."))
    return deal


# --- receivables ------------------------------------------------------------------------


@router.get("/receivables", response={200: ReceivablesOut, **ERRORS})
def receivables(
    request,
    at: Day | None = None,
    group_by: Literal["client", "manager"] | None = None,
    manager: Id | None = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
):
    """Ageing and the overdue debts with their latest action, at a date (today)."""
    _require(request.auth, "view", "invoice")
    at = at or timezone.localdate()
    ageing = selectors.receivables_ageing(viewer=request.auth, at=at, manager_id=manager)
    answer = {"at": at, "ageing": _ageing(ageing)}
    if group_by:
        rows = selectors.receivables_ageing(
            viewer=request.auth, at=at, group_by=group_by, manager_id=manager, limit=100
        )
        answer[f"by_{group_by}"] = [_ageing(row) for row in rows]
    page = paginate(
        request,
        selectors.overdue_list(viewer=request.auth, at=at, manager_id=manager),
        limit=limit,
        offset=offset,
    )
    answer["overdue"] = [_overdue(invoice) for invoice in page["items"]]
    answer["next"] = page["next"]
    return answer


@router.get("/receivables/ageing", response={200: list[AgeingOut], **ERRORS})
def receivables_ageing(
    request,
    at: Day | None = None,
    group_by: Literal["client", "manager"] | None = None,
    manager: Id | None = None,
    limit: Limit = 200,
):
    """Ageing buckets: one row for everything the caller sees, or per client or manager
    (the ``limit`` largest overdue first)."""
    _require(request.auth, "view", "invoice")
    result = selectors.receivables_ageing(
        viewer=request.auth,
        at=at,
        group_by=group_by,
        manager_id=manager,
        limit=limit if group_by else None,
    )
    rows = result if isinstance(result, list) else [result]
    return [_ageing(row) for row in rows]


@router.get("/receivables/overdue", response={200: OverduePage, **ERRORS})
def receivables_overdue(
    request,
    at: Day | None = None,
    manager: Id | None = None,
    client: Id | None = None,
    bucket: Literal["1-7", "8-30", "31-60", "60+"] | None = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
):
    """Overdue debts, oldest first, each with its latest action, promise and next step."""
    _require(request.auth, "view", "invoice")
    page = paginate(
        request,
        selectors.overdue_list(
            viewer=request.auth, at=at, manager_id=manager, client_id=client, bucket=bucket
        ),
        limit=limit,
        offset=offset,
    )
    return {"items": [_overdue(invoice) for invoice in page["items"]], "next": page["next"]}


def _period(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise ValidationError(_("The period ends before it starts."), field="to")


@router.get("/receivables/days-to-payment", response={200: DaysToPaymentOut, **ERRORS})
def receivables_days_to_payment(
    request,
    date_from: Day = Query(..., alias="from"),  # noqa: B008
    date_to: Day = Query(..., alias="to"),  # noqa: B008
    manager: Id | None = None,
    client: Id | None = None,
):
    """Days from invoice date to full payment, for invoices fully paid in the period."""
    _require(request.auth, "view", "invoice")
    _period(date_from, date_to)
    result = selectors.days_to_payment(
        viewer=request.auth,
        date_from=date_from,
        date_to=date_to,
        manager_id=manager,
        client_id=client,
    )
    return {
        "date_from": date_from,
        "date_to": date_to,
        "count": result.count,
        "median": result.median,
        "mean": result.mean,
    }


@router.get("/receivables/dso", response={200: DsoOut, **ERRORS})
def receivables_dso(
    request,
    date_from: Day = Query(..., alias="from"),  # noqa: B008
    date_to: Day = Query(..., alias="to"),  # noqa: B008
    manager: Id | None = None,
):
    """DSO = receivables at the end / invoiced in the period × days in the period."""
    _require(request.auth, "view", "invoice")
    _period(date_from, date_to)
    result = selectors.dso(
        viewer=request.auth, date_from=date_from, date_to=date_to, manager_id=manager
    )
    return {"date_from": date_from, "date_to": date_to, **result}


@router.post(
    "/receivables/invoices/{invoice_id}/actions", response={201: ActionCreatedOut, **ERRORS}
)
def overdue_action_add(request, invoice_id: Id, payload: ActionIn):
    """Record what was done about a debt: a call, a promise, the next action."""
    _require(request.auth, "change", "activity")
    invoice = selectors.invoice_get(viewer=request.auth, invoice_id=invoice_id)
    responsible = None
    if payload.responsible_id is not None:
        from vrop.accounts.models import User

        responsible = User.objects.filter(pk=payload.responsible_id, is_active=True).first()
        if responsible is None:
            raise ValidationError(_("No such user."), field="responsible_id")
    action = services.overdue_action_add(
        actor=request.auth,
        invoice=invoice,
        kind=payload.kind,
        note=payload.note,
        promised_on=payload.promised_on,
        promised_amount=payload.promised_amount,
        next_action=payload.next_action,
        next_action_on=payload.next_action_on,
        responsible=responsible,
    )
    return Status(
        201,
        {
            "id": action.pk,
            "invoice_id": action.invoice_id,
            "kind": action.kind,
            "promise_status": action.promise_status,
            "promised_on": action.promised_on,
            "promised_amount": action.promised_amount,
            "next_action": action.next_action,
            "next_action_on": action.next_action_on,
            "responsible_id": action.responsible_id,
        },
    )


# --- client credit ----------------------------------------------------------------------


def _credit(user, client_id: int) -> dict:
    data = selectors.client_credit_get(viewer=user, client_id=client_id)
    client, exposure, last = data["client"], data["exposure"], data["last_change"]
    profile = selectors.client_payment_discipline(viewer=user, client_ids=[client.pk]).get(
        client.pk
    )
    return {
        "client_id": client.pk,
        "client": client.name,
        "payment_terms_days": client.payment_terms_days,
        "credit_limit": client.credit_limit,
        "credit_status": client.credit_status,
        "credit_status_reason": client.credit_status_reason,
        "set_by": (str(last.changed_by) if last.changed_by else _("automatically"))
        if last
        else None,
        "set_at": last.changed_at if last else None,
        "exposure": exposure.total,
        "unpaid_invoices": exposure.unpaid_invoices,
        "won_not_invoiced": exposure.won_not_invoiced,
        "advances": exposure.advances,
        "available": exposure.available,
        "used_pct": exposure.used_pct,
        "oldest_overdue_days": data["oldest_overdue_days"],
        "oldest_overdue_invoice": data["oldest_overdue_number"],
        "payment_mark": profile.mark if profile else "new",
        "mean_days_to_payment": profile.mean_days_to_payment if profile else None,
        "mean_days_late": profile.mean_days_late if profile else None,
        "history": [
            {
                "at": change.changed_at,
                "by_id": change.changed_by_id,
                "by": str(change.changed_by) if change.changed_by else _("automatically"),
                "payment_terms_days": change.payment_terms_days,
                "credit_limit": change.credit_limit,
                "credit_status": change.credit_status,
                "reason": change.reason,
                "is_automatic": change.is_automatic,
            }
            for change in data["history"]
        ],
    }


@router.get("/clients/{client_id}/credit", response={200: CreditOut, **ERRORS}, tags=["clients"])
def client_credit(request, client_id: Id):
    """A client's terms, limit, status (who set it and why), exposure and payment habits."""
    _require(request.auth, "view", "client")
    return _credit(request.auth, client_id)


@router.put("/clients/{client_id}/credit", response={200: CreditOut, **ERRORS}, tags=["clients"])
def client_credit_set(request, client_id: Id, payload: CreditIn):
    """Set terms (0 = prepayment), limit and status; a status change needs a reason."""
    _require(request.auth, "change", "client_credit")
    client = Client.objects.visible_to(request.auth).filter(pk=client_id).first()
    if client is None:
        raise NotFound(_("No such client."))
    services.client_credit_set(
        actor=request.auth,
        client=client,
        payment_terms_days=payload.payment_terms_days,
        credit_limit=payload.credit_limit,
        credit_status=payload.credit_status,
        reason=payload.reason,
    )
    return _credit(request.auth, client_id)


# --- overrides --------------------------------------------------------------------------


@router.post(
    "/deals/{deal_id}/credit-override", response={201: OverrideOut, **ERRORS}, tags=["deals"]
)
def credit_override_request(request, deal_id: Id, payload: OverrideRequestIn):
    """Ask the owner to let this deal through the credit rules (they get it in Telegram)."""
    _require(request.auth, "change", "deal")
    deal = _visible_deal(request.auth, deal_id)
    item = services.credit_override_request(actor=request.auth, deal=deal, reason=payload.reason)
    return Status(201, _override(item))


@router.get("/receivables/overrides", response={200: OverridePage, **ERRORS})
def credit_override_list(
    request,
    status: Literal["pending", "granted", "refused"] | None = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
):
    """Credit exceptions asked for and decided: the log of overrides."""
    _require(request.auth, "view", "deal")
    page = paginate(
        request,
        selectors.credit_override_list(viewer=request.auth, status=status),
        limit=limit,
        offset=offset,
    )
    return {"items": [_override(item) for item in page["items"]], "next": page["next"]}


@router.post("/receivables/overrides/{override_id}/decide", response={200: OverrideOut, **ERRORS})
def credit_override_decide(request, override_id: Id, payload: DecisionIn):
    """The owner grants or refuses a requested exception, with a reason."""
    item = (
        selectors.credit_override_list(viewer=request.auth).filter(pk=override_id).first()
        if can(request.auth, "view", "deal")
        else None
    )
    if item is None:
        raise NotFound(_("No such request."))
    item = services.credit_override_decide(
        actor=request.auth,
        override=item,
        grant=payload.grant,
        reason=payload.reason,
        channel=DecisionChannel.API,
    )
    return _override(item)


@router.post("/receivables/overrides/grant", response={201: OverrideOut, **ERRORS})
def credit_override_grant(request, payload: OverrideGrantIn):
    """The owner lets one deal through the credit rules directly, with a reason."""
    deal = _visible_deal(request.auth, payload.deal_id)
    item = services.credit_override_grant(
        actor=request.auth, deal=deal, reason=payload.reason, channel=DecisionChannel.API
    )
    return Status(201, _override(item))


# --- statements -------------------------------------------------------------------------


def _statement(batch: PaymentImport) -> dict:
    return {
        "id": batch.pk,
        "file_name": batch.file_name,
        "file_format": batch.file_format,
        "rows_total": batch.rows_total,
        "rows_applied": batch.rows_applied,
        "rows_to_confirm": batch.rows_to_confirm,
        "rows_unmatched": batch.rows_unmatched,
        "rows_duplicate": batch.rows_duplicate,
    }


@router.post("/receivables/statements", response={201: StatementOut, **ERRORS})
def statement_load(request, file: File[UploadedFile]):
    """Load a bank statement (1CClientBankExchange or CSV) or a 1C CommerceML file."""
    _require(request.auth, "change", "payment")
    batch = services.payment_import_load(
        actor=request.auth, content=file.read(), file_name=file.name or ""
    )
    return Status(201, _statement(batch))


@router.get("/receivables/statements/{statement_id}/rows", response={200: RowPage, **ERRORS})
def statement_rows(
    request,
    statement_id: Id,
    status: Literal["applied", "suggested", "unmatched", "duplicate", "ignored"] | None = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
):
    """The rows of a loaded statement and what became of each."""
    _require(request.auth, "change", "payment")
    rows = PaymentImportRow.objects.filter(batch_id=statement_id).order_by("line_no")
    if status:
        rows = rows.filter(status=status)
    page = paginate(request, rows, limit=limit, offset=offset)
    return {"items": [_row(item) for item in page["items"]], "next": page["next"]}


def _open_row(user, row_id: int) -> PaymentImportRow:
    _require(user, "change", "payment")
    row = PaymentImportRow.objects.filter(pk=row_id).first()
    if row is None:
        raise NotFound(_("No such row."))
    return row


@router.post("/receivables/statement-rows/{row_id}/confirm", response={200: RowOut, **ERRORS})
def statement_row_confirm(request, row_id: Id, payload: ConfirmIn):
    """Apply a row to the invoice (or the client, as an advance) a person chose."""
    row = _open_row(request.auth, row_id)
    invoice = client = None
    if payload.invoice_id is not None:
        invoice = Invoice.objects.visible_to(request.auth).filter(pk=payload.invoice_id).first()
        if invoice is None:
            raise ValidationError(_("No such invoice."), field="invoice_id")
    if payload.client_id is not None:
        client = Client.objects.visible_to(request.auth).filter(pk=payload.client_id).first()
        if client is None:
            raise ValidationError(_("No such client."), field="client_id")
    row = services.payment_import_row_confirm(
        actor=request.auth, row=row, invoice=invoice, client=client
    )
    return _row(row)


@router.post("/receivables/statement-rows/{row_id}/ignore", response={200: RowOut, **ERRORS})
def statement_row_ignore(request, row_id: Id, payload: IgnoreIn):
    """Set a row aside: not a client's payment."""
    row = _open_row(request.auth, row_id)
    return _row(
        services.payment_import_row_ignore(actor=request.auth, row=row, reason=payload.reason)
    )
