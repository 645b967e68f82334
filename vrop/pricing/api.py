"""Pricing API: a deal's price evaluation, approvals, confirmations, quotes, margin report.

Reads go through ``vrop.pricing.selectors`` with the caller as the viewer, writes through
``vrop.pricing.services`` with the caller as the actor (the same as the UI).
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.responses import Status

from vrop.accounts.visibility import can
from vrop.core.api_utils import (
    Day,
    DecimalOut,
    ErrorOut,
    Id,
    Limit,
    MoneyOut,
    Offset,
    PercentOut,
    Price,
    Quantity,
    Text,
)
from vrop.core.errors import NotFound, PermissionDenied, ValidationError
from vrop.crm.models import Product
from vrop.pricing import selectors, services

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _require(ok: bool) -> None:
    if not ok:
        raise PermissionDenied(_("You may not do this."))


class ReasonOut(Schema):
    level: str
    code: str
    message: str
    line: int | None


class LineOut(Schema):
    position: int
    product: str
    qty: DecimalOut
    price: MoneyOut
    list_price: MoneyOut
    cost_price: MoneyOut
    amount: MoneyOut
    gross_profit: MoneyOut
    margin_pct: PercentOut
    markup_pct: PercentOut
    discount_pct: PercentOut


class PricingOut(Schema):
    deal_id: int
    level: str
    cleared: bool
    reasons: list[ReasonOut]
    amount: MoneyOut
    cost_amount: MoneyOut
    gross_profit: MoneyOut
    margin_pct: PercentOut
    markup_pct: PercentOut
    discount_pct: PercentOut
    lines: list[LineOut]


LEVEL_NAMES = {0: "none", 2: "head", 3: "owner"}


@router.get("/deals/{deal_id}/pricing", response={200: PricingOut, **ERRORS}, tags=["pricing"])
def deal_pricing(request, deal_id: Id):
    """What the deal's prices need (none, head, owner), with every reason and line figures."""
    _require(can(request.auth, "view", "deal"))
    p = selectors.deal_pricing(viewer=request.auth, deal_id=deal_id)
    return {
        "deal_id": p.deal.pk,
        "level": LEVEL_NAMES[int(p.decision.level)],
        "cleared": p.cleared,
        "reasons": [
            {
                "level": LEVEL_NAMES[int(reason.level)],
                "code": reason.code,
                "message": reason.message,
                "line": None if reason.position is None else reason.position + 1,
            }
            for reason in p.decision.reasons
        ],
        "amount": p.amount,
        "cost_amount": p.cost_amount,
        "gross_profit": p.gross_profit,
        "margin_pct": p.margin_pct,
        "markup_pct": p.markup_pct,
        "discount_pct": p.discount_pct,
        "lines": [vars(line) for line in p.lines],
    }


class ApprovalOut(Schema):
    id: int
    deal_id: int
    level: str
    status: str
    reasons: list[dict]
    amount: MoneyOut
    gross_profit: MoneyOut
    requested_by_id: int | None
    requested_at: datetime
    decided_by_id: int | None
    decided_at: datetime | None
    escalated_at: datetime | None
    comment: str


class ApprovalPage(Schema):
    items: list[ApprovalOut]
    count: int


@router.get("/approvals", response={200: ApprovalPage, **ERRORS}, tags=["pricing"])
def approval_list(request, status: Text(16) = "", limit: Limit = 50, offset: Offset = 0):
    """Approvals of the deals the caller sees; pending first, the caller's level on top."""
    _require(can(request.auth, "view", "deal"))
    if status and status not in ("pending", "approved", "rejected", "superseded"):
        raise ValidationError(_("Unknown status."), field="status")
    queryset = selectors.approval_list(viewer=request.auth, status=status)
    return {"items": list(queryset[offset : offset + limit]), "count": queryset.count()}


class DecideIn(Schema):
    approve: bool
    comment: Text(500) = ""


