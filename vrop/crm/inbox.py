"""The inbox of requests: every write on ``Request``.

Every incoming request — typed in by hand, posted by a website form, created by an
import or a sync — is registered here with its channel and the moment it arrived, is
distributed to a manager (``vrop.discipline.distribution``), and waits in the inbox
until it is accepted (a deal), linked to an existing client or deal, or declined with a
reason. Services are keyword-only and run in one transaction; a refusal changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.core.errors import NotFound, PermissionDenied, ValidationError
from vrop.core.validators import clean_inn
from vrop.crm.choices import ActivityKind, Channel, RequestStatus
from vrop.crm.models import Client, Deal, Request
from vrop.discipline import texts

FUTURE_TOLERANCE = timedelta(minutes=5)


def _require(actor: User | None, action: str = "change") -> None:
    if actor is not None and not can(actor, action, "request"):
        raise PermissionDenied(texts.FORBIDDEN)


def _locked(actor: User | None, request: Request) -> Request:
    """The request, locked, if the actor may see it; refuses processed ones."""
    requests = Request.objects.select_for_update()
    if actor is not None:
        visible = Request.objects.visible_to(actor).filter(pk=request.pk)
        requests = requests.filter(pk__in=visible.values("pk"))
    locked = requests.filter(pk=request.pk).first()
    if locked is None:
        raise NotFound(texts.NO_SUCH_REQUEST)
    if locked.status != RequestStatus.NEW:
        raise ValidationError(texts.REQUEST_PROCESSED, code="processed")
    return locked


def _text(value, limit: int) -> str:
    return (value or "").strip()[:limit]


@transaction.atomic
def request_register(
    *,
    actor: User | None,
    channel: str = Channel.OTHER,
    received_at: datetime | None = None,
    contact_name: str = "",
    company_name: str = "",
    inn: str = "",
    phone: str = "",
    email: str = "",
    text: str = "",
    manager: User | None = None,
    source: str = "",
    external_id: str = "",
    extra: dict | None = None,
    distribute: bool = True,
) -> Request:
    """Register an incoming request and give it to a manager.

    ``manager`` set (a manager typing in their own call, or an import that knows the
    manager) skips the distribution. Importing the same ``source``/``external_id`` again
    returns the request already registered and changes nothing.
    """
    _require(actor)
    if external_id:
        existing = Request.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return existing
    now = timezone.now()
    received_at = received_at or now
    if received_at > now + FUTURE_TOLERANCE:
        raise ValidationError(texts.REQUEST_IN_FUTURE, field="received_at")
    values = {
        "contact_name": _text(contact_name, 200),
        "company_name": _text(company_name, 300),
        "phone": _text(phone, 50),
        "email": _text(email, 254),
        "text": (text or "").strip(),
    }
    if not (values["phone"] or values["email"] or values["text"]):
        raise ValidationError(texts.REQUEST_NEEDS_CONTACT, field="phone")
    channel = (channel or Channel.OTHER).strip()[:32] or Channel.OTHER
    if manager is None and actor is not None and actor.is_manager:
        manager = actor
    if manager is not None and manager.is_dismissed:
        raise ValidationError(
            texts.MANAGER_DISMISSED % {"name": manager}, field="manager", code="dismissed"
        )
    request = Request.objects.create(
        channel=channel,
        received_at=received_at,
        inn=clean_inn(inn) if inn else "",
        source=source,
        external_id=external_id,
        extra=extra or {},
        manager=manager,
        assigned_at=now if manager is not None else None,
        **values,
    )
    from vrop.discipline import distribution

    if manager is not None:
        distribution.log_assignment(request, manager=manager, actor=actor, at=now)
    elif distribute:
        distribution.request_distribute(request=request, at=now)
    return request


@transaction.atomic
def request_accept(
    *,
    actor: User | None,
    request: Request,
    next_step_due_at: datetime | None,
    next_step_title: str = "",
    client: Client | None = None,
    title: str = "",
    need: str = "",
) -> Deal:
    """Accept a request as a deal (for its client, found or created), with a next step."""
    from vrop.crm import services

    _require(actor)
    request = _locked(actor, request)
    if next_step_due_at is None:
        raise ValidationError(texts.NEXT_STEP_NEEDS_DATE, field="next_step_due_at")
    if next_step_due_at < timezone.now() - FUTURE_TOLERANCE:
        raise ValidationError(texts.NEXT_STEP_IN_PAST, field="next_step_due_at")
    manager = request.manager
    if manager is None and actor is not None and actor.is_manager:
        manager = actor
    if client is None:
        from vrop.discipline.distribution import request_client

        client = request_client(request)
    if client is None:
        contacts = []
        if request.contact_name:
            contacts.append(
                {"name": request.contact_name, "phone": request.phone, "email": request.email}
            )
        client = services.client_create(
            actor=None,
            name=request.company_name
            or request.contact_name
            or str(texts.CLIENT_FROM_REQUEST % {"id": request.pk}),
            inn=request.inn,
            phone=request.phone,
            email=request.email,
            manager=manager,
            contacts=contacts,
        )
    deal = services.deal_create(
        actor=actor,
        client=client,
        manager=manager,
        received_at=request.received_at,
        channel=request.channel,
        title=title,
        need=need or request.text,
        next_step_title=next_step_title or str(texts.NEXT_STEP_DEFAULT_TITLE),
        next_step_due_at=next_step_due_at,
    )
    Request.objects.filter(pk=request.pk).update(
        status=RequestStatus.ACCEPTED,
        client=client,
        deal=deal,
        manager=deal.manager,
        processed_at=timezone.now(),
    )
    return deal


@transaction.atomic
def request_link(
    *,
    actor: User | None,
    request: Request,
    client: Client | None = None,
    deal: Deal | None = None,
) -> Request:
    """Link a request to an existing client or deal (a repeat call, a duplicate)."""
    from vrop.crm import services

    _require(actor)
    request = _locked(actor, request)
    if client is None and deal is None:
        raise ValidationError(texts.LINK_NEEDS_TARGET, field="deal")
    if deal is not None:
        if actor is not None and not Deal.objects.visible_to(actor).filter(pk=deal.pk).exists():
            raise ValidationError(texts.NO_SUCH_DEAL, field="deal")
        client = deal.client
    elif actor is not None and not Client.objects.visible_to(actor).filter(pk=client.pk).exists():
        raise ValidationError(texts.NO_SUCH_DEAL, field="client")
    now = timezone.now()
    Request.objects.filter(pk=request.pk).update(
        status=RequestStatus.LINKED, client=client, deal=deal, processed_at=now
    )
    if deal is not None:
        services.activity_create(
            actor=None,
            kind=ActivityKind.NOTE,
            deal=deal,
            user=actor,
            occurred_at=now,
            subject=str(texts.REQUEST_LINKED_NOTE % {"id": request.pk, "text": request.text[:200]})[
                :300
            ],
            body=request.text,
        )
    request.refresh_from_db()
    return request


@transaction.atomic
def request_decline(*, actor: User | None, request: Request, reason: str) -> Request:
    """Decline a request (spam, not our product, a duplicate); the reason is required."""
    _require(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(texts.DECLINE_NEEDS_REASON, field="reason")
    request = _locked(actor, request)
    Request.objects.filter(pk=request.pk).update(
        status=RequestStatus.DECLINED, decline_reason=reason[:300], processed_at=timezone.now()
    )
    request.refresh_from_db()
    return request


@transaction.atomic
def request_assign(*, actor: User | None, request: Request) -> Request:
    """Run the distribution again for a request that waits without a manager."""
    from vrop.discipline import distribution

    _require(actor)
    request = _locked(actor, request)
    distribution.request_distribute(request=request)
    request.refresh_from_db()
    return request


def request_reassign(
    *, actor: User, request: Request, manager: User | None, reason: str = ""
) -> Request:
    """The head gives a request to another manager (not to one who has left)."""
    from vrop.discipline import distribution

    _require(actor)
    return distribution.request_reassign(
        actor=actor, request=request, manager=manager, reason=reason
    )
