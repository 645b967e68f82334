"""The head's configuration of request distribution: the rules (in turn or weighted, by
channel and segment, in order), their members (weight, inbound shift, weekdays), the cap
on open requests per manager, and who is absent.

Every write of the distribution page goes through these services: each checks that the
actor is the head or the owner, validates everything before writing, and refuses with
a Russian message that changes nothing. ``vrop.discipline.distribution`` reads what
they write when it hands out a request.
"""

from __future__ import annotations

from datetime import time

from django.db import transaction
from django.db.models import Max

from vrop.accounts.choices import Role
from vrop.accounts.models import User
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.core.models import CompanySettings
from vrop.core.policy import company_settings
from vrop.crm.choices import Channel
from vrop.discipline import texts
from vrop.discipline.choices import DistributionMethod
from vrop.discipline.distribution import SELLER_ROLES
from vrop.discipline.models import DistributionMember, DistributionRule

MAX_WEIGHT = 1000
MAX_CAP = 1000
PRIORITY_STEP = 10
WEEKDAYS = range(7)


def can_configure(user: User | None) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and (user.is_superuser or user.role in (Role.HEAD, Role.OWNER))
    )


def _check_actor(actor: User | None) -> None:
    if not can_configure(actor):
        raise PermissionDenied(texts.ONLY_HEAD_CONFIGURES)


def _rule_fields(*, name, method, channel, segment) -> dict:
    name = (name or "").strip()
    if not name:
        raise ValidationError(texts.RULE_NEEDS_NAME, field="name")
    if len(name) > DistributionRule._meta.get_field("name").max_length:
        raise ValidationError(texts.RULE_NAME_TOO_LONG, field="name")
    if method not in DistributionMethod.values:
        raise ValidationError(texts.UNKNOWN_METHOD, field="method")
    channel = channel or ""
    if channel and channel not in Channel.values:
        raise ValidationError(texts.UNKNOWN_CHANNEL, field="channel")
    segment = (segment or "").strip()
    if len(segment) > DistributionRule._meta.get_field("segment").max_length:
        raise ValidationError(texts.SEGMENT_TOO_LONG, field="segment")
    return {"name": name, "method": method, "channel": channel, "segment": segment}


@transaction.atomic
def distribution_rule_create(
    *,
    actor: User,
    name: str,
    method: str = DistributionMethod.ROUND_ROBIN,
    channel: str = "",
    segment: str = "",
    is_active: bool = True,
) -> DistributionRule:
    """A new rule, last in the order (it applies when no earlier rule matches)."""
    _check_actor(actor)
    fields = _rule_fields(name=name, method=method, channel=channel, segment=segment)
    last = DistributionRule.objects.aggregate(last=Max("priority"))["last"] or 0
    return DistributionRule.objects.create(
        **fields, is_active=bool(is_active), priority=last + PRIORITY_STEP
    )


@transaction.atomic
def distribution_rule_update(
    *,
    actor: User,
    rule: DistributionRule,
    name: str,
    method: str,
    channel: str = "",
    segment: str = "",
    is_active: bool = True,
) -> DistributionRule:
    _check_actor(actor)
    fields = _rule_fields(name=name, method=method, channel=channel, segment=segment)
    rule = DistributionRule.objects.select_for_update().get(pk=rule.pk)
    for key, value in fields.items():
        setattr(rule, key, value)
    rule.is_active = bool(is_active)
    rule.save(update_fields=[*fields, "is_active"])
    return rule


@transaction.atomic
def distribution_rule_activate(
    *, actor: User, rule: DistributionRule, is_active: bool
) -> DistributionRule:
    """Enable or disable a rule (a disabled rule keeps its members and place)."""
    _check_actor(actor)
    rule = DistributionRule.objects.select_for_update().get(pk=rule.pk)
    rule.is_active = bool(is_active)
    rule.save(update_fields=["is_active"])
    return rule


@transaction.atomic
def distribution_rule_move(*, actor: User, rule: DistributionRule, direction: str) -> list[int]:
    """Move a rule one place up or down; the rules are renumbered 10, 20, 30… in the new
    order. Returns the ids in the new order (moving the first up changes nothing)."""
    _check_actor(actor)
    if direction not in ("up", "down"):
        raise ValidationError(texts.UNKNOWN_DIRECTION, field="direction")
    rules = list(DistributionRule.objects.select_for_update().order_by("priority", "id"))
    ids = [item.pk for item in rules]
    place = ids.index(rule.pk)
    other = place - 1 if direction == "up" else place + 1
    if 0 <= other < len(ids):
        ids[place], ids[other] = ids[other], ids[place]
    by_id = {item.pk: item for item in rules}
    changed = []
    for number, pk in enumerate(ids, start=1):
        item = by_id[pk]
        if item.priority != number * PRIORITY_STEP:
            item.priority = number * PRIORITY_STEP
            changed.append(item)
    DistributionRule.objects.bulk_update(changed, ["priority"])
    return ids


