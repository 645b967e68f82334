"""Distribution of new requests to managers, and the head's reassignment.

A new request goes first to the manager of the client it comes from (found by INN,
e-mail or phone), when that manager is at work. Otherwise the first active
``DistributionRule`` (by priority) whose channel and segment match hands it to one of
its members: in turn (the member assigned longest ago) or weighted (the member with the
smallest ``(assigned + 1) / weight``, ties to the one whose turn is oldest). Members who
have left, are absent, are off their inbound shift at that moment, or already hold
``open_requests_cap`` unprocessed requests are skipped. Every assignment, and every
failure to find somebody, is written to ``Assignment``.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.choices import Role
from vrop.accounts.models import User
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.core.policy import company_settings
from vrop.crm.choices import RequestStatus
from vrop.crm.models import Client, Contact, Request
from vrop.discipline import texts
from vrop.discipline.choices import DistributionMethod
from vrop.discipline.models import Assignment, DistributionMember, DistributionRule

SELLER_ROLES = (Role.MANAGER, Role.HEAD)


def is_at_work(user: User | None) -> bool:
    return user is not None and not user.is_dismissed and not user.is_absent


def is_on_shift(member: DistributionMember, at: datetime) -> bool:
    """The member takes inbound requests at ``at`` (company local time)."""
    local = timezone.localtime(at)
    if member.weekdays and local.weekday() not in member.weekdays:
        return False
    moment = local.time()
    if member.shift_start is not None and moment < member.shift_start:
        return False
    if member.shift_end is not None and moment >= member.shift_end:
        return False
    return True


def request_client(request: Request) -> Client | None:
    """The existing client a request comes from: by INN, then e-mail, then phone."""
    if request.client_id:
        return request.client
    live = Client.objects.filter(merged_into__isnull=True)
    if request.inn:
        found = live.filter(inn=request.inn).order_by("id").first()
        if found:
            return found
    for field in ("email", "phone"):
        value = getattr(request, field)
        if not value:
            continue
        found = live.filter(**{field: value}).order_by("id").first()
        if found:
            return found
        contact = (
            Contact.objects.filter(**{field: value}, client__merged_into__isnull=True)
            .select_related("client")
            .order_by("id")
            .first()
        )
        if contact:
            return contact.client
    return None


def _open_requests(user_ids: list[int]) -> dict[int, int]:
    rows = (
        Request.objects.filter(status=RequestStatus.NEW, manager_id__in=user_ids)
        .values("manager_id")
        .annotate(n=Count("id"))
    )
    return {row["manager_id"]: row["n"] for row in rows}


def _pick(rule: DistributionRule, members: list[DistributionMember]) -> DistributionMember:
    """In turn: the member whose last assignment by this rule is the oldest (never: first);
    weighted: the smallest (assigned + 1) / weight, ties to the one whose turn is oldest."""
    last_turn = dict(
        Assignment.objects.filter(rule=rule, manager_id__in=[m.user_id for m in members])
        .values("manager_id")
        .annotate(last=Max("id"))
        .values_list("manager_id", "last")
    )

    def turn(member):
        return (last_turn.get(member.user_id, 0), member.pk)

    if rule.method == DistributionMethod.WEIGHTED:
        return min(members, key=lambda m: ((m.assigned_count + 1) / m.weight, *turn(m)))
    return min(members, key=turn)


def _log(request, *, manager, previous, rule=None, actor=None, reason="", at) -> Assignment:
    return Assignment.objects.create(
        request=request,
        manager=manager,
        previous_manager=previous,
        rule=rule,
        actor=actor,
        reason=str(reason)[:300],
        created_at=at,
    )


def log_assignment(request: Request, *, manager: User, actor: User | None, at: datetime):
    """Log a request registered straight to a manager (their own call, an import)."""
    return _log(request, manager=manager, previous=None, actor=actor, at=at)


def _set_manager(request: Request, manager: User | None, at: datetime) -> None:
    request.manager = manager
    request.assigned_at = at if manager is not None else None
    Request.objects.filter(pk=request.pk).update(manager=manager, assigned_at=request.assigned_at)


@transaction.atomic
def request_distribute(*, request: Request, at: datetime | None = None) -> User | None:
    """Assign a new request by the rules; None when nobody can take it (it waits for
    the head in the inbox). Logged either way."""
    at = at or timezone.now()
    previous = request.manager
    client = request_client(request)
    if client is not None and is_at_work(client.manager):
        _set_manager(request, client.manager, at)
        _log(
            request,
            manager=client.manager,
            previous=previous,
            reason=texts.ASSIGNED_TO_CLIENT_MANAGER,
            at=at,
        )
        return client.manager
    segment = client.segment if client is not None else ""
    cap = company_settings().open_requests_cap
    rules = DistributionRule.objects.filter(is_active=True).filter(
        Q(channel="") | Q(channel=request.channel)
    )
    rules = rules.filter(Q(segment="") | Q(segment=segment)).order_by("priority", "id")
    for rule in rules:
        members = list(
            DistributionMember.objects.select_for_update()
            .filter(rule=rule)
            .select_related("user")
            .order_by("id")
        )
        loads = _open_requests([m.user_id for m in members])
        eligible = [
            m
            for m in members
            if is_at_work(m.user)
            and m.user.role in SELLER_ROLES
            and is_on_shift(m, at)
            and loads.get(m.user_id, 0) < cap
        ]
        if not eligible:
            continue
        chosen = _pick(rule, eligible)
        chosen.assigned_count += 1
        chosen.last_assigned_at = at
        chosen.save(update_fields=["assigned_count", "last_assigned_at"])
        _set_manager(request, chosen.user, at)
        _log(
            request,
            manager=chosen.user,
            previous=previous,
            rule=rule,
            reason=rule.get_method_display(),
            at=at,
        )
        return chosen.user
    _set_manager(request, None, at)
    _log(request, manager=None, previous=previous, reason=texts.NO_ELIGIBLE_MANAGER, at=at)
    return None


@transaction.atomic
def request_reassign(*, actor: User, request: Request, manager: User, reason: str = "") -> Request:
    """The head (or owner) gives a new request to another manager; logged."""
    if not (actor.is_superuser or actor.role in (Role.HEAD, Role.OWNER)):
        raise PermissionDenied(texts.ONLY_HEAD_REASSIGNS)
    request = Request.objects.select_for_update().get(pk=request.pk)
    if request.status != RequestStatus.NEW:
        raise ValidationError(texts.REQUEST_PROCESSED, code="processed")
    if manager is None:
        raise ValidationError(_("Choose the manager."), field="manager")
    if manager.is_dismissed:
        raise ValidationError(
            texts.MANAGER_DISMISSED % {"name": manager}, field="manager", code="dismissed"
        )
    if manager.role not in SELLER_ROLES:
        raise ValidationError(texts.NOT_A_SELLER % {"name": manager}, field="manager")
    if request.manager_id == manager.pk:
        return request
    at = timezone.now()
    previous = request.manager
    _set_manager(request, manager, at)
    note = texts.REASSIGNED_BY % {"name": actor}
    if reason:
        note = f"{note}: {reason.strip()}"
    _log(request, manager=manager, previous=previous, actor=actor, reason=note, at=at)
    return request
