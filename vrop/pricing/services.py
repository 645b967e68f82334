"""Price policy evaluation and approvals.

``deal_pricing_evaluate`` is the one service that says which level a deal's prices need.
``approval_sync`` runs whenever a deal's lines change (the "deal.lines" event): it opens
an approval request routed to the lowest role that may decide, or records the author's
own decision when the author's role suffices, and supersedes requests made for other
prices. ``approval_decide`` decides once; a second click changes nothing.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import DecimalField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.core.policy import company_settings
from vrop.crm.models import Deal
from vrop.pricing.models import ApprovalRequest, ApprovalStatus, CategoryPolicy
from vrop.pricing.rules import (
    ROLE_RANK,
    Decision,
    Level,
    Policy,
    PricedLine,
    approval_level_required,
)

LEVEL_BY_ROLE = {"head": Level.HEAD, "owner": Level.OWNER}


def policy_current() -> Policy:
    row = company_settings()
    return Policy(
        manager_discount_pct=row.discount_manager_pct,
        head_discount_pct=row.discount_head_pct,
        min_margin_pct=row.min_margin_pct,
        category_min_margin_pct=dict(
            CategoryPolicy.objects.values_list("category", "min_margin_pct")
        ),
    )


_LINES_SQL = """
SELECT l.deal_id, p.name, p.category, l.qty, l.price, l.cost_price, l.list_price,
    c.min_margin_pct
FROM {line} l
JOIN {product} p ON p.id = l.product_id
LEFT JOIN {policy} c ON c.category = p.category
WHERE l.deal_id IN ({deals})
ORDER BY l.deal_id, l.position, l.id
"""
CHUNK = 500  # deals per query of the set-based variants


def _lines_with_minimums(deal_ids: list[int]) -> dict[int, list[tuple]]:
    """The deals' lines with their product and the minimum margin of its category (or
    None), in one query, per deal. Plain SQL: this runs on every line write and every
    check of a deal, and the ORM's compilation of the same query cost more than the query
    itself (docs/benchmarks.md, "Price discipline")."""
    from django.db import connection

    from vrop.crm.models import DealLine, Product

    quote = connection.ops.quote_name
    sql = _LINES_SQL.format(
        line=quote(DealLine._meta.db_table),
        product=quote(Product._meta.db_table),
        policy=quote(CategoryPolicy._meta.db_table),
        deals=", ".join(["%s"] * len(deal_ids)),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(deal_ids))
        rows = cursor.fetchall()
    sqlite = connection.vendor == "sqlite"  # SQLite hands numbers back as int or float
    lines: dict[int, list[tuple]] = {}
    for deal_id, *row in rows:
        if sqlite:
            row = [*row[:2], *(_decimal(v) for v in row[2:])]
        lines.setdefault(deal_id, []).append(tuple(row))
    return lines


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def deal_priced_lines_and_policy(deal: Deal) -> tuple[list[PricedLine], Policy]:
    """The deal's lines as the rule sees them and the policy that applies to them.

    One query for the lines, their products and their categories' minimums, plus the
    company's settings row (none inside ``company_settings_cached()``): the policy carries
    only the minimums of the categories on the deal, which is all the rule looks up.
    """
    return _priced(_lines_with_minimums([deal.pk]).get(deal.pk, []), company_settings())


def _priced(rows: list[tuple], row) -> tuple[list[PricedLine], Policy]:
    """A deal's lines (rows of ``_lines_with_minimums``) and the policy for them, from the
    company's settings ``row``."""
    lines, minimums = [], {}
    for index, (name, category, qty, price, cost, list_price, minimum) in enumerate(rows):
        lines.append(
            PricedLine(
                position=index,
                product=name,
                category=category,
                qty=qty,
                price=price,
                cost_price=cost,
                list_price=list_price,
            )
        )
        if minimum is not None:
            minimums[category] = minimum
    policy = Policy(
        manager_discount_pct=row.discount_manager_pct,
        head_discount_pct=row.discount_head_pct,
        min_margin_pct=row.min_margin_pct,
        category_min_margin_pct=minimums,
    )
    return lines, policy


def deal_priced_lines(deal: Deal) -> list[PricedLine]:
    return deal_priced_lines_and_policy(deal)[0]


def deal_pricing_evaluate(deal: Deal, *, policy: Policy | None = None) -> Decision:
    """The level the deal's prices need, with every reason (see ``rules``)."""
    lines, own_policy = deal_priced_lines_and_policy(deal)
    return approval_level_required(lines, policy or own_policy)