@router.post(
    "/approvals/{approval_id}/decide", response={200: ApprovalOut, **ERRORS}, tags=["pricing"]
)
def approval_decide(request, approval_id: Id, payload: DecideIn):
    """Approve or reject once; only the head (head-level requests) or the owner decides."""
    _require(selectors.is_decider(request.auth))
    approval = selectors.approval_get(viewer=request.auth, approval_id=approval_id)
    return services.approval_decide(
        actor=request.auth, approval=approval, approve=payload.approve, comment=payload.comment
    )


class ConfirmationOut(Schema):
    id: int
    deal_id: int | None
    product_id: int
    source: str
    qty: DecimalOut
    available_on: date
    valid_until: datetime
    supplier: str
    confirmed_by_id: int | None
    confirmed_at: datetime


class ConfirmationPage(Schema):
    items: list[ConfirmationOut]
    count: int


class ConfirmationIn(Schema):
    product_id: Id
    qty: Quantity
    available_on: date
    valid_until: datetime
    source: Text(16) = "stock"
    supplier: Text(200) = ""
    deal_id: Id | None = None


@router.get("/confirmations", response={200: ConfirmationPage, **ERRORS}, tags=["pricing"])
def confirmation_list(
    request,
    deal: Id | None = None,
    valid: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
):
    """Confirmations of stock and lead time (for the deals the caller sees, and general)."""
    queryset = selectors.confirmation_list(viewer=request.auth, deal_id=deal, valid_only=valid)
    return {"items": list(queryset[offset : offset + limit]), "count": queryset.count()}


@router.post("/confirmations", response={201: ConfirmationOut, **ERRORS}, tags=["pricing"])
def confirmation_create(request, payload: ConfirmationIn):
    """Supply confirms a quantity available by a date, valid until a moment."""
    _require(can(request.auth, "change", "confirmation"))
    product = Product.objects.filter(pk=payload.product_id).first()
    if product is None:
        raise ValidationError(_("No such product."), field="product_id")
    deal = None
    if payload.deal_id is not None:
        try:
            deal = selectors.deal_for_pricing(viewer=request.auth, deal_id=payload.deal_id)
        except NotFound:
            raise ValidationError(_("No such deal."), field="deal_id")
    valid_until = payload.valid_until
    if timezone.is_naive(valid_until):
        valid_until = timezone.make_aware(valid_until)
    confirmation = services.confirmation_create(
        actor=request.auth,
        product=product,
        qty=payload.qty,
        available_on=payload.available_on,
        valid_until=valid_until,
        source=payload.source,
        supplier=payload.supplier,
        deal=deal,
    )
    return Status(201, confirmation)


class QuoteIn(Schema):
    valid_days: int = 5
    delivery_date: date | None = None


class QuoteOut(Schema):
    id: int
    deal_id: int
    number: str
    issued_at: datetime
    valid_until: date
    amount: MoneyOut
    vat_amount: MoneyOut
    delivery_date: date | None
    pdf: str
    xlsx: str

    @staticmethod
    def resolve_pdf(obj) -> str:
        return f"/api/v1/quotes/{obj.pk}.pdf"

    @staticmethod
    def resolve_xlsx(obj) -> str:
        return f"/api/v1/quotes/{obj.pk}.xlsx"


@router.post("/deals/{deal_id}/quotes", response={201: QuoteOut, **ERRORS}, tags=["pricing"])
def quote_issue(request, deal_id: Id, payload: QuoteIn):
    """Issue a quote: the quote stage's rules hold (approval, confirmed promises)."""
    _require(can(request.auth, "change", "deal"))
    deal = selectors.deal_for_pricing(viewer=request.auth, deal_id=deal_id)
    quote = services.quote_issue(
        actor=request.auth,
        deal=deal,
        valid_days=payload.valid_days,
        delivery_date=payload.delivery_date,
    )
    return Status(201, quote)


