"""Price rules registered on the service events (see vrop.core.rulebook)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import (
    Case,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.core.rulebook import Violation, rule

PROMISE_STAGES = ("quote", "won")
MONEY_FIELD = DecimalField(max_digits=24, decimal_places=4)


@rule("deal.lines", bulk=lambda deals: approval_required_bulk(deals.exclude(stage="lost")))
def approval_follows_lines(deal, *, actor, context) -> list[Violation]:
    """Changing prices or quantities opens (or reopens) the approval they need."""
    from vrop.pricing.services import approval_sync

    approval_sync(deal=deal, actor=actor)
    return []


def _margin_summary_bulk(queryset) -> dict:
    """Imports: the deals they touched are brought into the margin summary at once."""
    from vrop.pricing.services import margin_days_refresh

    margin_days_refresh(queryset)
    return {}


@rule("deal.save", bulk=_margin_summary_bulk)
def margin_summary_follows_deal(deal, *, actor, context) -> list[Violation]:
    """A won deal is counted in the margin summary on its closing day; one that stops
    being won (reopened, lost) leaves it; a won deal's new lines are counted again."""
    if deal.stage == "won" or context.get("from_stage") == "won":
        from vrop.crm.models import Deal
        from vrop.pricing.services import margin_days_refresh

        margin_days_refresh(Deal.objects.filter(pk=deal.pk))
    return []


def _approval_violation(decision) -> Violation:
    who = _("the owner") if decision.role == "owner" else _("the head of sales")
    first = decision.reasons[0].message if decision.reasons else ""
    return Violation(
        "approval_required",
        _("The prices need approval by %(who)s first. %(reason)s") % {"who": who, "reason": first},
    )


# one set-based variant for the three events: an import evaluates it once for all of them
# (``rulebook.evaluate_bulk_events``); defined below
@rule("deal.won", "deal.invoice", "deal.quote", bulk=lambda deals: approval_required_bulk(deals))
def approval_required(deal, *, actor, context) -> list[Violation]:
    """Until its prices are approved, a deal is not won, invoiced or quoted."""
    from vrop.pricing.services import deal_approval_state

    decision, _approval, cleared = deal_approval_state(deal)
    if cleared:
        return []
    return [_approval_violation(decision)]


def won_without_approval_bulk(queryset) -> dict:
    """Set-based: won deals whose prices need approval and have no approved request."""
    message = _("Won without the approval its prices needed.")
    pks = _needs_approval(queryset.filter(stage="won"))
    return {pk: [Violation("approval_required", message)] for pk in pks}


def approval_required_bulk(queryset) -> dict:
    """Set-based ``approval_required`` (imports flag, not refuse): the deals the SQL
    thresholds pick, each confirmed (and its message made) as ``deal_approval_state`` does
    (``deals_approval_states``: in chunks, a few queries per 500 deals)."""
    from vrop.pricing.services import deals_approval_states

    states = deals_approval_states(_needs_approval(queryset).iterator(chunk_size=5000))
    return {
        pk: [_approval_violation(decision)]
        for pk, (decision, _approval, cleared) in sorted(states.items())
        if not cleared
    }


def _needs_approval(queryset):
    """Pks of deals whose prices need approval and have no approved request.

    The same thresholds as ``approval_level_required`` (line and deal margins against the
    minimum of the line's category or the company's, discounts over the manager's limit),
    computed in SQL over the lines; for imports from other CRMs, which flag, not refuse.
    """
    from vrop.crm.models import DealLine
    from vrop.pricing.models import ApprovalRequest, ApprovalStatus
    from vrop.pricing.services import policy_current

    policy = policy_current()
    minimum = Value(policy.min_margin_pct, output_field=MONEY_FIELD)
    if policy.category_min_margin_pct:
        minimum = Case(
            *[
                When(product__category=category, then=Value(pct, output_field=MONEY_FIELD))
                for category, pct in policy.category_min_margin_pct.items()
            ],
            default=minimum,
            output_field=MONEY_FIELD,
        )
    hundred = Value(Decimal("100"), output_field=MONEY_FIELD)
    manager_limit = Value(policy.manager_discount_pct, output_field=MONEY_FIELD)
    bad_line = DealLine.objects.filter(deal_id=OuterRef("pk")).filter(
        Q(price__lte=0)
        | Q(price__lt=F("cost_price") * hundred / (hundred - minimum))
        | Q(list_price__gt=0, price__lt=F("list_price") * (hundred - manager_limit) / hundred)
    )
    amount = ExpressionWrapper(F("lines__qty") * F("lines__price"), output_field=MONEY_FIELD)
    cost = ExpressionWrapper(F("lines__qty") * F("lines__cost_price"), output_field=MONEY_FIELD)
    listed = ExpressionWrapper(F("lines__qty") * F("lines__list_price"), output_field=MONEY_FIELD)
    company_minimum = Value(policy.min_margin_pct, output_field=MONEY_FIELD)
    approved = ApprovalRequest.objects.filter(
        deal_id=OuterRef("pk"), status=ApprovalStatus.APPROVED
    )
    return (
        queryset.annotate(
            a=Sum(amount),
            c=Sum(cost),
            la=Sum(listed),
            bad=Exists(bad_line),
            ok=Exists(approved),
        )
        .filter(ok=False, a__isnull=False)
        .filter(
            Q(bad=True)
            | Q(a__lte=0)
            | Q(a__lt=F("c") * hundred / (hundred - company_minimum))
            | Q(la__gt=0, a__lt=F("la") * (hundred - manager_limit) / hundred)
        )
        .values_list("pk", flat=True)
    )