def lines_fingerprint(deal: Deal) -> str:
    digest = hashlib.sha256()
    for product_id, qty, price in deal.lines.order_by("position", "id").values_list(
        "product_id", "qty", "price"
    ):
        digest.update(
            f"{product_id}|{Decimal(qty).normalize()}|{Decimal(price).normalize()};".encode()
        )
    return digest.hexdigest()


def _role_rank(user: User | None) -> int:
    if user is None:
        return 0
    if user.is_superuser and user.role not in ROLE_RANK:
        return ROLE_RANK["owner"]
    return ROLE_RANK.get(user.role, 0)


def deal_approval_state(deal: Deal) -> tuple[Decision, ApprovalRequest | None, bool]:
    """(what the prices need, the approval that covers them if any, whether they are cleared)."""
    decision = deal_pricing_evaluate(deal)
    if decision.level == Level.NONE:
        return decision, None, True
    approved = (
        ApprovalRequest.objects.filter(
            deal=deal, status=ApprovalStatus.APPROVED, lines_fingerprint=lines_fingerprint(deal)
        )
        .order_by("-decided_at")
        .first()
    )
    return _state(decision, approved)


def _state(decision: Decision, approved: ApprovalRequest | None):
    if approved is not None and LEVEL_BY_ROLE.get(approved.level, 0) >= decision.level:
        return decision, approved, True
    return decision, approved, False


def deals_approval_states(deal_ids) -> dict[int, tuple[Decision, ApprovalRequest | None, bool]]:
    """``deal_approval_state`` of many deals (imports): the lines of ``CHUNK`` deals per
    query, the settings row once, the approved requests of the deals that need approval
    per chunk, and the fingerprint only of the deals that have one."""
    from vrop.crm.models import Deal

    settings = company_settings()
    states = {}
    deal_ids = sorted(set(deal_ids))
    for start in range(0, len(deal_ids), CHUNK):
        chunk = deal_ids[start : start + CHUNK]
        lines = _lines_with_minimums(chunk)
        decisions = {
            pk: approval_level_required(*_priced(lines.get(pk, []), settings)) for pk in chunk
        }
        needing = [pk for pk, decision in decisions.items() if decision.level != Level.NONE]
        approvals: dict[int, list[ApprovalRequest]] = {}
        for approval in ApprovalRequest.objects.filter(
            deal_id__in=needing, status=ApprovalStatus.APPROVED
        ).order_by("deal_id", "-decided_at"):
            approvals.setdefault(approval.deal_id, []).append(approval)
        for pk, decision in decisions.items():
            if decision.level == Level.NONE:
                states[pk] = (decision, None, True)
                continue
            fingerprint = lines_fingerprint(Deal(pk=pk)) if pk in approvals else None
            approved = next(
                (a for a in approvals.get(pk, []) if a.lines_fingerprint == fingerprint), None
            )
            states[pk] = _state(decision, approved)
    return states


@transaction.atomic
def approval_sync(*, deal: Deal, actor: User | None) -> ApprovalRequest | None:
    """Open, keep or supersede the deal's approval request after its lines changed."""
    decision = deal_pricing_evaluate(deal)
    fingerprint = lines_fingerprint(deal)
    pending = (
        ApprovalRequest.objects.select_for_update()
        .filter(deal=deal, status=ApprovalStatus.PENDING)
        .first()
    )
    if decision.level == Level.NONE:
        if pending is not None:
            _supersede(pending)
        return None
    role = decision.role
    if pending is not None and pending.lines_fingerprint == fingerprint and pending.level == role:
        return pending
    covered = ApprovalRequest.objects.filter(
        deal=deal,
        status=ApprovalStatus.APPROVED,
        lines_fingerprint=fingerprint,
        level__in=[r for r, lvl in LEVEL_BY_ROLE.items() if lvl >= decision.level],
    ).exists()
    if pending is not None:
        _supersede(pending)
    if covered:
        return None
    now = timezone.now()
    reasons = [
        {
            "level": reason.role_name,
            "code": reason.code,
            "message": reason.message,
            "position": reason.position,
        }
        for reason in _named(decision)
    ]
    request = ApprovalRequest(
        deal=deal,
        level=role,
        reasons=reasons,
        lines_fingerprint=fingerprint,
        amount=deal.amount,
        gross_profit=deal.amount - deal.cost_amount,
        requested_by=actor,
        requested_at=now,
    )
    if actor is not None and _role_rank(actor) >= decision.level:
        request.status = ApprovalStatus.APPROVED
        request.decided_by = actor
        request.decided_at = now
        request.comment = _("Prices set by %(name)s within their authority.") % {"name": actor}
    request.save()
    if request.status == ApprovalStatus.PENDING:
        transaction.on_commit(lambda: _announce(request.pk))
    return request


