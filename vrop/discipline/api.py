"""API of the discipline area (``/api/v1/``): the inbox of requests (with the public
website form endpoint), stalled deals, Today, the control board, request SLA, alerts,
snoozes and next steps. Endpoints parse, call one selector or service, and shape the
answer; reads take the caller as the viewer, writes as the actor."""

from __future__ import annotations

from datetime import date, datetime

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.core.api_utils import (
    DEFAULT_PAGE_SIZE,
    Day,
    Email,
    ErrorOut,
    Id,
    Limit,
    Moment,
    MoneyOut,
    Offset,
    PercentOut,
    Text,
    paginate,
)
from vrop.core.errors import NotFound, PermissionDenied, ServiceError, ValidationError
from vrop.crm import inbox
from vrop.crm.choices import Channel, RequestStatus
from vrop.crm.models import Client, Deal, Request
from vrop.discipline import selectors, services, texts
from vrop.discipline.choices import AlertKind, Level
from vrop.discipline.models import WebForm

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
FORM_RATE_LIMIT = 10  # requests per minute from one address to one form
LongText = Text(5000)


class TooManyRequests(ServiceError):
    code = "rate_limited"
    status = 429


def _require(user, action: str, kind: str) -> None:
    if not can(user, action, kind):
        raise PermissionDenied(texts.FORBIDDEN)


def _require_boss(user) -> None:
    if not (user.is_superuser or user.role in ("head", "owner")):
        raise PermissionDenied(texts.FORBIDDEN)


def _request(user, request_id: int) -> Request:
    return selectors.request_get(viewer=user, request_id=request_id)


def _deal(user, deal_id: int) -> Deal:
    deal = Deal.objects.visible_to(user).filter(pk=deal_id).first()
    if deal is None:
        raise NotFound(texts.NO_SUCH_DEAL)
    return deal


# --- schemas ----------------------------------------------------------------------------


class RequestOut(Schema):
    id: int
    channel: str
    received_at: datetime
    status: str
    contact_name: str
    company_name: str
    inn: str
    phone: str
    email: str
    text: str
    manager_id: int | None
    assigned_at: datetime | None
    client_id: int | None
    deal_id: int | None
    decline_reason: str
    processed_at: datetime | None
    source: str
    external_id: str


class RequestPage(Schema):
    items: list[RequestOut]
    next: str | None


class RequestIn(Schema):
    channel: Channel = Channel.PHONE
    received_at: Moment | None = Field(None, description="empty: now")
    contact_name: Text(200) = ""
    company_name: Text(300) = ""
    inn: Text(12) = ""
    phone: Text(50) = ""
    email: Email = ""
    text: LongText = ""
    manager_id: Id | None = Field(None, description="empty: distributed by the rules")
    source: Text(32) = ""
    external_id: Text(128) = ""


class FormIn(Schema):
    name: Text(200) = ""
    company: Text(300) = ""
    inn: Text(12) = ""
    phone: Text(50) = ""
    email: Email = ""
    text: LongText = ""


class FormOut(Schema):
    id: int
    received_at: datetime


class AcceptIn(Schema):
    next_step_due_at: Moment | None = None
    next_step_title: Text(300) = ""
    title: Text(300) = ""
    client_id: Id | None = None


class AcceptOut(Schema):
    request: RequestOut
    deal_id: int


class LinkIn(Schema):
    deal_id: Id | None = None
    client_id: Id | None = None


class DeclineIn(Schema):
    reason: Text(300) = ""


class ReassignIn(Schema):
    manager_id: Id
    reason: Text(200) = ""


class StalledDealOut(Schema):
    id: int
    title: str
    client_id: int | None
    client_name: str
    manager_id: int | None
    stage: str
    amount: MoneyOut
    next_step_at: datetime | None
    last_activity_at: datetime | None
    stage_changed_at: datetime
    received_at: datetime
    reasons: list[str]


class StalledOut(Schema):
    at: datetime
    count: int
    amount: MoneyOut
    items: list[StalledDealOut]
    next: str | None


class TaskContextOut(Schema):
    id: int
    title: str
    due_at: datetime | None
    deal_id: int | None
    deal_title: str
    client_name: str
    need: str
    last_contact_at: datetime | None
    amount: MoneyOut | None
    margin_pct: PercentOut


class TodayOut(Schema):
    at: datetime
    person_id: int
    overdue: list[TaskContextOut]
    today: list[TaskContextOut]
    requests: list[RequestOut]
    stalled: list[StalledDealOut]
    stalled_count: int
    overdue_count: int
    today_count: int


