"""API for clients, products, deals with lines, and tasks (``/api/v1/``).

Endpoints only parse, call one selector or service, and shape the answer: reads go
through ``vrop.crm.selectors`` with the caller as the viewer, writes through
``vrop.crm.services`` with the caller as the actor, so the API sees and may do exactly
what the UI does. A role that may not view or change a kind of object gets 403; an
object the caller may not see answers 404, the same as a missing one.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.responses import Status

from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.core.api_utils import (
    DEFAULT_PAGE_SIZE,
    MAX_LINES,
    CreditLimit,
    Cursor,
    Day,
    DecimalOut,
    Email,
    ErrorOut,
    Id,
    Limit,
    LongText,
    Moment,
    MoneyOut,
    Offset,
    PercentOut,
    Price,
    Quantity,
    Stock,
    Text,
    paginate,
)
from vrop.core.errors import NotFound, PermissionDenied, ValidationError
from vrop.crm import selectors, services
from vrop.crm.choices import Stage, Unit
from vrop.crm.models import Deal

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}

# The orders of the lists (as the selectors sort them), for keyset pages: see ``paginate``.
CLIENT_ORDERING = ["name", "id"]
PRODUCT_ORDERING = ["category", "name", "id"]
DEAL_ORDERING = ["-received_at", "-id"]

Name = Text(300)
ShortText = Text(100)
Phone = Text(50)
Query = Text(200)


# --- helpers ----------------------------------------------------------------------------


def _require(user, action: str, kind: str) -> None:
    """Role-level permission: 403 before any object is looked up (no id probing)."""
    if not can(user, action, kind):
        raise PermissionDenied(_("You may not do this."))


CREDIT_FIELDS = {"payment_terms_days", "credit_limit"}


def _require_credit(user, sent: set[str]) -> None:
    """Payment terms and credit limit are credit policy: the head, owner and finance set them
    (the client form hides them from managers; the API refuses them the same way)."""
    if sent & CREDIT_FIELDS and not can(user, "change", "client_credit"):
        raise PermissionDenied(_("You may not do this."))


def _require_own_manager(user, sent: set[str], manager_id: int | None) -> None:
    """A manager's clients are their own: only the head and owner assign them to others
    (the client form has no manager field for a manager)."""
    if "manager_id" in sent and user.is_manager and manager_id != user.pk:
        raise PermissionDenied(_("You may not do this."))


def _reference(lookup, field: str, **kwargs):
    """An object named in the body: one the caller cannot see is a bad value (422)."""
    try:
        return lookup(**kwargs)
    except NotFound as error:
        raise ValidationError(error.message, field=field)


def _user(user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise ValidationError(_("No such user."), field=field)
    return user


# --- schemas ----------------------------------------------------------------------------


class ContactIn(Schema):
    name: Text(200)
    position: ShortText = ""
    phone: Phone = ""
    email: Email = ""


class ContactOut(Schema):
    id: int
    name: str
    position: str
    phone: str
    email: str


class ClientIn(Schema):
    name: Name
    inn: Text(12) = Field("", description="10 or 12 digits with a valid checksum, or empty")
    kpp: Text(9) = ""
    segment: Text(64) = ""
    manager_id: Id | None = Field(None, description="empty: the caller, if a manager")
    phone: Phone = ""
    email: Email = ""
    city: ShortText = ""
    payment_terms_days: int = Field(0, ge=0, le=365, description="0 = prepayment")
    credit_limit: CreditLimit = Decimal("0")
    contacts: list[ContactIn] = Field(default_factory=list, max_length=50)


class ClientPatch(Schema):
    """Only the fields sent are changed."""

    name: Name = None
    inn: Text(12) = None
    kpp: Text(9) = None
    segment: Text(64) = None
    manager_id: Id | None = None
    phone: Phone = None
    email: Email = None
    city: ShortText = None
    payment_terms_days: int = Field(None, ge=0, le=365)
    credit_limit: CreditLimit = None


class ClientOut(Schema):
    id: int
    source: str
    external_id: str
    name: str
    inn: str
    kpp: str
    segment: str
    manager_id: int | None
    phone: str
    email: str
    city: str
    payment_terms_days: int
    credit_limit: MoneyOut
    credit_status: str
    created_at: datetime
    updated_at: datetime


class ClientDetailOut(ClientOut):
    contacts: list[ContactOut]

    @staticmethod
    def resolve_contacts(obj):
        return list(obj.contacts.all())


class ClientPage(Schema):
    items: list[ClientOut]
    next: str | None = Field(description="URL of the next page; null on the last one")


class ProductIn(Schema):
    name: Name
    category: ShortText = ""
    unit: Unit = Unit.TONNE
    cost_price: Price = Decimal("0")
    list_price: Price = Decimal("0")
    stock_qty: Stock = Decimal("0")
    is_active: bool = True


class ProductPatch(Schema):
    name: Name = None
    category: ShortText = None
    unit: Unit = None
    cost_price: Price = None
    list_price: Price = None
    stock_qty: Stock = None
    is_active: bool = None


class ProductOut(Schema):
    id: int
    source: str
    external_id: str
    name: str
    category: str
    unit: str
    cost_price: MoneyOut
    list_price: MoneyOut
    stock_qty: DecimalOut
    is_active: bool


class ProductPage(Schema):
    items: list[ProductOut]
    next: str | None


class LineIn(Schema):
    product_id: Id
    qty: Quantity
    price: Price | None = Field(None, description="empty: the product's list price")
    cost_price: Price | None = Field(None, description="empty: the product's cost price")
    list_price: Price | None = Field(None, description="empty: the product's list price")


class LinesIn(Schema):
    lines: list[LineIn] = Field(max_length=MAX_LINES)


class NextStepIn(Schema):
    title: Name = ""
    due_at: Moment


class DealIn(Schema):
    client_id: Id | None = None
    manager_id: Id | None = Field(None, description="empty: the caller, if a manager")
    title: Name = ""
    channel: Text(32) = "other"
    received_at: Moment | None = Field(None, description="empty: now")
    need: LongText = ""
    stage: Stage = Stage.LEAD
    lost_reason: Name = ""
    lines: list[LineIn] = Field(default_factory=list, max_length=MAX_LINES)
    next_step: NextStepIn | None = Field(
        None, description="an open deal needs one: a task with a due date"
    )


class DealPatch(Schema):
    client_id: Id | None = None
    manager_id: Id | None = None
    title: Name = None
    channel: Text(32) = None
    received_at: Moment = None
    need: LongText = None
    promised_date: Day | None = None
    lost_reason: Name = None


class StageIn(Schema):
    stage: Stage
    lost_reason: Name = Field("", description="required when the stage is lost")


class CopyIn(Schema):
    next_step: NextStepIn | None = None


class LineOut(Schema):
    id: int
    product_id: int
    product_name: str = Field(alias="product.name")
    qty: DecimalOut
    price: MoneyOut
    cost_price: MoneyOut
    list_price: MoneyOut
    amount: MoneyOut
    gross_profit: MoneyOut
    margin_pct: PercentOut
    discount_pct: PercentOut


class DealOut(Schema):
    id: int
    source: str
    external_id: str
    title: str
    client_id: int | None
    client_name: str
    manager_id: int | None
    channel: str
    received_at: datetime
    stage: str
    stage_changed_at: datetime
    lost_reason: str
    closed_at: datetime | None
    amount: MoneyOut
    cost_amount: MoneyOut
    gross_profit: MoneyOut
    margin_pct: PercentOut
    list_amount: MoneyOut
    discount_pct: PercentOut
    volume: DecimalOut
    next_step_at: datetime | None
    last_activity_at: datetime | None
    promised_date: date | None
    flags: dict
    copied_from_id: int | None

    @staticmethod
    def resolve_client_name(obj) -> str:
        return obj.client.name if obj.client_id else ""


class DealDetailOut(DealOut):
    need: str
    lines: list[LineOut]

    @staticmethod
    def resolve_lines(obj):
        return list(obj.lines.select_related("product"))


class DealPage(Schema):
    items: list[DealOut]
    next: str | None


class TaskIn(Schema):
    title: Name
    due_at: Moment | None = None
    deal_id: Id | None = None
    client_id: Id | None = None
    manager_id: Id | None = Field(None, description="empty: the deal's manager, or the caller")


class TaskCompleteIn(Schema):
    result: LongText = ""


class TaskOut(Schema):
    id: int
    source: str
    external_id: str
    title: str
    deal_id: int | None
    client_id: int | None
    manager_id: int | None
    due_at: datetime | None
    done_at: datetime | None
    result: str
    is_open: bool


class TaskPage(Schema):
    items: list[TaskOut]
    next: str | None


# --- clients ----------------------------------------------------------------------------


@router.get("/clients", response={200: ClientPage, **ERRORS}, tags=["clients"])
def client_list(
    request,
    q: Query = "",
    manager: Id | None = None,
    segment: Text(64) = "",
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
    after: Cursor = "",
):
    """Clients the caller sees, by name; ``q`` matches name, INN, phone or e-mail."""
    _require(request.auth, "view", "client")
    clients = selectors.client_list(viewer=request.auth, q=q, manager_id=manager, segment=segment)
    return paginate(
        request, clients, limit=limit, offset=offset, after=after, ordering=CLIENT_ORDERING
    )


@router.post("/clients", response={201: ClientDetailOut, **ERRORS}, tags=["clients"])
def client_create(request, payload: ClientIn):
    _require(request.auth, "change", "client")
    _require_credit(request.auth, payload.model_fields_set)
    _require_own_manager(request.auth, payload.model_fields_set, payload.manager_id)
    fields = payload.model_dump(exclude={"manager_id", "contacts"})
    if payload.manager_id is not None:
        fields["manager"] = _user(payload.manager_id, "manager_id")
    client = services.client_create(
        actor=request.auth,
        contacts=[contact.model_dump() for contact in payload.contacts],
        **fields,
    )
    client.refresh_from_db()
    return Status(201, client)


@router.get("/clients/{client_id}", response={200: ClientDetailOut, **ERRORS}, tags=["clients"])
def client_get(request, client_id: Id):
    _require(request.auth, "view", "client")
    return selectors.client_get(viewer=request.auth, client_id=client_id)


@router.patch("/clients/{client_id}", response={200: ClientDetailOut, **ERRORS}, tags=["clients"])
def client_update(request, client_id: Id, payload: ClientPatch):
    _require(request.auth, "change", "client")
    client = selectors.client_get(viewer=request.auth, client_id=client_id)
    _require_credit(request.auth, payload.model_fields_set)
    _require_own_manager(request.auth, payload.model_fields_set, payload.manager_id)
    fields = payload.model_dump(exclude_unset=True, exclude={"manager_id"})
    if "manager_id" in payload.model_fields_set:
        fields["manager"] = _user(payload.manager_id, "manager_id")
    client = services.client_update(actor=request.auth, client=client, **fields)
    client.refresh_from_db()
    return client


@router.delete("/clients/{client_id}", response={204: None, **ERRORS}, tags=["clients"])
def client_delete(request, client_id: Id):
    """Delete a client without deals; its contacts, tasks and activities go with it."""
    _require(request.auth, "change", "client")
    client = selectors.client_get(viewer=request.auth, client_id=client_id)
    services.client_delete(actor=request.auth, client=client)
    return Status(204, None)


# --- products ---------------------------------------------------------------------------


@router.get("/products", response={200: ProductPage, **ERRORS}, tags=["products"])
def product_list(
    request,
    q: Query = "",
    category: ShortText = "",
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
    after: Cursor = "",
):
    _require(request.auth, "view", "product")
    products = selectors.product_list(viewer=request.auth, q=q, category=category)
    return paginate(
        request, products, limit=limit, offset=offset, after=after, ordering=PRODUCT_ORDERING
    )


@router.post("/products", response={201: ProductOut, **ERRORS}, tags=["products"])
def product_create(request, payload: ProductIn):
    _require(request.auth, "change", "product")
    product = services.product_create(actor=request.auth, **payload.model_dump())
    product.refresh_from_db()
    return Status(201, product)


@router.get("/products/{product_id}", response={200: ProductOut, **ERRORS}, tags=["products"])
def product_get(request, product_id: Id):
    _require(request.auth, "view", "product")
    return selectors.product_get(viewer=request.auth, product_id=product_id)


@router.patch("/products/{product_id}", response={200: ProductOut, **ERRORS}, tags=["products"])
def product_update(request, product_id: Id, payload: ProductPatch):
    _require(request.auth, "change", "product")
    product = selectors.product_get(viewer=request.auth, product_id=product_id)
    product = services.product_update(
        actor=request.auth, product=product, **payload.model_dump(exclude_unset=True)
    )
    product.refresh_from_db()
    return product


# --- deals ------------------------------------------------------------------------------


def _lines(request, lines: list[LineIn]) -> list[services.LineInput]:
    return [
        services.LineInput(
            product=_reference(
                selectors.product_get,
                f"lines.{position}.product_id",
                viewer=request.auth,
                product_id=line.product_id,
            ),
            qty=line.qty,
            price=line.price,
            cost_price=line.cost_price,
            list_price=line.list_price,
        )
        for position, line in enumerate(lines)
    ]


def _deal_answer(request, deal: Deal) -> Deal:
    return selectors.deal_get(viewer=request.auth, deal_id=deal.pk)


@router.get("/deals", response={200: DealPage, **ERRORS}, tags=["deals"])
def deal_list(
    request,
    q: Query = "",
    stage: Stage | None = None,
    manager: Id | None = None,
    client: Id | None = None,
    channel: Text(32) = "",
    is_open: bool | None = None,
    has_flags: bool | None = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
    after: Cursor = "",
):
    """Deals the caller sees, newest first; ``q`` matches title, client, INN, source id or id."""
    _require(request.auth, "view", "deal")
    filters = selectors.DealFilters(
        q=q,
        stage=stage or "",
        manager_id=manager,
        client_id=client,
        channel=channel,
        is_open=is_open,
        has_flags=has_flags,
    )
    deals = selectors.deal_list(viewer=request.auth, filters=filters)
    return paginate(request, deals, limit=limit, offset=offset, after=after, ordering=DEAL_ORDERING)


@router.post("/deals", response={201: DealDetailOut, **ERRORS}, tags=["deals"])
def deal_create(request, payload: DealIn):
    """A deal with its lines and next step; an open deal without a next step is refused (409)."""
    _require(request.auth, "change", "deal")
    client = None
    if payload.client_id is not None:
        client = _reference(
            selectors.client_get, "client_id", viewer=request.auth, client_id=payload.client_id
        )
    next_step = payload.next_step
    deal = services.deal_create(
        actor=request.auth,
        client=client,
        manager=_user(payload.manager_id, "manager_id"),
        received_at=payload.received_at,
        channel=payload.channel,
        title=payload.title,
        need=payload.need,
        stage=payload.stage,
        lost_reason=payload.lost_reason,
        lines=_lines(request, payload.lines),
        next_step_title=next_step.title if next_step else "",
        next_step_due_at=next_step.due_at if next_step else None,
    )
    return Status(201, _deal_answer(request, deal))


@router.get("/deals/{deal_id}", response={200: DealDetailOut, **ERRORS}, tags=["deals"])
def deal_get(request, deal_id: Id):
    _require(request.auth, "view", "deal")
    return selectors.deal_get(viewer=request.auth, deal_id=deal_id)


@router.patch("/deals/{deal_id}", response={200: DealDetailOut, **ERRORS}, tags=["deals"])
def deal_update(request, deal_id: Id, payload: DealPatch):
    _require(request.auth, "change", "deal")
    deal = selectors.deal_get(viewer=request.auth, deal_id=deal_id)
    fields = payload.model_dump(exclude_unset=True, exclude={"client_id", "manager_id"})
    sent = payload.model_fields_set
    if "client_id" in sent:
        fields["client"] = (
            None
            if payload.client_id is None
            else _reference(
                selectors.client_get, "client_id", viewer=request.auth, client_id=payload.client_id
            )
        )
    if "manager_id" in sent:
        fields["manager"] = _user(payload.manager_id, "manager_id")
    deal = services.deal_update(actor=request.auth, deal=deal, **fields)
    return _deal_answer(request, deal)


@router.put("/deals/{deal_id}/lines", response={200: DealDetailOut, **ERRORS}, tags=["deals"])
def deal_lines_set(request, deal_id: Id, payload: LinesIn):
    """Replace all lines of the deal; totals, approvals and rules follow."""
    _require(request.auth, "change", "deal")
    deal = selectors.deal_get(viewer=request.auth, deal_id=deal_id)
    deal = services.deal_lines_set(
        actor=request.auth, deal=deal, lines=_lines(request, payload.lines)
    )
    return _deal_answer(request, deal)


@router.post("/deals/{deal_id}/stage", response={200: DealDetailOut, **ERRORS}, tags=["deals"])
def deal_stage_change(request, deal_id: Id, payload: StageIn):
    """Move the deal to a stage; the stage's rules may refuse it (409)."""
    _require(request.auth, "change", "deal")
    deal = selectors.deal_get(viewer=request.auth, deal_id=deal_id)
    deal = services.deal_stage_change(
        actor=request.auth, deal=deal, stage=payload.stage, lost_reason=payload.lost_reason
    )
    return _deal_answer(request, deal)