class _NamedReason:
    def __init__(self, reason):
        self.role_name = {Level.HEAD: "head", Level.OWNER: "owner"}.get(reason.level, "")
        self.code, self.message, self.position = reason.code, reason.message, reason.position


def _named(decision: Decision):
    return [_NamedReason(reason) for reason in decision.reasons]


def _supersede(request: ApprovalRequest) -> None:
    request.status = ApprovalStatus.SUPERSEDED
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_at"])


def _announce(approval_id: int) -> None:
    """Tell the deciders (through the notifications outbox when it is installed)."""
    try:
        from vrop.pricing.notify import approval_announce
    except ImportError:
        return
    approval_announce(approval_id)


@transaction.atomic
def approval_decide(
    *, actor: User, approval: ApprovalRequest, approve: bool, comment: str = ""
) -> ApprovalRequest:
    """Approve or reject once. Only a role at or above the request's level decides."""
    approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    required = LEVEL_BY_ROLE.get(approval.level, Level.OWNER)
    if _role_rank(actor) < required:
        raise PermissionDenied(
            _("Only the %(role)s can decide this approval.")
            % {"role": _("owner") if approval.level == "owner" else _("head of sales")}
        )
    if approval.status != ApprovalStatus.PENDING:
        raise ValidationError(_("This approval has already been decided."), code="already_decided")
    if not approve and not (comment or "").strip():
        raise ValidationError(_("Say why the prices are rejected."), field="comment")
    if approval.lines_fingerprint != lines_fingerprint(approval.deal):
        _supersede(approval)
        raise ValidationError(
            _("The deal's prices changed after this request: it is void."), code="stale"
        )
    approval.status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    approval.decided_by = actor
    approval.decided_at = timezone.now()
    approval.comment = (comment or "").strip()[:500]
    try:
        approval.save()
    except IntegrityError:
        raise ValidationError(_("This approval has already been decided."), code="already_decided")
    return approval


# --- escalation ---------------------------------------------------------------------------


@transaction.atomic
def approvals_escalate(*, now=None) -> int:
    """Pending head-level requests undecided for the company's working hours go to the owner.

    Idempotent: an escalated request is at the owner's level and is not escalated again.
    """
    from vrop.core.calendar import WorkingTime

    now = now or timezone.now()
    hours = company_settings().approval_escalation_hours
    working = WorkingTime.for_company()
    escalated = []
    for approval in ApprovalRequest.objects.select_for_update().filter(
        status=ApprovalStatus.PENDING, level="head", escalated_at__isnull=True
    ):
        if working.minutes_between(approval.requested_at, now) >= hours * 60:
            approval.level = "owner"
            approval.escalated_at = now
            approval.save(update_fields=["level", "escalated_at"])
            escalated.append(approval.pk)
    for approval_id in escalated:
        transaction.on_commit(lambda pk=approval_id: _announce(pk))
    return len(escalated)


# --- confirmations ------------------------------------------------------------------------


@transaction.atomic
def confirmation_create(
    *,
    actor: User,
    product,
    qty: Decimal,
    available_on,
    valid_until,
    source: str = "stock",
    supplier: str = "",
    deal: Deal | None = None,
):
    """Supply confirms a quantity of a product available by a date, valid until a moment."""
    from vrop.accounts.visibility import can
    from vrop.pricing.models import Confirmation, ConfirmationSource

    if not can(actor, "change", "confirmation"):
        raise PermissionDenied(_("Only supply confirms stock and lead times."))
    if source not in ConfirmationSource.values:
        raise ValidationError(_("Unknown source of the confirmation."), field="source")
    if qty is None or Decimal(qty) <= 0:
        raise ValidationError(_("The quantity must be above zero."), field="qty")
    if valid_until <= timezone.now():
        raise ValidationError(_("A confirmation must be valid in the future."), field="valid_until")
    return Confirmation.objects.create(
        deal=deal,
        product=product,
        source=source,
        qty=Decimal(qty),
        available_on=available_on,
        valid_until=valid_until,
        supplier=(supplier or "").strip()[:200],
        confirmed_by=actor,
    )