class BoardRowOut(Schema):
    manager_id: int | None
    manager_name: str
    stalled_count: int
    stalled_amount: MoneyOut
    overdue_tasks: int
    sla_breaches_today: int
    sla_breaches_week: int
    unprocessed_requests: int
    without_next_step: int


class BoardOut(Schema):
    at: datetime
    rows: list[BoardRowOut]


class SlaMeasureOut(Schema):
    measured: int
    within_sla: int
    pending_breached: int
    breached: int
    median_minutes: int | None
    p90_minutes: int | None
    share_within_pct: PercentOut


class SlaOut(Schema):
    date_from: date
    date_to: date
    sla_first_contact_minutes: int
    sla_quote_minutes: int
    first_contact: SlaMeasureOut
    quote: SlaMeasureOut
    requests_on_time_pct: PercentOut


class AlertOut(Schema):
    id: int
    kind: str
    severity: str
    level: str
    deal_id: int | None
    request_id: int | None
    manager_id: int | None
    first_seen_at: datetime
    escalated_at: datetime | None
    resolved_at: datetime | None

    @staticmethod
    def resolve_level(obj) -> str:
        return Level(obj.level).name.lower()


class AlertPage(Schema):
    items: list[AlertOut]
    next: str | None


class SnoozeIn(Schema):
    reason: Text(300) = ""
    resume_on: Day | None = None


class SnoozeOut(Schema):
    id: int
    deal_id: int
    reason: str
    resume_on: date
    resume_at: datetime


class NextStepIn(Schema):
    title: Text(300) = ""
    due_at: Moment | None = None


class TaskOut(Schema):
    id: int
    deal_id: int | None
    title: str
    due_at: datetime | None
    manager_id: int | None


def _stalled_out(deal) -> dict:
    return {
        "id": deal.pk,
        "title": deal.title,
        "client_id": deal.client_id,
        "client_name": deal.client.name if deal.client_id else "",
        "manager_id": deal.manager_id,
        "stage": deal.stage,
        "amount": deal.amount,
        "next_step_at": deal.next_step_at,
        "last_activity_at": deal.last_activity_at,
        "stage_changed_at": deal.stage_changed_at,
        "received_at": deal.received_at,
        "reasons": [code for code, _text in getattr(deal, "stalled_reasons", [])],
    }


def _task_out(task) -> dict:
    deal = task.deal
    return {
        "id": task.pk,
        "title": task.title,
        "due_at": task.due_at,
        "deal_id": task.deal_id,
        "deal_title": deal.title if deal else "",
        "client_name": (deal.client.name if deal and deal.client_id else "")
        or (task.client.name if task.client_id else ""),
        "need": deal.need if deal else "",
        "last_contact_at": deal.last_activity_at if deal else None,
        "amount": deal.amount if deal else None,
        "margin_pct": deal.margin_pct if deal else None,
    }


# --- the inbox --------------------------------------------------------------------------


@router.get("/requests", response={200: RequestPage, **ERRORS}, tags=["requests"])
def request_list(
    request,
    status: RequestStatus | None = RequestStatus.NEW,
    manager: Id | None = None,
    unassigned: bool = False,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
):
    """Requests the caller sees, oldest first (default: those waiting in the inbox)."""
    _require(request.auth, "view", "request")
    requests = selectors.request_list(
        viewer=request.auth, status=status or "", manager_id=manager, unassigned=unassigned
    )
    return paginate(request, requests, limit=limit, offset=offset)


@router.post("/requests", response={201: RequestOut, **ERRORS}, tags=["requests"])
def request_register(request, payload: RequestIn):
    """Register a request (by hand, or from another system with ``source``/``external_id``:
    the same pair again returns the request already registered)."""
    _require(request.auth, "change", "request")
    manager = None
    if payload.manager_id is not None:
        manager = User.objects.filter(pk=payload.manager_id).first()
        if manager is None:
            raise ValidationError(_("No such user."), field="manager_id")
    item = inbox.request_register(
        actor=request.auth,
        channel=payload.channel,
        received_at=payload.received_at,
        contact_name=payload.contact_name,
        company_name=payload.company_name,
        inn=payload.inn,
        phone=payload.phone,
        email=payload.email,
        text=payload.text,
        manager=manager,
        source=payload.source,
        external_id=payload.external_id,
    )
    return Status(201, _request(request.auth, item.pk))


