"""Reads of the pricing app; every one takes the viewer and goes through ``visible_to``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.accounts.visibility import can, visibility_filter
from vrop.core.errors import NotFound, PermissionDenied
from vrop.crm.choices import Stage
from vrop.crm.models import Deal, DealLine
from vrop.pricing.models import (
    ApprovalRequest,
    ApprovalStatus,
    Confirmation,
    MarginDay,
    Quote,
)
from vrop.pricing.rules import Decision, discount_pct, margin_pct

DECIDERS = ("head", "owner")
MONEY_FIELD = DecimalField(max_digits=24, decimal_places=4)


def is_decider(user: User | None) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.role in DECIDERS or user.is_superuser)
    )


def may_set_list_prices(user: User | None) -> bool:
    """List prices, new price lists, copies and applying: the head and the owner."""
    return is_decider(user)


def may_set_cost_prices(user: User | None) -> bool:
    """Cost prices (a price list's, a purchase): whoever may change products — the head,
    the owner and supply (``accounts.visibility``)."""
    return bool(user is not None and user.is_authenticated and can(user, "change", "product"))


def may_see_price_lists(user: User | None) -> bool:
    return may_set_list_prices(user) or may_set_cost_prices(user)


def price_list_list(*, viewer: User):
    from django.db.models import Count

    from vrop.pricing.models import PriceList

    if not may_see_price_lists(viewer):
        raise PermissionDenied(_("You may not do this."))
    return (
        PriceList.objects.annotate(item_count=Count("items"))
        .select_related("created_by")
        .order_by("-effective_from", "-id")
    )


def price_list_get(*, viewer: User, price_list_id: int):
    found = price_list_list(viewer=viewer).filter(pk=price_list_id).first()
    if found is None:
        raise NotFound(_("Not found."))
    return found


def price_list_items(*, viewer: User, price_list):
    from vrop.pricing.models import PriceListItem

    if not may_see_price_lists(viewer):
        raise PermissionDenied(_("You may not do this."))
    return (
        PriceListItem.objects.filter(price_list=price_list)
        .select_related("product")
        .order_by("product__category", "product__name", "pk")
    )


def price_list_current(*, viewer: User):
    """The list in force: the latest applied one."""
    return (
        price_list_list(viewer=viewer)
        .filter(applied_at__isnull=False)
        .order_by("-effective_from", "-id")
        .first()
    )


def purchase_list(*, viewer: User, product_id: int | None = None):
    from vrop.pricing.models import Purchase

    if not may_set_cost_prices(viewer):
        raise PermissionDenied(_("You may not do this."))
    queryset = Purchase.objects.select_related("product", "created_by")
    if product_id is not None:
        queryset = queryset.filter(product_id=product_id)
    return queryset


def _visible_deals(viewer: User):
    if not can(viewer, "view", "deal"):
        return Deal.objects.none()
    return Deal.objects.visible_to(viewer)


def approval_list(*, viewer: User, status: str = "", mine_first: bool = True):
    """Approvals of the deals the viewer sees; pending first, those the viewer decides on top."""
    queryset = ApprovalRequest.objects.filter(deal__in=_visible_deals(viewer)).select_related(
        "deal", "deal__client", "deal__manager", "requested_by", "decided_by"
    )
    if status:
        queryset = queryset.filter(status=status)
    level_order = Value(0, output_field=IntegerField())
    if mine_first and viewer is not None and viewer.role == "head":
        level_order = Case(When(level="head", then=0), default=1, output_field=IntegerField())
    return queryset.annotate(
        pending_order=Case(When(status=ApprovalStatus.PENDING, then=0), default=1),
        level_order=level_order,
    ).order_by("pending_order", "level_order", "-requested_at", "-id")


def approval_get(*, viewer: User, approval_id: int) -> ApprovalRequest:
    approval = approval_list(viewer=viewer, mine_first=False).filter(pk=approval_id).first()
    if approval is None:
        raise NotFound(_("Not found."))
    return approval


def deal_for_pricing(*, viewer: User, deal_id: int) -> Deal:
    deal = _visible_deals(viewer).filter(pk=deal_id).select_related("client", "manager").first()
    if deal is None:
        raise NotFound(_("Not found."))
    return deal


@dataclass
class LineFigures:
    position: int
    product: str
    unit: str
    qty: Decimal
    price: Decimal
    list_price: Decimal
    cost_price: Decimal
    amount: Decimal
    gross_profit: Decimal
    margin_pct: Decimal | None
    markup_pct: Decimal | None
    discount_pct: Decimal | None


def _q(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))


def line_figures(deal: Deal) -> list[LineFigures]:
    rows = []
    for index, line in enumerate(deal.lines.select_related("product").order_by("position", "id")):
        amount = line.qty * line.price
        cost = line.qty * line.cost_price
        rows.append(
            LineFigures(
                position=index + 1,
                product=line.product.name,
                unit=line.product.get_unit_display(),
                qty=line.qty,
                price=line.price,
                list_price=line.list_price,
                cost_price=line.cost_price,
                amount=amount.quantize(Decimal("0.01")),
                gross_profit=(amount - cost).quantize(Decimal("0.01")),
                margin_pct=_q(margin_pct(line.price, line.cost_price)),
                markup_pct=_q((amount - cost) / cost * 100) if cost else None,
                discount_pct=_q(discount_pct(line.price, line.list_price)),
            )
        )
    return rows


@dataclass
class DealPricing:
    deal: Deal
    decision: Decision
    cleared: bool
    covering: ApprovalRequest | None
    lines: list[LineFigures]
    amount: Decimal
    cost_amount: Decimal
    gross_profit: Decimal
    margin_pct: Decimal | None
    markup_pct: Decimal | None
    discount_pct: Decimal | None
    approvals: list[ApprovalRequest]
    confirmations: list[Confirmation]
    quotes: list[Quote]
    history: list


def deal_pricing(*, viewer: User, deal_id: int) -> DealPricing:
    """Everything the pricing panel of a deal shows."""
    from vrop.pricing.services import deal_approval_state

    deal = deal_for_pricing(viewer=viewer, deal_id=deal_id)
    decision, covering, cleared = deal_approval_state(deal)
    lines = line_figures(deal)
    amount = sum((line.amount for line in lines), Decimal("0"))
    cost = sum((line.qty * line.cost_price for line in lines), Decimal("0"))
    list_amount = sum((line.qty * line.list_price for line in lines), Decimal("0"))
    approvals = list(
        ApprovalRequest.objects.filter(deal=deal).select_related("requested_by", "decided_by")
    )
    history = list(
        ApprovalRequest.history.filter(deal_id=deal.pk)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[:50]
    )
    return DealPricing(
        deal=deal,
        decision=decision,
        cleared=cleared,
        covering=covering,
        lines=lines,
        amount=amount,
        cost_amount=cost.quantize(Decimal("0.01")),
        gross_profit=(amount - cost).quantize(Decimal("0.01")),
        margin_pct=_q((amount - cost) / amount * 100) if amount else None,
        markup_pct=_q((amount - cost) / cost * 100) if cost else None,
        discount_pct=_q((list_amount - amount) / list_amount * 100) if list_amount else None,
        approvals=approvals,
        confirmations=list(
            Confirmation.objects.filter(
                Q(deal=deal) | Q(deal__isnull=True, product__deal_lines__deal=deal)
            )
            .select_related("product", "confirmed_by")
            .distinct()[:50]
        ),
        quotes=list(Quote.objects.filter(deal=deal)),
        history=history,
    )


def confirmation_list(*, viewer: User, deal_id: int | None = None, valid_only: bool = False):
    if not (can(viewer, "view", "product")):
        raise PermissionDenied(_("You may not do this."))
    queryset = Confirmation.objects.select_related("product", "confirmed_by", "deal")
    visible = _visible_deals(viewer)
    queryset = queryset.filter(Q(deal__isnull=True) | Q(deal__in=visible))
    if deal_id is not None:
        queryset = queryset.filter(deal_id=deal_id)
    if valid_only:
        queryset = queryset.filter(valid_until__gte=timezone.now())
    return queryset


def quote_get(*, viewer: User, quote_id: int) -> Quote:
    quote = (
        Quote.objects.filter(pk=quote_id, deal__in=_visible_deals(viewer))
        .select_related("deal", "deal__client", "issued_by")
        .first()
    )
    if quote is None:
        raise NotFound(_("Not found."))
    return quote


# --- "who kills the margin" -------------------------------------------------------------

MARGIN_GROUPS = ("manager", "category", "client")


def margin_report(*, viewer: User, start: date, end: date, by: str = "manager") -> list[dict]:
    """Won deals closed in [start, end], grouped by manager, category or client.

    Per group: revenue, gross profit, margin %, the weighted discount
    Σ(list − price)·qty / Σ list·qty × 100 and the money given away in discounts, the
    number of deals and the approvals requested for them (not superseded). Sorted by the
    weighted discount, the largest first: who kills the margin is on top.

    By manager and by client the sums come from the deals' totals (``amount``,
    ``cost_amount``, ``list_amount``: kept equal to the sums over the lines by every line
    write), one row per deal instead of three or more per deal; the discount counts only
    deals with a list amount (a deal imported without lines has none). By category the
    sums are over the lines, as a deal may mix categories: read from the per-day,
    per-category summary (``MarginDay``) when it covers the period, else from the lines.
    """
    if not is_decider(viewer) and not (viewer and viewer.role == "finance"):
        raise PermissionDenied(_("You may not do this."))
    if by not in MARGIN_GROUPS:
        by = "manager"
    since, until = _day_bounds(start, end)
    zero = Value(Decimal("0"), output_field=MONEY_FIELD)
    narrower = visibility_filter(viewer, "deal") != Q()  # a narrower view than all deals
    if by == "category" and not narrower and _summary_covers(start, end, since, until):
        rows = _margin_by_category_summary(start, end)
    elif by == "category":
        rows = _margin_by_category_lines(viewer, since, until, narrower=narrower)
    else:
        deals = Deal.objects.filter(stage=Stage.WON, closed_at__gte=since, closed_at__lt=until)
        if narrower:
            deals = deals.filter(pk__in=_visible_deals(viewer))
        key = "manager_id" if by == "manager" else "client_id"
        rows = (
            deals.values(key)
            .annotate(
                revenue=Coalesce(Sum("amount"), zero),
                cost=Coalesce(Sum("cost_amount"), zero),
                listed_total=Coalesce(Sum("list_amount", filter=Q(list_amount__gt=0)), zero),
                discounted_revenue=Coalesce(Sum("amount", filter=Q(list_amount__gt=0)), zero),
                deals=Count("id"),
            )
            .order_by()
        )
    rows = list(rows)
    names = _group_names(by, rows)
    result = []
    for row in rows:
        revenue, cost_sum, list_sum = row["revenue"], row["cost"], row["listed_total"]
        given = list_sum - row["discounted_revenue"]
        group = row[MARGIN_KEYS[by]]
        result.append(
            {
                "key": group,
                "name": names.get(group) or "—",
                "revenue": revenue.quantize(Decimal("0.01")),
                "gross_profit": (revenue - cost_sum).quantize(Decimal("0.01")),
                "margin_pct": _q((revenue - cost_sum) / revenue * 100) if revenue else None,
                "discount_pct": _q(given / list_sum * 100) if list_sum else None,
                "discount_amount": given.quantize(Decimal("0.01")),
                "deals": row["deals"],
                "approvals": 0,
                "approvals_rejected": 0,
            }
        )
    _add_approval_counts(result, by=by, viewer=viewer, start=start, end=end)
    result.sort(key=lambda r: (-(r["discount_pct"] or Decimal("-1000")), str(r["name"])))
    return result


MARGIN_KEYS = {"manager": "manager_id", "client": "client_id", "category": "category"}


def _summary_covers(start: date, end: date, since: datetime, until: datetime) -> bool:
    """Whether the per-day summary holds exactly the won deals of the period: the days
    are the company's (the current time zone is its), and as many deals are counted in
    it as are won in the period (two index-only counts). A write that bypassed the
    services (a script, an ``update()``) makes the counts differ, and the report reads
    the lines instead: slower, never wrong.
    """
    if str(timezone.get_current_timezone()) != str(timezone.get_default_timezone()):
        return False
    from vrop.pricing.models import MarginDayDeal

    won = Deal.objects.filter(stage=Stage.WON, closed_at__gte=since, closed_at__lt=until)
    counted = MarginDayDeal.objects.filter(day__gte=start, day__lte=end)
    return counted.count() == won.count()


def _margin_by_category_summary(start: date, end: date):
    """By category from the per-day summary (``MarginDay``): a few rows per day instead of
    every line of the period. ``deals`` adds up, as a deal is on one day only."""
    zero = Value(Decimal("0"), output_field=MONEY_FIELD)
    return (
        MarginDay.objects.filter(day__gte=start, day__lte=end)
        .values("category")
        .annotate(
            revenue=Coalesce(Sum("revenue"), zero),
            cost=Coalesce(Sum("cost"), zero),
            listed_total=Coalesce(Sum("listed_total"), zero),
            discounted_revenue=Coalesce(Sum("discounted_revenue"), zero),
            deals=Sum("deals"),
        )
        .order_by()
    )


def _margin_by_category_lines(viewer, since: datetime, until: datetime, *, narrower: bool):
    """By category over the lines of the won deals (a viewer who sees only some deals)."""
    zero = Value(Decimal("0"), output_field=MONEY_FIELD)
    lines = DealLine.objects.filter(
        deal__stage=Stage.WON, deal__closed_at__gte=since, deal__closed_at__lt=until
    )
    if narrower:
        lines = lines.filter(deal__in=_visible_deals(viewer))
    amount = ExpressionWrapper(F("qty") * F("price"), output_field=MONEY_FIELD)
    cost = ExpressionWrapper(F("qty") * F("cost_price"), output_field=MONEY_FIELD)
    listed = ExpressionWrapper(F("qty") * F("list_price"), output_field=MONEY_FIELD)
    return (
        lines.annotate(category=F("product__category"))
        .values("category")
        .annotate(
            revenue=Coalesce(Sum(amount), zero),
            cost=Coalesce(Sum(cost), zero),
            listed_total=Coalesce(Sum(listed), zero),
            discounted_revenue=Coalesce(Sum(amount, filter=Q(list_price__gt=0)), zero),
            deals=Count("deal_id", distinct=True),
        )
        .order_by()
    )


def _group_names(by: str, rows: list[dict]) -> dict:
    keys = [row[MARGIN_KEYS[by]] for row in rows]
    if by == "category":
        return {key: key for key in keys}
    if by == "manager":
        return {user.pk: str(user) for user in User.objects.filter(pk__in=keys)}
    from vrop.crm.models import Client

    return dict(Client.objects.filter(pk__in=keys).values_list("pk", "name"))


def _day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the current time zone: a range on the
    indexed moment instead of a per-row date conversion."""
    zone = timezone.get_current_timezone()
    since = datetime.combine(start, time.min, tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    return since, until


def _add_approval_counts(rows: list[dict], *, by: str, viewer, start: date, end: date) -> None:
    if by == "category" or not rows:
        return
    key = "deal__manager_id" if by == "manager" else "deal__client_id"
    counts = (
        ApprovalRequest.objects.filter(
            deal__in=_visible_deals(viewer),
            requested_at__gte=_day_bounds(start, end)[0],
            requested_at__lt=_day_bounds(start, end)[1],
        )
        .exclude(status=ApprovalStatus.SUPERSEDED)
        .values(key)
        .annotate(
            total=Count("id"),
            rejected=Count("id", filter=Q(status=ApprovalStatus.REJECTED)),
        )
        .order_by()
    )
    by_key = {row[key]: row for row in counts}
    for row in rows:
        found = by_key.get(row["key"])
        if found:
            row["approvals"], row["approvals_rejected"] = found["total"], found["rejected"]