# --- quotes -------------------------------------------------------------------------------


@transaction.atomic
def quote_issue(*, actor: User, deal: Deal, valid_days: int = 5, delivery_date=None):
    """Issue a quote (КП): the rules of the quote stage hold, the stage is set by fact."""
    from vrop.accounts.visibility import can
    from vrop.core import rulebook
    from vrop.crm.choices import ActivityKind, Stage
    from vrop.crm.services import activity_create, deal_stage_change
    from vrop.pricing.models import Quote

    if not can(actor, "change", "deal"):
        raise PermissionDenied(_("You may not issue quotes."))
    if not 1 <= int(valid_days) <= 365:
        raise ValidationError(_("A quote is valid from 1 to 365 days."), field="valid_days")
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    if deal.stage in (Stage.WON, Stage.LOST):
        raise ValidationError(_("A closed deal gets no quote."), field="deal", code="deal_closed")
    lines = list(deal.lines.select_related("product").order_by("position", "id"))
    if not lines:
        raise ValidationError(_("A quote needs at least one line."), field="lines")
    if delivery_date is not None and delivery_date != deal.promised_date:
        deal.promised_date = delivery_date
        deal.save(update_fields=["promised_date"])
    if deal.stage in (Stage.LEAD, Stage.CONTACT):
        deal = deal_stage_change(actor=actor, deal=deal, stage=Stage.QUOTE)
    else:
        rulebook.check("deal.quote", deal, actor=actor, context={"quote": True})
    now = timezone.now()
    settings_row = company_settings()
    rate = settings_row.vat_rate_pct
    amount = sum((line.qty * line.price for line in lines), Decimal("0")).quantize(Decimal("0.01"))
    vat = (amount * rate / 100).quantize(Decimal("0.01"))
    number = f"{deal.pk}-{Quote.objects.filter(deal=deal).count() + 1}"
    quote = Quote.objects.create(
        deal=deal,
        number=number,
        issued_at=now,
        valid_until=timezone.localdate(now) + timezone.timedelta(days=int(valid_days)),
        amount=amount,
        vat_amount=vat,
        delivery_date=delivery_date or deal.promised_date,
        issued_by=actor,
        lines_snapshot=[
            {
                "product": line.product.name,
                "unit": line.product.get_unit_display(),
                "qty": str(line.qty),
                "price": str(line.price),
                "amount": str((line.qty * line.price).quantize(Decimal("0.01"))),
            }
            for line in lines
        ],
    )
    if deal.quote_sent_at is None:
        Deal.objects.filter(pk=deal.pk).update(quote_sent_at=now)
        from vrop.discipline.worktime import refresh_response_times

        refresh_response_times(Deal.objects.filter(pk=deal.pk))
    activity_create(
        actor=actor,
        kind=ActivityKind.EMAIL,
        deal=deal,
        occurred_at=now,
        subject=_("Quote %(number)s issued") % {"number": number},
        body=_("Amount %(amount)s without VAT, valid until %(date)s.")
        % {"amount": amount, "date": quote.valid_until.strftime("%d.%m.%Y")},
    )
    return quote


# --- price lists --------------------------------------------------------------------------


@transaction.atomic
def price_list_apply(*, price_list, today=None) -> int:
    """Write a price list that has taken effect into the products' list and cost prices.

    A cost price is written unless the product has a purchase received on or after the
    list's date: the latest dated source sets the cost, and on one day the purchase (a
    fact) wins over the supplier's price.
    """
    from django.db.models import Max

    from vrop.crm.models import Product
    from vrop.pricing.models import Purchase

    today = today or timezone.localdate()
    if price_list.effective_from > today:
        return 0
    items = list(price_list.items.select_related("product"))
    last_purchase = dict(
        Purchase.objects.filter(product__in=[item.product_id for item in items])
        .values("product")
        .annotate(day=Max("received_on"))
        .values_list("product", "day")
    )
    changed = 0
    for item in items:
        product = item.product
        fields = {}
        if product.list_price != item.list_price:
            fields["list_price"] = item.list_price
        purchased = last_purchase.get(product.pk)
        newer_purchase = purchased is not None and purchased >= price_list.effective_from
        if (
            item.cost_price is not None
            and not newer_purchase
            and product.cost_price != item.cost_price
        ):
            fields["cost_price"] = item.cost_price
        if fields:
            Product.objects.filter(pk=product.pk).update(**fields)
            changed += 1
    if not price_list.applied_at:
        price_list.applied_at = timezone.now()
        price_list.save(update_fields=["applied_at"])
    return changed