@router.post(
    "/requests/form/{key}",
    response={201: FormOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    auth=None,
    tags=["requests"],
)
def request_from_website(request, key: Text(64), payload: FormIn):
    """The public endpoint of a website form (no login): the form's key is its secret.
    An unknown key is 404 and writes nothing; one address may post 10 times a minute."""
    form = WebForm.objects.filter(key=key, is_active=True).first()
    if form is None:
        raise NotFound(texts.UNKNOWN_FORM, code="unknown_form")
    address = request.META.get("REMOTE_ADDR", "")
    bucket = f"vrop:webform:{form.pk}:{address}:{timezone.now():%Y%m%d%H%M}"
    cache.add(bucket, 0, timeout=120)
    if cache.incr(bucket) > FORM_RATE_LIMIT:
        raise TooManyRequests(texts.TOO_MANY_REQUESTS)
    if not (payload.phone.strip() or payload.email.strip()):
        raise ValidationError(texts.REQUEST_NEEDS_CONTACT, field="phone")
    item = inbox.request_register(
        actor=None,
        channel=form.channel,
        contact_name=payload.name,
        company_name=payload.company,
        inn=payload.inn,
        phone=payload.phone,
        email=payload.email,
        text=payload.text,
        source="webform",
        extra={"form": form.name},
    )
    return Status(201, {"id": item.pk, "received_at": item.received_at})


@router.get("/requests/{request_id}", response={200: RequestOut, **ERRORS}, tags=["requests"])
def request_get(request, request_id: Id):
    _require(request.auth, "view", "request")
    return _request(request.auth, request_id)


@router.post(
    "/requests/{request_id}/accept", response={201: AcceptOut, **ERRORS}, tags=["requests"]
)
def request_accept(request, request_id: Id, payload: AcceptIn):
    """Accept the request as a deal with its next step (a date, not in the past)."""
    _require(request.auth, "change", "request")
    item = _request(request.auth, request_id)
    client = None
    if payload.client_id is not None:
        client = Client.objects.visible_to(request.auth).filter(pk=payload.client_id).first()
        if client is None:
            raise ValidationError(_("No such client."), field="client_id")
    deal = inbox.request_accept(
        actor=request.auth,
        request=item,
        client=client,
        title=payload.title,
        next_step_title=payload.next_step_title,
        next_step_due_at=payload.next_step_due_at,
    )
    return Status(201, {"request": _request(request.auth, item.pk), "deal_id": deal.pk})


@router.post("/requests/{request_id}/link", response={200: RequestOut, **ERRORS}, tags=["requests"])
def request_link(request, request_id: Id, payload: LinkIn):
    _require(request.auth, "change", "request")
    item = _request(request.auth, request_id)
    deal = client = None
    if payload.deal_id is not None:
        deal = Deal.objects.visible_to(request.auth).filter(pk=payload.deal_id).first()
        if deal is None:
            raise ValidationError(texts.NO_SUCH_DEAL, field="deal_id")
    if payload.client_id is not None:
        client = Client.objects.visible_to(request.auth).filter(pk=payload.client_id).first()
        if client is None:
            raise ValidationError(_("No such client."), field="client_id")
    inbox.request_link(actor=request.auth, request=item, deal=deal, client=client)
    return _request(request.auth, item.pk)


@router.post(
    "/requests/{request_id}/decline", response={200: RequestOut, **ERRORS}, tags=["requests"]
)
def request_decline(request, request_id: Id, payload: DeclineIn):
    _require(request.auth, "change", "request")
    item = _request(request.auth, request_id)
    inbox.request_decline(actor=request.auth, request=item, reason=payload.reason)
    return _request(request.auth, item.pk)


@router.post(
    "/requests/{request_id}/reassign", response={200: RequestOut, **ERRORS}, tags=["requests"]
)
def request_reassign(request, request_id: Id, payload: ReassignIn):
    """The head gives the request to another manager (logged)."""
    _require(request.auth, "change", "request")
    item = _request(request.auth, request_id)
    manager = User.objects.filter(pk=payload.manager_id).first()
    if manager is None:
        raise ValidationError(_("No such user."), field="manager_id")
    inbox.request_reassign(actor=request.auth, request=item, manager=manager, reason=payload.reason)
    return _request(request.auth, item.pk)


@router.post(
    "/requests/{request_id}/assign", response={200: RequestOut, **ERRORS}, tags=["requests"]
)
def request_assign(request, request_id: Id):
    """Run the distribution rules again for this request."""
    _require(request.auth, "change", "request")
    item = _request(request.auth, request_id)
    inbox.request_assign(actor=request.auth, request=item)
    return _request(request.auth, item.pk)


# --- stalled deals, Today, the board, SLA ------------------------------------------------


@router.get("/deals/stalled", response={200: StalledOut, **ERRORS}, tags=["discipline"])
def deals_stalled(
    request,
    at: Moment | None = None,
    manager: Id | None = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
):
    """Stalled deals (DESIGN.md) at ``at`` (default now): count, amount, and the deals,
    largest first, with the reasons."""
    _require(request.auth, "view", "deal")
    result = selectors.stalled_deals(viewer=request.auth, at=at, manager_id=manager)
    page = paginate(request, result.deals, limit=limit, offset=offset)
    items = selectors.with_reasons(page["items"], result.cutoffs)
    return {
        "at": result.at,
        "count": result.count,
        "amount": result.amount,
        "items": [_stalled_out(deal) for deal in items],
        "next": page["next"],
    }


@router.get("/today", response={200: TodayOut, **ERRORS}, tags=["discipline"])
def today(request, manager: Id | None = None):
    """The caller's day (the head may ask for a manager's): overdue tasks first, then
    today's, requests waiting, stalled deals."""
    _require(request.auth, "view", "task")
    person = request.auth
    if manager is not None and manager != request.auth.pk:
        _require_boss(request.auth)
        person = User.objects.filter(pk=manager).first()
        if person is None:
            raise NotFound(_("No such user."))
    day = selectors.today(viewer=request.auth, person=person)
    return {
        "at": day.at,
        "person_id": person.pk,
        "overdue": [_task_out(task) for task in day.overdue],
        "today": [_task_out(task) for task in day.today],
        "requests": day.requests,
        "stalled": [_stalled_out(deal) for deal in day.stalled],
        "stalled_count": day.stalled_count,
        "overdue_count": day.overdue_count,
        "today_count": day.today_count,
    }


@router.get("/board", response={200: BoardOut, **ERRORS}, tags=["discipline"])
def board(request):
    """The control board: per manager, who is behind on what."""
    _require_boss(request.auth)
    data = selectors.board(viewer=request.auth)
    return {
        "at": data.at,
        "rows": [
            {
                "manager_id": row.manager_id,
                "manager_name": str(row.manager or ""),
                "stalled_count": row.stalled_count,
                "stalled_amount": row.stalled_amount,
                "overdue_tasks": row.overdue_tasks,
                "sla_breaches_today": row.sla_breaches_today,
                "sla_breaches_week": row.sla_breaches_week,
                "unprocessed_requests": row.unprocessed_requests,
                "without_next_step": row.without_next_step,
            }
            for row in data.rows
        ],
    }


@router.get("/sla", response={200: SlaOut, **ERRORS}, tags=["discipline"])
def sla(
    request,
    date_from: Day = Query(..., alias="from"),  # noqa: B008 - ninja parameter
    date_to: Day = Query(..., alias="to"),  # noqa: B008 - ninja parameter
    manager: Id | None = None,
):
    """Request processing speed for requests that arrived in the period."""
    _require(request.auth, "view", "deal")
    if date_to < date_from:
        raise ValidationError(_("The period ends before it starts."), field="to")
    return selectors.sla_stats(
        viewer=request.auth, date_from=date_from, date_to=date_to, manager_id=manager
    )


# --- alerts, snoozes, next steps --------------------------------------------------------


@router.get("/alerts", response={200: AlertPage, **ERRORS}, tags=["discipline"])
def alert_list(
    request,
    kind: AlertKind | None = None,
    is_open: bool | None = True,
    manager: Id | None = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
):
    """Alerts the caller sees, newest first (default: the open ones)."""
    _require(request.auth, "view", "alert")
    alerts = selectors.alert_list(
        viewer=request.auth, kind=kind or "", is_open=is_open, manager_id=manager
    )
    return paginate(request, alerts, limit=limit, offset=offset)


@router.post("/deals/{deal_id}/snooze", response={201: SnoozeOut, **ERRORS}, tags=["discipline"])
def deal_snooze(request, deal_id: Id, payload: SnoozeIn):
    """The deal waits for a reason until a date: not stalled until then."""
    _require(request.auth, "change", "deal")
    snooze = services.deal_snooze(
        actor=request.auth,
        deal=_deal(request.auth, deal_id),
        reason=payload.reason,
        resume_on=payload.resume_on,
    )
    return Status(201, snooze)


@router.delete("/deals/{deal_id}/snooze", response={204: None, **ERRORS}, tags=["discipline"])
def deal_snooze_end(request, deal_id: Id):
    _require(request.auth, "change", "deal")
    services.deal_snooze_end(actor=request.auth, deal=_deal(request.auth, deal_id))
    return Status(204, None)


@router.post("/deals/{deal_id}/next-step", response={201: TaskOut, **ERRORS}, tags=["discipline"])
def deal_next_step(request, deal_id: Id, payload: NextStepIn):
    """Give the deal its next step: a task with a date, not in the past."""
    _require(request.auth, "change", "task")
    task = services.next_step_set(
        actor=request.auth,
        deal=_deal(request.auth, deal_id),
        title=payload.title,
        due_at=payload.due_at,
    )
    return Status(201, task)