def _parse_time(value, field: str) -> time | None:
    if value in (None, ""):
        return None
    if isinstance(value, time):
        return value
    try:
        hours, minutes = str(value).strip().split(":")[:2]
        return time(int(hours), int(minutes))
    except (TypeError, ValueError):
        raise ValidationError(texts.BAD_TIME, field=field) from None


def _member_fields(*, weight, shift_start, shift_end, weekdays) -> dict:
    try:
        weight = int(weight)
    except (TypeError, ValueError):
        weight = 0
    if not 1 <= weight <= MAX_WEIGHT:
        raise ValidationError(texts.BAD_WEIGHT % {"max": MAX_WEIGHT}, field="weight")
    start = _parse_time(shift_start, "shift_start")
    end = _parse_time(shift_end, "shift_end")
    if start is not None and end is not None and start >= end:
        raise ValidationError(texts.SHIFT_ORDER, field="shift_end")
    try:
        days = sorted({int(day) for day in weekdays or []})
    except (TypeError, ValueError):
        days = [-1]
    if any(day not in WEEKDAYS for day in days):
        raise ValidationError(texts.BAD_WEEKDAYS, field="weekdays")
    if len(days) == len(WEEKDAYS):
        days = []  # every day
    return {"weight": weight, "shift_start": start, "shift_end": end, "weekdays": days}


def _check_seller(user: User | None) -> None:
    if user is None:
        raise ValidationError(texts.CHOOSE_MANAGER, field="user")
    if user.is_dismissed:
        raise ValidationError(
            texts.MANAGER_DISMISSED % {"name": user}, field="user", code="dismissed"
        )
    if user.role not in SELLER_ROLES:
        raise ValidationError(texts.NOT_A_SELLER % {"name": user}, field="user")


@transaction.atomic
def distribution_member_add(
    *,
    actor: User,
    rule: DistributionRule,
    user: User | None,
    weight=1,
    shift_start=None,
    shift_end=None,
    weekdays=None,
) -> DistributionMember:
    """Add a manager to a rule; empty shift bounds mean the whole working day, no
    weekdays (or all seven) every day."""
    _check_actor(actor)
    _check_seller(user)
    fields = _member_fields(
        weight=weight, shift_start=shift_start, shift_end=shift_end, weekdays=weekdays
    )
    rule = DistributionRule.objects.select_for_update().get(pk=rule.pk)
    if DistributionMember.objects.filter(rule=rule, user=user).exists():
        raise ValidationError(texts.ALREADY_MEMBER % {"name": user}, field="user")
    return DistributionMember.objects.create(rule=rule, user=user, **fields)


@transaction.atomic
def distribution_member_update(
    *,
    actor: User,
    member: DistributionMember,
    weight,
    shift_start=None,
    shift_end=None,
    weekdays=None,
) -> DistributionMember:
    _check_actor(actor)
    fields = _member_fields(
        weight=weight, shift_start=shift_start, shift_end=shift_end, weekdays=weekdays
    )
    member = DistributionMember.objects.select_for_update().get(pk=member.pk)
    for key, value in fields.items():
        setattr(member, key, value)
    member.save(update_fields=list(fields))
    return member


@transaction.atomic
def distribution_member_remove(*, actor: User, member: DistributionMember) -> None:
    """Take a manager out of a rule (the assignment log keeps their past turns)."""
    _check_actor(actor)
    DistributionMember.objects.filter(pk=member.pk).delete()


@transaction.atomic
def distribution_cap_set(*, actor: User, cap) -> CompanySettings:
    """The most unprocessed requests a manager may hold before the rules skip them."""
    _check_actor(actor)
    try:
        cap = int(cap)
    except (TypeError, ValueError):
        cap = 0
    if not 1 <= cap <= MAX_CAP:
        raise ValidationError(texts.BAD_CAP % {"max": MAX_CAP}, field="cap")
    policy = company_settings()
    policy.open_requests_cap = cap
    policy.save(update_fields=["open_requests_cap"])
    return policy


@transaction.atomic
def manager_absence_set(*, actor: User, user: User | None, is_absent: bool) -> User:
    """Mark a manager absent (vacation, sick leave: the rules skip them) or back."""
    _check_actor(actor)
    _check_seller(user)
    user = User.objects.select_for_update().get(pk=user.pk)
    user.is_absent = bool(is_absent)
    user.save(update_fields=["is_absent"])
    return user