def price_lists_apply_due(*, today=None) -> int:
    """Apply every price list whose date has come and that is not applied yet, oldest first."""
    from vrop.pricing.models import PriceList

    today = today or timezone.localdate()
    changed = 0
    for price_list in PriceList.objects.filter(
        effective_from__lte=today, applied_at__isnull=True
    ).order_by("effective_from", "id"):
        changed += price_list_apply(price_list=price_list, today=today)
    return changed


class PriceListErrors(ValidationError):
    """Rows of a price list file that cannot be loaded; nothing was written."""

    def __init__(self, rows: list[str]):
        super().__init__(rows[0] if rows else _("The file has errors."), field="file")
        self.rows = rows


PRODUCT_HEADERS = {"product", "product_id", "id", "name", "товар", "наименование", "код"}
LIST_HEADERS = {"list_price", "list price", "price", "цена", "цена прайса", "прайс"}
COST_HEADERS = {"cost_price", "cost price", "cost", "себестоимость", "закупка", "закупочная цена"}


def _header_index(header: list, names: set) -> int | None:
    for index, cell in enumerate(header):
        if str(cell or "").strip().lower() in names:
            return index
    return None


def _money_cell(value) -> Decimal | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).replace("\xa0", "").replace(" ", "").replace(",", ".").replace("₽", "")
    return Decimal(text).quantize(Decimal("0.01"))


@transaction.atomic
def price_list_import_xlsx(
    *, actor: User, content: bytes, name: str, effective_from, filename: str = ""
):
    """Load a price list from XLSX: every row valid or nothing is written.

    Columns (by header): product (our id or the exact name), list price, cost price
    (optional: the latest purchase or supplier price). A list effective today or earlier
    is applied to the products at once; a future one by the daily task.
    """
    import io
    import zipfile
    from decimal import InvalidOperation

    from openpyxl import load_workbook
    from simple_history.utils import bulk_create_with_history

    from vrop.accounts.visibility import can
    from vrop.crm.models import Product
    from vrop.pricing.models import PriceList, PriceListItem

    if not can(actor, "change", "product"):
        raise PermissionDenied(_("You may not change prices."))
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        raise ValidationError(_("This is not an XLSX file."), field="file")
    rows = list(book.active.iter_rows(values_only=True))
    if not rows:
        raise ValidationError(_("The file is empty."), field="file")
    header = list(rows[0])
    product_col = _header_index(header, PRODUCT_HEADERS)
    list_col = _header_index(header, LIST_HEADERS)
    cost_col = _header_index(header, COST_HEADERS)
    if product_col is None or list_col is None:
        raise ValidationError(
            _("The header row needs the columns “product” and “list price”."), field="file"
        )
    by_id = {str(pk): pk for pk in Product.objects.values_list("pk", flat=True)}
    by_name = {}
    for pk, product_name in Product.objects.values_list("pk", "name"):
        by_name.setdefault(product_name.strip().lower(), pk)
    errors: list[str] = []
    items: dict[int, tuple[Decimal, Decimal | None]] = {}
    for number, row in enumerate(rows[1:], start=2):
        row = list(row) + [None] * len(header)
        if all(cell is None or str(cell).strip() == "" for cell in row):
            continue
        key = str(row[product_col] or "").strip()
        if isinstance(row[product_col], float) and row[product_col].is_integer():
            key = str(int(row[product_col]))
        product_id = by_id.get(key) or by_name.get(key.lower())
        if product_id is None:
            errors.append(
                _("Row %(row)s: product “%(product)s” is not found.")
                % {"row": number, "product": key}
            )
            continue
        try:
            list_price = _money_cell(row[list_col])
            cost_price = _money_cell(row[cost_col]) if cost_col is not None else None
        except (InvalidOperation, ValueError):
            errors.append(_("Row %(row)s: a price is not a number.") % {"row": number})
            continue
        if list_price is None or list_price <= 0:
            errors.append(_("Row %(row)s: the list price must be above zero.") % {"row": number})
            continue
        if cost_price is not None and cost_price < 0:
            errors.append(_("Row %(row)s: the cost price is negative.") % {"row": number})
            continue
        if product_id in items:
            errors.append(
                _("Row %(row)s: product “%(product)s” is listed twice.")
                % {"row": number, "product": key}
            )
            continue
        items[product_id] = (list_price, cost_price)
    if errors:
        raise PriceListErrors(errors)
    if not items:
        raise ValidationError(_("The file has no price rows."), field="file")
    price_list = PriceList.objects.create(
        name=(name or "")[:200] or filename[:200],
        effective_from=effective_from,
        created_by=actor,
        source_file=(filename or "")[:300],
    )
    bulk_create_with_history(
        [
            PriceListItem(price_list=price_list, product_id=pk, list_price=lp, cost_price=cp)
            for pk, (lp, cp) in items.items()
        ],
        PriceListItem,
        default_user=actor,
    )
    if effective_from <= timezone.localdate():
        price_list_apply(price_list=price_list)
    return price_list


