"""Lost deals: reasons by stage, manager, category and amount.

A deal counts in the period in which it was lost (``closed_at``). Its stage is the one
it was lost from (the ``from_stage`` of its last move to lost; the current history of
an imported deal may lack it — then "—"). Its category is the product category of its
largest line (by amount); a deal without lines has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Subquery,
    Sum,
)

from vrop.analytics.periods import Period, Scope, datetime_range
from vrop.core.money import ZERO, round_money
from vrop.crm.choices import Stage
from vrop.crm.models import Deal, DealLine, StageChange

GROUPS = ("reason", "stage", "manager", "category")


@dataclass
class LostRow:
    key: str | int | None
    deals: int
    amount: Decimal


def lost_deals(*, viewer, period: Period, scope: Scope | None = None):
    """Deals lost in the period, annotated with ``lost_from`` and ``category``."""
    scope = scope or Scope()
    start, end = datetime_range(period)
    lost_from = (
        StageChange.objects.filter(deal_id=OuterRef("pk"), stage=Stage.LOST)
        .order_by("-changed_at", "-id")
        .values("from_stage")[:1]
    )
    line_amount = ExpressionWrapper(
        F("qty") * F("price"), output_field=DecimalField(max_digits=18, decimal_places=2)
    )
    category = (
        DealLine.objects.filter(deal_id=OuterRef("pk"))
        .annotate(line_amount=line_amount)
        .order_by("-line_amount", "position", "id")
        .values("product__category")[:1]
    )
    return (
        Deal.objects.visible_to(viewer)
        .filter(
            stage=Stage.LOST,
            closed_at__gte=start,
            closed_at__lt=end,
            **scope.filter("manager"),
        )
        .annotate(lost_from=Subquery(lost_from), category=Subquery(category))
    )


def lost_summary(*, viewer, period: Period, scope: Scope | None = None, by: str = "reason"):
    """[LostRow] grouped by reason, stage, manager or category, largest amount first —
    one grouped query."""
    column = {
        "reason": "lost_reason",
        "stage": "lost_from",
        "manager": "manager_id",
        "category": "category",
    }[by]
    rows = (
        lost_deals(viewer=viewer, period=period, scope=scope)
        .values(column)
        .annotate(n_deals=Count("pk"), sum_amount=Sum("amount"))
        .order_by("-sum_amount", column)
    )
    return [
        LostRow(
            key=row[column] if row[column] != "" else None,
            deals=row["n_deals"],
            amount=round_money(row["sum_amount"] or ZERO),
        )
        for row in rows
    ]


def lost_reasons_by_stage(*, viewer, period: Period, scope: Scope | None = None) -> list[dict]:
    """Reasons × stage lost from: [{"reason", "stage", "deals", "amount"}] — one query."""
    rows = (
        lost_deals(viewer=viewer, period=period, scope=scope)
        .values("lost_reason", "lost_from")
        .annotate(n_deals=Count("pk"), sum_amount=Sum("amount"))
        .order_by("lost_reason", "lost_from")
    )
    return [
        {
            "reason": row["lost_reason"],
            "stage": row["lost_from"] or None,
            "deals": row["n_deals"],
            "amount": round_money(row["sum_amount"] or ZERO),
        }
        for row in rows
    ]
