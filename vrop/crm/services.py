"""Every write on clients, products, deals, lines, stages, tasks, activities and requests.

Services are keyword-only, run in one transaction, write stage history themselves and
call ``rulebook.check`` before they return, so that a rule registered for an event holds
on every path: web, API, admin, import, sync, Telegram, copy and background tasks.
``mode=FLAG`` is for imports and syncs from another CRM: rules flag, they do not refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connections, transaction
from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    Min,
    ProtectedError,
    RestrictedError,
    Sum,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.accounts.visibility import can
from vrop.core import rulebook
from vrop.core.errors import PermissionDenied, RuleViolation, ValidationError
from vrop.core.money import ZERO, to_decimal
from vrop.core.rulebook import ENFORCE, FLAG, Violation
from vrop.core.validators import clean_inn
from vrop.crm.choices import (
    OPEN_STAGES,
    REACHED,
    ActivityKind,
    Channel,
    Stage,
    Unit,
    reached_sql,
)
from vrop.crm.models import Activity, Client, Contact, Deal, DealLine, Product, StageChange, Task

CLIENT_FIELDS = {
    "name",
    "inn",
    "kpp",
    "segment",
    "manager",
    "phone",
    "email",
    "city",
    "payment_terms_days",
    "credit_limit",
}
PRODUCT_FIELDS = {"name", "category", "unit", "cost_price", "list_price", "stock_qty", "is_active"}
DEAL_FIELDS = {"title", "client", "manager", "channel", "received_at", "need", "promised_date"}


@dataclass
class LineInput:
    product: Product
    qty: Decimal
    price: Decimal | None = None
    cost_price: Decimal | None = None
    list_price: Decimal | None = None


def _require(actor: User | None, action: str, kind: str) -> None:
    if actor is not None and not can(actor, action, kind):
        raise PermissionDenied(_("You may not do this."))


def _store_flags(obj, violations: list[Violation], *, prefix: str = "") -> None:
    flags = (
        {k: v for k, v in (obj.flags or {}).items() if not k.startswith(prefix)}
        if prefix
        else dict(obj.flags or {})
    )
    for violation in violations:
        flags[violation.code] = violation.message
    if flags != (obj.flags or {}):
        obj.flags = flags
        type(obj).objects.filter(pk=obj.pk).update(flags=flags)


# --- clients ----------------------------------------------------------------------------


def _clean_client_fields(fields: dict) -> dict:
    cleaned = dict(fields)
    if "name" in cleaned:
        cleaned["name"] = (cleaned["name"] or "").strip()
        if not cleaned["name"]:
            raise ValidationError(_("The client needs a name."), field="name")
    if "inn" in cleaned:
        cleaned["inn"] = clean_inn(cleaned["inn"])
    if "payment_terms_days" in cleaned:
        try:
            days = int(cleaned["payment_terms_days"] or 0)
        except (TypeError, ValueError):
            raise ValidationError(
                _("Payment terms must be a whole number of days."), field="payment_terms_days"
            )
        if days < 0 or days > 365:
            raise ValidationError(
                _("Payment terms must be between 0 and 365 days."), field="payment_terms_days"
            )
        cleaned["payment_terms_days"] = days
    if "credit_limit" in cleaned:
        limit = to_decimal(cleaned["credit_limit"], field="credit_limit")
        if limit < 0:
            raise ValidationError(_("The credit limit cannot be negative."), field="credit_limit")
        cleaned["credit_limit"] = limit
    manager = cleaned.get("manager")
    if manager is not None and manager.is_dismissed:
        raise ValidationError(
            _("%(name)s has left the company.") % {"name": manager}, field="manager"
        )
    return cleaned


def _client_manager_allowed(actor, manager, *, current) -> None:
    """A manager's clients are their own: only the head and owner give a client to someone
    else (on every path: the web form, the API, imports run without an actor)."""
    if actor is None or not actor.is_manager or manager == current:
        return
    if manager != actor:
        raise PermissionDenied(_("Only the head reassigns clients."))


@transaction.atomic
def client_create(
    *,
    actor: User | None,
    name: str,
    source: str = "",
    external_id: str = "",
    extra: dict | None = None,
    contacts: list[dict] | None = None,
    **fields,
) -> Client:
    _require(actor, "change", "client")
    unknown = set(fields) - CLIENT_FIELDS
    if unknown:
        raise ValidationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    cleaned = _clean_client_fields({"name": name, **fields})
    if actor is not None and actor.is_manager and cleaned.get("manager") is None:
        cleaned["manager"] = actor
    _client_manager_allowed(actor, cleaned.get("manager"), current=None)
    client = Client.objects.create(
        source=source, external_id=external_id, extra=extra or {}, **cleaned
    )
    for contact in contacts or []:
        contact_add(actor=None, client=client, **contact)
    rulebook.check("client.save", client, actor=actor, context={"created": True})
    return client


@transaction.atomic
def client_update(*, actor: User | None, client: Client, **fields) -> Client:
    _require(actor, "change", "client")
    unknown = set(fields) - CLIENT_FIELDS - {"extra"}
    if unknown:
        raise ValidationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    cleaned = _clean_client_fields(fields)
    if "manager" in cleaned:
        _client_manager_allowed(actor, cleaned["manager"], current=client.manager)
    for name, value in cleaned.items():
        setattr(client, name, value)
    client.save()
    rulebook.check("client.save", client, actor=actor)
    return client


def contact_add(
    *,
    actor: User | None,
    client: Client,
    name: str,
    phone: str = "",
    email: str = "",
    position: str = "",
) -> Contact:
    if not (name or "").strip():
        raise ValidationError(_("The contact needs a name."), field="name")
    return Contact.objects.create(
        client=client,
        name=name.strip(),
        phone=phone or "",
        email=email or "",
        position=position or "",
    )


@transaction.atomic
def client_delete(*, actor: User | None, client: Client) -> None:
    """Delete a client that has no deals; its contacts, tasks and activities go with it.

    A client with deals (or documents that refer to it) is kept: merge duplicates instead.
    """
    _require(actor, "change", "client")
    if Deal.objects.filter(client=client).exists():
        raise RuleViolation(
            _("The client has deals and cannot be deleted."), code="client_has_deals"
        )
    try:
        with transaction.atomic():
            client.delete()
    except (ProtectedError, RestrictedError):
        raise RuleViolation(
            _("Documents refer to the client, so it cannot be deleted."), code="client_in_use"
        )


# --- products ---------------------------------------------------------------------------


def _clean_product_fields(fields: dict) -> dict:
    cleaned = dict(fields)
    if "name" in cleaned:
        cleaned["name"] = (cleaned["name"] or "").strip()
        if not cleaned["name"]:
            raise ValidationError(_("The product needs a name."), field="name")
    if "unit" in cleaned and cleaned["unit"] not in Unit.values:
        raise ValidationError(
            _("Unknown unit “%(unit)s”.") % {"unit": cleaned["unit"]}, field="unit"
        )
    for money_field in ("cost_price", "list_price"):
        if money_field in cleaned:
            value = to_decimal(cleaned[money_field], field=money_field)
            if value < 0:
                raise ValidationError(_("A price cannot be negative."), field=money_field)
            cleaned[money_field] = value
    if "stock_qty" in cleaned:
        cleaned["stock_qty"] = to_decimal(cleaned["stock_qty"], field="stock_qty")
    return cleaned


@transaction.atomic
def product_create(
    *,
    actor: User | None,
    name: str,
    source: str = "",
    external_id: str = "",
    extra: dict | None = None,
    **fields,
) -> Product:
    _require(actor, "change", "product")
    unknown = set(fields) - PRODUCT_FIELDS
    if unknown:
        raise ValidationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    cleaned = _clean_product_fields({"name": name, **fields})
    return Product.objects.create(
        source=source, external_id=external_id, extra=extra or {}, **cleaned
    )


@transaction.atomic
def product_update(*, actor: User | None, product: Product, **fields) -> Product:
    _require(actor, "change", "product")
    unknown = set(fields) - PRODUCT_FIELDS - {"extra"}
    if unknown:
        raise ValidationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    for name, value in _clean_product_fields(fields).items():
        setattr(product, name, value)
    product.save()
    return product


# --- deals ------------------------------------------------------------------------------


def _line_values(line: LineInput) -> dict:
    qty = to_decimal(line.qty, field="qty")
    if qty <= 0:
        raise ValidationError(_("Quantity must be greater than zero."), field="qty")
    product = line.product
    price = product.list_price if line.price is None else to_decimal(line.price, field="price")
    cost = (
        product.cost_price
        if line.cost_price is None
        else to_decimal(line.cost_price, field="cost_price")
    )
    list_price = (
        product.list_price
        if line.list_price is None
        else to_decimal(line.list_price, field="list_price")
    )
    if price < 0 or cost < 0 or list_price < 0:
        raise ValidationError(_("A price cannot be negative."), field="price")
    return {
        "product": product,
        "qty": qty,
        "price": price,
        "cost_price": cost,
        "list_price": list_price,
    }


def deal_recalculate(deal: Deal) -> Deal:
    """Refresh the deal's totals from its lines (kept as they are when it has none)."""
    amount_expr = ExpressionWrapper(F("qty") * F("price"), output_field=DecimalField())
    cost_expr = ExpressionWrapper(F("qty") * F("cost_price"), output_field=DecimalField())
    list_expr = ExpressionWrapper(F("qty") * F("list_price"), output_field=DecimalField())
    totals = DealLine.objects.filter(deal=deal).aggregate(
        amount=Sum(amount_expr), cost=Sum(cost_expr), list_amount=Sum(list_expr), volume=Sum("qty")
    )
    if totals["amount"] is None:
        return deal
    deal.amount = Decimal(totals["amount"]).quantize(Decimal("0.01"))
    deal.cost_amount = Decimal(totals["cost"]).quantize(Decimal("0.01"))
    deal.list_amount = Decimal(totals["list_amount"]).quantize(Decimal("0.01"))
    deal.volume = totals["volume"] or ZERO
    Deal.objects.filter(pk=deal.pk).update(
        amount=deal.amount,
        cost_amount=deal.cost_amount,
        list_amount=deal.list_amount,
        volume=deal.volume,
    )
    return deal