@router.post("/deals/{deal_id}/copy", response={201: DealDetailOut, **ERRORS}, tags=["deals"])
def deal_copy(request, deal_id: Id, payload: CopyIn):
    """A new deal for the same client with the same lines at current prices."""
    _require(request.auth, "change", "deal")
    deal = selectors.deal_get(viewer=request.auth, deal_id=deal_id)
    next_step = payload.next_step
    copy = services.deal_copy(
        actor=request.auth,
        deal=deal,
        next_step_title=next_step.title if next_step else "",
        next_step_due_at=next_step.due_at if next_step else None,
    )
    return Status(201, _deal_answer(request, copy))


# --- tasks ------------------------------------------------------------------------------


@router.get("/tasks", response={200: TaskPage, **ERRORS}, tags=["tasks"])
def task_list(
    request,
    deal: Id | None = None,
    is_open: bool | None = None,
    manager: Id | None = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
):
    """Tasks the caller sees, by due date."""
    _require(request.auth, "view", "task")
    tasks = selectors.task_list(
        viewer=request.auth, deal_id=deal, is_open=is_open, manager_id=manager
    )
    return paginate(request, tasks, limit=limit, offset=offset)


@router.post("/tasks", response={201: TaskOut, **ERRORS}, tags=["tasks"])
def task_create(request, payload: TaskIn):
    """A task; with a due date on an open deal it is the deal's next step."""
    _require(request.auth, "change", "task")
    deal = client = None
    if payload.deal_id is not None:
        deal = _reference(
            selectors.deal_get, "deal_id", viewer=request.auth, deal_id=payload.deal_id
        )
    if payload.client_id is not None:
        client = _reference(
            selectors.client_get, "client_id", viewer=request.auth, client_id=payload.client_id
        )
    manager = _user(payload.manager_id, "manager_id")
    if manager is None and deal is None:
        manager = request.auth
    task = services.task_create(
        actor=request.auth,
        title=payload.title,
        due_at=payload.due_at,
        deal=deal,
        client=client,
        manager=manager,
    )
    task.refresh_from_db()
    return Status(201, task)


@router.get("/tasks/{task_id}", response={200: TaskOut, **ERRORS}, tags=["tasks"])
def task_get(request, task_id: Id):
    _require(request.auth, "view", "task")
    return selectors.task_get(viewer=request.auth, task_id=task_id)


@router.post("/tasks/{task_id}/complete", response={200: TaskOut, **ERRORS}, tags=["tasks"])
def task_complete(request, task_id: Id, payload: TaskCompleteIn):
    """Mark the task done; completing a deal's last next step is refused (409)."""
    _require(request.auth, "change", "task")
    task = selectors.task_get(viewer=request.auth, task_id=task_id)
    task = services.task_complete(actor=request.auth, task=task, result=payload.result)
    task.refresh_from_db()
    return task