# --- the margin summary -------------------------------------------------------------------

MARGIN_LOCK_NAMESPACE = 7405  # PostgreSQL advisory locks: (namespace, day ordinal)


def _insert_select(model, columns: list[str], queryset) -> None:
    """``INSERT INTO model (columns) SELECT …``: the queryset's SQL, its columns in order."""
    from django.core.exceptions import EmptyResultSet
    from django.db import connection

    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(model._meta.get_field(c).column) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) {sql}", params)


def _lock_days(days) -> None:
    """Serialise the recomputation of a day between transactions (PostgreSQL; SQLite
    serialises every write transaction already). Days in order: no deadlock."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for day in sorted(days):
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [MARGIN_LOCK_NAMESPACE, day.toordinal()]
            )


@transaction.atomic
def margin_days_refresh(deals) -> int:
    """Bring the margin summary up to date for ``deals`` (a queryset of deals).

    The one function that writes ``MarginDay`` and ``MarginDayDeal``: every deal of the
    queryset that is won is counted on the local day of its ``closed_at``; one that is
    not won any more leaves the day it was counted on. Each day touched (where the deals
    were and where they are now) is recomputed as a whole from the lines of its won
    deals, under a per-day lock, so concurrent wins on one day cannot lose each other.
    Called on every save of a won deal or of a deal that stops being won (the rule
    ``margin_summary_follows_deal``; imports through its bulk variant), by the demo and
    the migration that fills an existing database. Returns the number of days recomputed.
    """
    from django.db.models import Count, ExpressionWrapper, F, Q, Sum
    from django.db.models.functions import TruncDate

    from vrop.crm.choices import Stage
    from vrop.crm.models import DealLine
    from vrop.pricing.models import MarginDay, MarginDayDeal

    deals = deals.order_by()
    zone = timezone.get_default_timezone()
    won = deals.filter(stage=Stage.WON, closed_at__isnull=False).annotate(
        counted_on=TruncDate("closed_at", tzinfo=zone)
    )
    days = set(
        MarginDayDeal.objects.filter(deal__in=deals.values("pk"))
        .values_list("day", flat=True)
        .distinct()
    )
    days |= set(won.values_list("counted_on", flat=True).distinct())
    if not days:
        return 0
    _lock_days(days)
    MarginDayDeal.objects.filter(deal__in=deals.values("pk")).delete()
    _insert_select(MarginDayDeal, ["deal", "day"], won.values_list("pk", "counted_on"))
    MarginDay.objects.filter(day__in=days).delete()
    money = DecimalField(max_digits=30, decimal_places=6)
    amount = ExpressionWrapper(F("qty") * F("price"), output_field=money)
    lines = (
        DealLine.objects.filter(deal__margin_day__day__in=days)
        .annotate(day=F("deal__margin_day__day"), category=F("product__category"))
        .values("day", "category")
        .annotate(
            revenue=Sum(amount),
            cost=Sum(ExpressionWrapper(F("qty") * F("cost_price"), output_field=money)),
            listed_total=Sum(ExpressionWrapper(F("qty") * F("list_price"), output_field=money)),
            discounted_revenue=Coalesce(
                Sum(amount, filter=Q(list_price__gt=0)), Value(Decimal("0"), output_field=money)
            ),
            deals=Count("deal_id", distinct=True),
        )
        .order_by()
    )
    _insert_select(
        MarginDay,
        ["day", "category", "revenue", "cost", "listed_total", "discounted_revenue", "deals"],
        lines,
    )
    return len(days)


# --- price lists edited in the UI and the API ---------------------------------------------
#
# Who: list prices, new lists, copies and applying are the head's and the owner's (the
# sales policy); cost prices also supply's, as ``accounts.visibility`` lets supply change
# products. A list that has been applied is kept as it was: copy it to change prices.


def _require_list_prices(actor: User | None) -> None:
    from vrop.pricing.selectors import may_set_list_prices

    if not may_set_list_prices(actor):
        raise PermissionDenied(_("Only the head of sales or the owner sets list prices."))


def _require_cost_prices(actor: User | None) -> None:
    from vrop.pricing.selectors import may_set_cost_prices

    if not may_set_cost_prices(actor):
        raise PermissionDenied(_("You may not change cost prices."))


def _list_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Name the price list."), field="name")
    return name[:200]


def _future_date(effective_from, *, after=None):
    import datetime as dt

    if not isinstance(effective_from, dt.date):
        raise ValidationError(_("Give the date the prices take effect."), field="effective_from")
    if effective_from < timezone.localdate():
        raise ValidationError(
            _("A price list cannot take effect in the past."), field="effective_from"
        )
    if after is not None and effective_from <= after:
        raise ValidationError(
            _("The copy must take effect after %(date)s.") % {"date": after.strftime("%d.%m.%Y")},
            field="effective_from",
        )
    return effective_from


def _editable(price_list) -> None:
    if price_list.applied_at is not None:
        raise ValidationError(
            _("This price list has been applied and is kept as it was: copy it to change prices."),
            code="applied",
        )


def _price(value, *, field: str, allow_zero: bool) -> Decimal:
    from vrop.core.money import to_decimal

    if value is None or str(value).strip() == "":
        raise ValidationError(_("Give the price."), field=field)
    price = to_decimal(value, field=field).quantize(Decimal("0.01"))
    if allow_zero and price < 0:
        raise ValidationError(_("The cost price cannot be negative."), field=field)
    if not allow_zero and price <= 0:
        raise ValidationError(_("The list price must be above zero."), field=field)
    if price >= Decimal("1e16"):
        raise ValidationError(_("The price is too large."), field=field)
    return price


@transaction.atomic
def price_list_create(*, actor: User, name: str, effective_from):
    """An empty price list taking effect on a date (today or later)."""
    from vrop.pricing.models import PriceList

    _require_list_prices(actor)
    price_list = PriceList(
        name=_list_name(name), effective_from=_future_date(effective_from), created_by=actor
    )
    price_list._history_user = actor
    price_list.save()
    return price_list


@transaction.atomic
def price_list_item_set(
    *,
    actor: User,
    price_list,
    product,
    list_price=None,
    cost_price=None,
    clear_cost: bool = False,
):
    """Set a product's list price and/or cost price in a price list not applied yet.

    ``None`` leaves a price as it is; a new line needs a list price. The head and the
    owner set both; supply sets only the cost price of a line already in the list.
    """
    from vrop.pricing.models import PriceList, PriceListItem

    if list_price is None and cost_price is None and not clear_cost:
        raise ValidationError(_("Give the list price or the cost price."), field="list_price")
    if list_price is not None:
        _require_list_prices(actor)
    if cost_price is not None or clear_cost:
        _require_cost_prices(actor)
    price_list = PriceList.objects.select_for_update().get(pk=price_list.pk)
    _editable(price_list)
    new_list = (
        None if list_price is None else _price(list_price, field="list_price", allow_zero=False)
    )
    new_cost = (
        None if cost_price is None else _price(cost_price, field="cost_price", allow_zero=True)
    )
    item = PriceListItem.objects.filter(price_list=price_list, product=product).first()
    if item is None:
        if new_list is None:
            raise ValidationError(
                _("A new line of the price list needs a list price."), field="list_price"
            )
        item = PriceListItem(price_list=price_list, product=product, list_price=new_list)
    if new_list is not None:
        item.list_price = new_list
    if new_cost is not None:
        item.cost_price = new_cost
    elif clear_cost:
        item.cost_price = None
    item._history_user = actor
    item.save()
    return item


@transaction.atomic
def price_list_item_remove(*, actor: User, price_list, product) -> None:
    from vrop.pricing.models import PriceList, PriceListItem

    _require_list_prices(actor)
    price_list = PriceList.objects.select_for_update().get(pk=price_list.pk)
    _editable(price_list)
    item = PriceListItem.objects.filter(price_list=price_list, product=product).first()
    if item is None:
        raise ValidationError(_("This product is not in the price list."), field="product")
    item._history_user = actor
    item.delete()


@transaction.atomic
def price_list_copy(*, actor: User, source, name: str, effective_from):
    """A new price list with every line of ``source``, taking effect after it."""
    from simple_history.utils import bulk_create_with_history

    from vrop.pricing.models import PriceList, PriceListItem

    _require_list_prices(actor)
    copy = PriceList(
        name=_list_name(name),
        effective_from=_future_date(effective_from, after=source.effective_from),
        created_by=actor,
        source_file="",
    )
    copy._history_user = actor
    copy.save()
    bulk_create_with_history(
        [
            PriceListItem(
                price_list=copy,
                product_id=item.product_id,
                list_price=item.list_price,
                cost_price=item.cost_price,
            )
            for item in source.items.all()
        ],
        PriceListItem,
        default_user=actor,
    )
    return copy


@transaction.atomic
def price_list_apply_now(*, actor: User, price_list) -> int:
    """Apply a price list whose date has come (a future one applies itself on its day)."""
    from vrop.pricing.models import PriceList

    _require_list_prices(actor)
    price_list = PriceList.objects.select_for_update().get(pk=price_list.pk)
    if price_list.applied_at is not None:
        raise ValidationError(_("This price list is applied already."), code="applied")
    if price_list.effective_from > timezone.localdate():
        raise ValidationError(
            _("The price list takes effect on %(date)s and is applied on that day by itself.")
            % {"date": price_list.effective_from.strftime("%d.%m.%Y")},
            code="not_yet",
        )
    if not price_list.items.exists():
        raise ValidationError(_("The price list has no lines."), code="empty")
    later = (
        PriceList.objects.filter(
            applied_at__isnull=False, effective_from__gt=price_list.effective_from
        )
        .order_by("-effective_from")
        .first()
    )
    if later is not None:
        raise ValidationError(
            _("A later price list (%(name)s) is in force already.") % {"name": later},
            code="superseded",
        )
    price_list._history_user = actor
    return price_list_apply(price_list=price_list)


# --- purchases: the cost price from the latest receipt ------------------------------------


@transaction.atomic
def purchase_record(
    *,
    actor: User,
    product,
    qty,
    price,
    received_on,
    supplier: str = "",
    document: str = "",
):
    """Record goods received from a supplier; the latest receipt sets the cost price.

    The product's cost price becomes this purchase's price when no purchase of the product
    is dated later and no applied price list with a cost price for it took effect later
    (docs/pricing.md, "Cost price").
    """
    import datetime as dt

    from vrop.core.money import to_decimal
    from vrop.crm.models import Product
    from vrop.pricing.models import PriceListItem, Purchase

    _require_cost_prices(actor)
    qty = to_decimal(qty, field="qty")
    if qty <= 0:
        raise ValidationError(_("The quantity must be above zero."), field="qty")
    if qty >= Decimal("1e11"):
        raise ValidationError(_("The quantity is too large."), field="qty")
    price = _price(price, field="price", allow_zero=False)
    if not isinstance(received_on, dt.date):
        raise ValidationError(_("Give the day the goods were received."), field="received_on")
    if received_on > timezone.localdate():
        raise ValidationError(_("Goods cannot be received in the future."), field="received_on")
    product = Product.objects.select_for_update().get(pk=product.pk)
    purchase = Purchase(
        product=product,
        qty=qty,
        price=price,
        received_on=received_on,
        supplier=(supplier or "").strip()[:200],
        document=(document or "").strip()[:100],
        created_by=actor,
    )
    purchase._history_user = actor
    purchase.save()
    later_purchase = Purchase.objects.filter(product=product, received_on__gt=received_on)
    later_list = PriceListItem.objects.filter(
        product=product,
        cost_price__isnull=False,
        price_list__applied_at__isnull=False,
        price_list__effective_from__gt=received_on,
    )
    if not later_purchase.exists() and not later_list.exists() and product.cost_price != price:
        Product.objects.filter(pk=product.pk).update(cost_price=price)
    return purchase


@transaction.atomic
def margin_days_rebuild() -> int:
    """The margin summary from scratch, over every won deal: after writes around the
    services (a script, a deleted won deal, products moved to other categories)."""
    from vrop.crm.choices import Stage
    from vrop.pricing.models import MarginDay, MarginDayDeal

    MarginDayDeal.objects.all().delete()
    MarginDay.objects.all().delete()
    return margin_days_refresh(Deal.objects.filter(stage=Stage.WON))