def deal_refresh_next_step(deal: Deal) -> Deal:
    """Keep ``deal.next_step_at``: the earliest due date of its open tasks."""
    next_at = Task.objects.filter(deal=deal, done_at__isnull=True, due_at__isnull=False).aggregate(
        due=Min("due_at")
    )["due"]
    if next_at != deal.next_step_at:
        deal.next_step_at = next_at
        Deal.objects.filter(pk=deal.pk).update(next_step_at=next_at)
    return deal


def deals_stage_moments_refresh(deals) -> int:
    """Keep the moments each deal of the queryset ``deals`` first reached contact, quote and
    won (``choices.REACHED``) from its stage history: one ``UPDATE … FROM`` over one grouped
    pass of the history, writing only the deals whose moments differ. Returns their count.

    Called wherever stage history is written: ``deal_create``, ``deal_stage_change``, the
    demo (the import computes the same expressions in its derived fields)."""
    connection = connections[deals.db]
    quote = connection.ops.quote_name
    table = quote(Deal._meta.db_table)
    history = quote(StageChange._meta.db_table)
    ids, params = deals.order_by().values("pk").query.sql_with_params()
    differs = "IS NOT" if connection.vendor == "sqlite" else "IS DISTINCT FROM"
    sets = ", ".join(f"{field} = x.{field}" for field in REACHED)
    moments = ", ".join(
        f"{reached_sql(field, 's.stage', 's.changed_at')} AS {field}" for field in REACHED
    )
    changed = " OR ".join(f"{table}.{field} {differs} x.{field}" for field in REACHED)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET {sets}
            FROM (
                SELECT d.id, {moments} FROM {table} d
                LEFT JOIN {history} s ON s.deal_id = d.id
                WHERE d.id IN ({ids}) GROUP BY d.id
            ) x
            WHERE {table}.id = x.id AND ({changed})
            """,
            params,
        )
        return cursor.rowcount


def _stage_moments_refresh(deal: Deal) -> None:
    deals_stage_moments_refresh(Deal.objects.filter(pk=deal.pk))
    deal.refresh_from_db(fields=list(REACHED))


def _response_times_refresh(deal: Deal) -> None:
    """Working seconds to first contact and to the quote, after one of their moments (or
    the arrival) changed; the computation lives with the working-day calendar."""
    from vrop.discipline.worktime import refresh_response_times

    refresh_response_times(Deal.objects.filter(pk=deal.pk))


def _check_deal(event: str, deal: Deal, *, mode: str, actor, context: dict | None = None):
    violations = rulebook.check(event, deal, mode=mode, actor=actor, context=context)
    if mode == FLAG:
        _store_flags(deal, violations)
    return violations


def _clean_deal_fields(fields: dict, *, actor) -> dict:
    cleaned = dict(fields)
    if "channel" in cleaned:
        cleaned["channel"] = (cleaned["channel"] or Channel.OTHER).strip()[:32]
    manager = cleaned.get("manager")
    if manager is not None and manager.is_dismissed:
        raise ValidationError(
            _("%(name)s has left the company.") % {"name": manager}, field="manager"
        )
    client = cleaned.get("client")
    if (
        client is not None
        and actor is not None
        and not Client.objects.visible_to(actor).filter(pk=client.pk).exists()
    ):
        raise ValidationError(_("No such client."), field="client")
    return cleaned


@transaction.atomic
def deal_create(
    *,
    actor: User | None,
    client: Client | None,
    manager: User | None = None,
    received_at: datetime | None = None,
    channel: str = Channel.OTHER,
    title: str = "",
    need: str = "",
    stage: str = Stage.LEAD,
    lines: list[LineInput] | None = None,
    next_step_title: str = "",
    next_step_due_at: datetime | None = None,
    amount: Decimal | None = None,
    lost_reason: str = "",
    source: str = "",
    external_id: str = "",
    extra: dict | None = None,
    mode: str = ENFORCE,
    copied_from: Deal | None = None,
) -> Deal:
    """Create a deal with its lines and next step; the stage history starts here."""
    _require(actor, "change", "deal")
    if stage not in Stage.values:
        raise ValidationError(_("Unknown stage “%(stage)s”.") % {"stage": stage}, field="stage")
    if manager is None and actor is not None and actor.is_manager:
        manager = actor
    if actor is not None and actor.is_manager and manager is not None and manager != actor:
        raise PermissionDenied(_("A manager creates deals only for themselves."))
    now = timezone.now()
    received_at = received_at or now
    cleaned = _clean_deal_fields(
        {"client": client, "manager": manager, "channel": channel}, actor=actor
    )
    deal = Deal.objects.create(
        title=(title or "").strip()[:300],
        need=need or "",
        stage=stage,
        received_at=received_at,
        stage_changed_at=received_at if stage == Stage.LEAD else now,
        lost_reason=lost_reason or "",
        amount=to_decimal(amount) if amount is not None else ZERO,
        closed_at=now if stage in (Stage.WON, Stage.LOST) else None,
        source=source,
        external_id=external_id,
        extra=extra or {},
        copied_from=copied_from,
        **cleaned,
    )
    if not deal.title:
        deal.title = _("Deal #%(id)s") % {"id": deal.pk}
        Deal.objects.filter(pk=deal.pk).update(title=deal.title)
    StageChange.objects.create(
        deal=deal, from_stage="", stage=Stage.LEAD, changed_at=received_at, changed_by=actor
    )
    if stage != Stage.LEAD:
        StageChange.objects.create(
            deal=deal,
            from_stage=Stage.LEAD,
            stage=stage,
            changed_at=deal.stage_changed_at,
            changed_by=actor,
        )
    if stage != Stage.LEAD:
        _stage_moments_refresh(deal)
    for position, line in enumerate(lines or []):
        DealLine.objects.create(deal=deal, position=position, **_line_values(line))
    deal_recalculate(deal)
    if lines:
        _check_deal("deal.lines", deal, mode=mode, actor=actor)
    if next_step_title or next_step_due_at:
        _task_insert(
            deal=deal,
            title=next_step_title or _("Next step"),
            due_at=next_step_due_at,
            manager=manager,
            created_by=actor,
        )
    _check_deal("deal.save", deal, mode=mode, actor=actor, context={"created": True})
    if stage == Stage.WON:
        _check_deal("deal.won", deal, mode=mode, actor=actor)
    return deal


@transaction.atomic
def deal_update(*, actor: User | None, deal: Deal, mode: str = ENFORCE, **fields) -> Deal:
    _require(actor, "change", "deal")
    unknown = set(fields) - DEAL_FIELDS - {"lost_reason"}
    if unknown:
        raise ValidationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    if (
        "manager" in fields
        and actor is not None
        and actor.is_manager
        and fields["manager"] != deal.manager
    ):
        raise PermissionDenied(_("Only the head reassigns deals."))
    cleaned = _clean_deal_fields(fields, actor=actor)
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    for name, value in cleaned.items():
        setattr(deal, name, value)
    deal.save()
    if "received_at" in cleaned:
        _response_times_refresh(deal)
    _check_deal("deal.save", deal, mode=mode, actor=actor)
    return deal


@transaction.atomic
def deal_lines_set(
    *, actor: User | None, deal: Deal, lines: list[LineInput], mode: str = ENFORCE
) -> Deal:
    """Replace the deal's lines (the deal form saves all lines at once)."""
    _require(actor, "change", "deal")
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    existing = list(deal.lines.order_by("position", "id"))
    values = [_line_values(line) for line in lines]
    for position, line_values in enumerate(values):
        if position < len(existing):
            line = existing[position]
            changed = (
                any(getattr(line, k) != v for k, v in line_values.items())
                or line.position != position
            )
            if changed:
                for name, value in line_values.items():
                    setattr(line, name, value)
                line.position = position
                line.save()
        else:
            DealLine.objects.create(deal=deal, position=position, **line_values)
    for line in existing[len(values) :]:
        line.delete()
    if not values:
        Deal.objects.filter(pk=deal.pk).update(
            amount=ZERO, cost_amount=ZERO, list_amount=ZERO, volume=ZERO
        )
        deal.amount = deal.cost_amount = deal.list_amount = deal.volume = ZERO
    deal_recalculate(deal)
    _check_deal("deal.lines", deal, mode=mode, actor=actor)
    _check_deal("deal.save", deal, mode=mode, actor=actor)
    return deal