@rule("deal.save", bulk=won_without_approval_bulk)
def won_needs_approval(deal, *, actor, context) -> list[Violation]:
    """A won deal whose prices needed approval has it (imports flag, every other path refuses
    earlier on deal.won)."""
    if deal.stage != "won":
        return []
    from vrop.pricing.services import deal_approval_state

    decision, _approval, cleared = deal_approval_state(deal)
    return [] if cleared else [_approval_violation(decision)]


# --- promises -----------------------------------------------------------------------------


def _unconfirmed_lines(deal, at):
    """Lines of a deal with a promised date that no valid confirmation covers."""
    from vrop.pricing.models import Confirmation

    covering = Confirmation.objects.filter(
        Q(deal_id=OuterRef("deal_id")) | Q(deal__isnull=True),
        product_id=OuterRef("product_id"),
        valid_until__gte=at,
        qty__gte=OuterRef("qty"),
        available_on__lte=deal.promised_date,
    )
    return deal.lines.select_related("product").filter(~Exists(covering))


def _promise_violation(deal, missing) -> Violation:
    names = ", ".join(line.product.name for line in missing[:3])
    return Violation(
        "promise_unconfirmed",
        _(
            "The delivery date %(date)s is promised without a valid confirmation from stock "
            "or a supplier for: %(products)s."
        )
        % {"date": deal.promised_date.strftime("%d.%m.%Y"), "products": names},
    )


def promise_bulk(queryset) -> dict:
    from vrop.crm.models import DealLine
    from vrop.pricing.models import Confirmation

    now = timezone.now()
    covering = Confirmation.objects.filter(
        Q(deal_id=OuterRef("deal_id")) | Q(deal__isnull=True),
        product_id=OuterRef("product_id"),
        valid_until__gte=now,
        qty__gte=OuterRef("qty"),
        available_on__lte=OuterRef("deal__promised_date"),
    )
    uncovered = DealLine.objects.filter(deal_id=OuterRef("pk")).filter(~Exists(covering))
    pks = (
        queryset.filter(promised_date__isnull=False, stage__in=PROMISE_STAGES)
        .filter(Exists(uncovered))
        .values_list("pk", flat=True)
    )
    message = _(
        "A delivery date is promised without a valid confirmation from stock or a supplier."
    )
    return {pk: [Violation("promise_unconfirmed", message)] for pk in pks}


@rule("deal.quote", bulk=promise_bulk)
def promise_confirmed_on_quote(deal, *, actor, context) -> list[Violation]:
    """A quote that promises a date needs a confirmation for every line."""
    if deal.promised_date is None:
        return []
    missing = list(_unconfirmed_lines(deal, timezone.now()))
    return [_promise_violation(deal, missing)] if missing else []


@rule("deal.save", bulk=promise_bulk)
def promise_confirmed_on_save(deal, *, actor, context) -> list[Violation]:
    """A deal given to the client (quote or won) that promises a date needs confirmations."""
    if deal.promised_date is None or deal.stage not in PROMISE_STAGES:
        return []
    missing = list(_unconfirmed_lines(deal, timezone.now()))
    return [_promise_violation(deal, missing)] if missing else []