def _quote_file(request, quote_id: int, kind: str):
    from vrop.pricing.documents import quote_pdf, quote_xlsx

    quote = selectors.quote_get(viewer=request.auth, quote_id=quote_id)
    if kind == "pdf":
        response = HttpResponse(quote_pdf(quote), content_type="application/pdf")
    else:
        response = HttpResponse(
            quote_xlsx(quote),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="quote-{quote.number}.{kind}"'
    return response


@router.get("/quotes/{quote_id}.pdf", response={200: None, **ERRORS}, tags=["pricing"])
def quote_pdf(request, quote_id: Id):
    return _quote_file(request, quote_id, "pdf")


@router.get("/quotes/{quote_id}.xlsx", response={200: None, **ERRORS}, tags=["pricing"])
def quote_xlsx(request, quote_id: Id):
    return _quote_file(request, quote_id, "xlsx")


class MarginRowOut(Schema):
    key: str | int | None
    name: str
    revenue: MoneyOut
    gross_profit: MoneyOut
    margin_pct: PercentOut
    discount_pct: PercentOut
    discount_amount: MoneyOut
    deals: int
    approvals: int
    approvals_rejected: int


@router.get("/reports/margin", response={200: list[MarginRowOut], **ERRORS}, tags=["pricing"])
def margin_report(
    request,
    date_from: date | None = Query(None, alias="from"),  # noqa: B008
    date_to: date | None = Query(None, alias="to"),  # noqa: B008
    by: Text(16) = "manager",
):
    """Who kills the margin: won deals by manager, category or client, weighted discount first.

    ``from`` and ``to`` bound the closing date of the won deals (default: 90 days before the
    start of this month to today).
    """
    if by not in selectors.MARGIN_GROUPS:
        raise ValidationError(_("Group by manager, category or client."), field="by")
    today = timezone.localdate()
    start = date_from or (today.replace(day=1) - dt.timedelta(days=90))
    end = date_to or today
    return selectors.margin_report(viewer=request.auth, start=start, end=end, by=by)


# --- price lists and purchases ------------------------------------------------------------


class PriceListOut(Schema):
    id: int
    name: str
    effective_from: date
    applied_at: datetime | None
    source_file: str
    created_at: datetime
    created_by_id: int | None
    items: int

    @staticmethod
    def resolve_items(obj) -> int:
        count = getattr(obj, "item_count", None)
        return obj.items.count() if count is None else count


class PriceListItemOut(Schema):
    product_id: int
    product: str
    list_price: MoneyOut
    cost_price: MoneyOut | None

    @staticmethod
    def resolve_product(obj) -> str:
        return obj.product.name


class PriceListDetailOut(PriceListOut):
    lines: list[PriceListItemOut]


class PriceListPage(Schema):
    items: list[PriceListOut]
    count: int


class PriceListIn(Schema):
    name: Text(200)
    effective_from: Day


class PriceListItemIn(Schema):
    list_price: Price | None = None
    cost_price: Price | None = None


def _price_list_detail(request, price_list_id: int):
    price_list = selectors.price_list_get(viewer=request.auth, price_list_id=price_list_id)
    items = list(selectors.price_list_items(viewer=request.auth, price_list=price_list))
    price_list.lines = items
    return price_list


@router.get("/price-lists", response={200: PriceListPage, **ERRORS}, tags=["pricing"])
def price_list_list(request, limit: Limit = 50, offset: Offset = 0):
    """Price lists, the latest effective date first (head, owner, supply)."""
    queryset = selectors.price_list_list(viewer=request.auth)
    return {"items": list(queryset[offset : offset + limit]), "count": queryset.count()}


@router.post("/price-lists", response={201: PriceListDetailOut, **ERRORS}, tags=["pricing"])
def price_list_create(request, payload: PriceListIn):
    """A new, empty price list taking effect on a date (today or later; head, owner)."""
    price_list = services.price_list_create(
        actor=request.auth, name=payload.name, effective_from=payload.effective_from
    )
    return Status(201, _price_list_detail(request, price_list.pk))


@router.get(
    "/price-lists/{price_list_id}", response={200: PriceListDetailOut, **ERRORS}, tags=["pricing"]
)
def price_list_get(request, price_list_id: Id):
    return _price_list_detail(request, price_list_id)


@router.put(
    "/price-lists/{price_list_id}/items/{product_id}",
    response={200: PriceListItemOut, **ERRORS},
    tags=["pricing"],
)
def price_list_item_set(request, price_list_id: Id, product_id: Id, payload: PriceListItemIn):
    """Set a product's list and/or cost price in a list not applied yet (an omitted price
    stays; supply sets only cost prices of lines already in the list)."""
    price_list = selectors.price_list_get(viewer=request.auth, price_list_id=price_list_id)
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise NotFound(_("Not found."))
    item = services.price_list_item_set(
        actor=request.auth,
        price_list=price_list,
        product=product,
        list_price=payload.list_price,
        cost_price=payload.cost_price,
    )
    return item


@router.delete(
    "/price-lists/{price_list_id}/items/{product_id}",
    response={204: None, **ERRORS},
    tags=["pricing"],
)
def price_list_item_remove(request, price_list_id: Id, product_id: Id):
    price_list = selectors.price_list_get(viewer=request.auth, price_list_id=price_list_id)
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise NotFound(_("Not found."))
    services.price_list_item_remove(actor=request.auth, price_list=price_list, product=product)
    return Status(204, None)


@router.post(
    "/price-lists/{price_list_id}/copy",
    response={201: PriceListDetailOut, **ERRORS},
    tags=["pricing"],
)
def price_list_copy(request, price_list_id: Id, payload: PriceListIn):
    """A new list with every line of this one, taking effect after it (head, owner)."""
    source = selectors.price_list_get(viewer=request.auth, price_list_id=price_list_id)
    copy = services.price_list_copy(
        actor=request.auth,
        source=source,
        name=payload.name,
        effective_from=payload.effective_from,
    )
    return Status(201, _price_list_detail(request, copy.pk))


class AppliedOut(Schema):
    price_list: PriceListOut
    products_changed: int


@router.post(
    "/price-lists/{price_list_id}/apply", response={200: AppliedOut, **ERRORS}, tags=["pricing"]
)
def price_list_apply(request, price_list_id: Id):
    """Apply a list whose date has come to the products' prices (head, owner)."""
    price_list = selectors.price_list_get(viewer=request.auth, price_list_id=price_list_id)
    changed = services.price_list_apply_now(actor=request.auth, price_list=price_list)
    return {
        "price_list": selectors.price_list_get(viewer=request.auth, price_list_id=price_list.pk),
        "products_changed": changed,
    }


class PurchaseOut(Schema):
    id: int
    product_id: int
    qty: DecimalOut
    price: MoneyOut
    received_on: date
    supplier: str
    document: str
    created_by_id: int | None
    created_at: datetime


class PurchasePage(Schema):
    items: list[PurchaseOut]
    count: int


class PurchaseIn(Schema):
    product_id: Id
    qty: Quantity
    price: Price
    received_on: Day
    supplier: Text(200) = ""
    document: Text(100) = ""


@router.get("/purchases", response={200: PurchasePage, **ERRORS}, tags=["pricing"])
def purchase_list(request, product: Id | None = None, limit: Limit = 50, offset: Offset = 0):
    """Goods received from suppliers, the latest first (head, owner, supply)."""
    queryset = selectors.purchase_list(viewer=request.auth, product_id=product)
    return {"items": list(queryset[offset : offset + limit]), "count": queryset.count()}


@router.post("/purchases", response={201: PurchaseOut, **ERRORS}, tags=["pricing"])
def purchase_record(request, payload: PurchaseIn):
    """Record a receipt; the latest one of a product sets its cost price."""
    _require(selectors.may_set_cost_prices(request.auth))
    product = Product.objects.filter(pk=payload.product_id).first()
    if product is None:
        raise ValidationError(_("No such product."), field="product_id")
    purchase = services.purchase_record(
        actor=request.auth,
        product=product,
        qty=payload.qty,
        price=payload.price,
        received_on=payload.received_on,
        supplier=payload.supplier,
        document=payload.document,
    )
    return Status(201, purchase)