def deal_line_add(*, actor: User | None, deal: Deal, line: LineInput, mode: str = ENFORCE) -> Deal:
    current = [
        LineInput(
            product=x.product,
            qty=x.qty,
            price=x.price,
            cost_price=x.cost_price,
            list_price=x.list_price,
        )
        for x in deal.lines.select_related("product")
    ]
    return deal_lines_set(actor=actor, deal=deal, lines=[*current, line], mode=mode)


@transaction.atomic
def deal_stage_change(
    *,
    actor: User | None,
    deal: Deal,
    stage: str,
    lost_reason: str = "",
    at: datetime | None = None,
    mode: str = ENFORCE,
) -> Deal:
    """Move a deal to ``stage``; the stage history row is written here and only here."""
    _require(actor, "change", "deal")
    if stage not in Stage.values:
        raise ValidationError(_("Unknown stage “%(stage)s”.") % {"stage": stage}, field="stage")
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    if stage == deal.stage:
        return deal
    if stage == Stage.LOST and not (lost_reason or "").strip():
        raise ValidationError(_("Say why the deal is lost."), field="lost_reason")
    at = at or timezone.now()
    previous = deal.stage
    deal.stage = stage
    deal.stage_changed_at = at
    if stage == Stage.LOST:
        deal.lost_reason = lost_reason.strip()[:300]
    if stage in (Stage.WON, Stage.LOST):
        deal.closed_at = at
    else:
        deal.closed_at = None
    if stage in (Stage.CONTACT, Stage.QUOTE, Stage.WON) and deal.first_contact_at is None:
        deal.first_contact_at = at
    if stage in (Stage.QUOTE, Stage.WON) and deal.quote_sent_at is None and stage == Stage.QUOTE:
        deal.quote_sent_at = at
    deal.save()
    _response_times_refresh(deal)
    StageChange.objects.create(
        deal=deal, from_stage=previous, stage=stage, changed_at=at, changed_by=actor
    )
    if stage in REACHED["contact_reached_at"]:
        _stage_moments_refresh(deal)
    context = {"from_stage": previous}
    _check_deal(f"deal.{stage}", deal, mode=mode, actor=actor, context=context)
    _check_deal("deal.save", deal, mode=mode, actor=actor, context=context)
    return deal


@transaction.atomic
def deal_copy(
    *,
    actor: User | None,
    deal: Deal,
    next_step_title: str = "",
    next_step_due_at: datetime | None = None,
) -> Deal:
    """A new deal for the same client with the same lines at current prices."""
    lines = [
        LineInput(product=line.product, qty=line.qty, price=line.price)
        for line in deal.lines.select_related("product")
    ]
    return deal_create(
        actor=actor,
        client=deal.client,
        manager=deal.manager if actor is None or not actor.is_manager else actor,
        channel=Channel.REPEAT,
        title=deal.title,
        need=deal.need,
        lines=lines,
        next_step_title=next_step_title,
        next_step_due_at=next_step_due_at,
        copied_from=deal,
    )


# --- tasks and activities ---------------------------------------------------------------


def _task_insert(
    *,
    deal: Deal | None,
    title: str,
    due_at: datetime | None,
    manager: User | None,
    created_by: User | None,
    client: Client | None = None,
    source: str = "",
    external_id: str = "",
) -> Task:
    title = (title or "").strip()
    if not title:
        raise ValidationError(_("The task needs a title."), field="title")
    task = Task.objects.create(
        deal=deal,
        client=client or (deal.client if deal else None),
        manager=manager or (deal.manager if deal else None),
        title=title[:300],
        due_at=due_at,
        created_by=created_by,
        source=source,
        external_id=external_id,
    )
    if deal is not None:
        deal_refresh_next_step(deal)
    return task


@transaction.atomic
def task_create(
    *,
    actor: User | None,
    title: str,
    due_at: datetime | None,
    deal: Deal | None = None,
    client: Client | None = None,
    manager: User | None = None,
    mode: str = ENFORCE,
) -> Task:
    _require(actor, "change", "task")
    if (
        mode == ENFORCE
        and due_at is not None
        and due_at < timezone.now() - timezone.timedelta(minutes=5)
    ):
        raise ValidationError(_("The next step cannot be in the past."), field="due_at")
    if manager is not None and manager.is_dismissed:
        raise ValidationError(
            _("%(name)s has left the company.") % {"name": manager}, field="manager"
        )
    task = _task_insert(
        deal=deal, title=title, due_at=due_at, manager=manager, created_by=actor, client=client
    )
    if deal is not None:
        _check_deal("deal.save", deal, mode=mode, actor=actor)
    return task


@transaction.atomic
def task_complete(
    *,
    actor: User | None,
    task: Task,
    result: str = "",
    at: datetime | None = None,
    mode: str = ENFORCE,
) -> Task:
    _require(actor, "change", "task")
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.done_at is not None:
        return task
    task.done_at = at or timezone.now()
    task.result = result or ""
    task.save(update_fields=["done_at", "result", "updated_at"])
    if task.deal_id:
        deal = Deal.objects.get(pk=task.deal_id)
        deal_refresh_next_step(deal)
        Deal.objects.filter(pk=deal.pk).update(last_activity_at=task.done_at)
        _check_deal("deal.save", deal, mode=mode, actor=actor, context={"task_done": task})
    return task


@transaction.atomic
def task_reschedule(*, actor: User | None, task: Task, due_at: datetime) -> Task:
    _require(actor, "change", "task")
    if due_at is None:
        raise ValidationError(_("Give the new date."), field="due_at")
    if due_at < timezone.now() - timezone.timedelta(minutes=5):
        raise ValidationError(_("The next step cannot be in the past."), field="due_at")
    task = Task.objects.select_for_update().get(pk=task.pk)
    task.due_at = due_at
    task.save(update_fields=["due_at", "updated_at"])
    if task.deal_id:
        deal_refresh_next_step(Deal.objects.get(pk=task.deal_id))
    return task


@transaction.atomic
def activity_create(
    *,
    actor: User | None,
    kind: str,
    deal: Deal | None = None,
    client: Client | None = None,
    occurred_at: datetime | None = None,
    subject: str = "",
    body: str = "",
    user: User | None = None,
    source: str = "",
    external_id: str = "",
) -> Activity:
    _require(actor, "change", "activity")
    if kind not in ActivityKind.values:
        raise ValidationError(_("Unknown activity kind “%(kind)s”.") % {"kind": kind}, field="kind")
    occurred_at = occurred_at or timezone.now()
    activity = Activity.objects.create(
        kind=kind,
        deal=deal,
        client=client or (deal.client if deal else None),
        user=user or actor,
        occurred_at=occurred_at,
        subject=(subject or "")[:300],
        body=body or "",
        source=source,
        external_id=external_id,
    )
    if deal is not None:
        updates = {}
        if deal.last_activity_at is None or occurred_at > deal.last_activity_at:
            updates["last_activity_at"] = occurred_at
        if (
            kind in (ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL)
            and (deal.first_contact_at is None or occurred_at < deal.first_contact_at)
            and occurred_at >= deal.received_at
        ):
            updates["first_contact_at"] = occurred_at
        if updates:
            Deal.objects.filter(pk=deal.pk).update(**updates)
            for name, value in updates.items():
                setattr(deal, name, value)
            if "first_contact_at" in updates:
                _response_times_refresh(deal)
    return activity


def open_stages() -> tuple[str, ...]:
    return tuple(str(s) for s in OPEN_STAGES)
