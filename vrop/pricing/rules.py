"""Price policy as pure functions over plain data.

``approval_level_required(lines, deal_totals, policy)`` answers which level must approve a
deal's prices and why. The level is the highest that any line or the deal as a whole
needs:

- margin below the minimum (of the line's category, else the company's) → the owner,
  whatever the discount (a line or deal with zero revenue has no margin: the owner);
- discount above the head's limit → the owner; above the manager's limit → the head;
- otherwise nobody: the manager may decide.

Limits are inclusive: a discount of exactly 3 % is the manager's, exactly 7 % the head's;
a margin of exactly 8 % meets the minimum. Zero cost is 100 % margin. A line without a
list price has no discount.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import IntEnum

from django.utils.translation import gettext as _

HUNDRED = Decimal("100")


class Level(IntEnum):
    NONE = 0  # within the manager's own authority
    HEAD = 2
    OWNER = 3


ROLE_RANK = {"manager": 1, "head": 2, "owner": 3}
LEVEL_ROLE = {Level.HEAD: "head", Level.OWNER: "owner"}


@dataclass(frozen=True)
class Policy:
    manager_discount_pct: Decimal
    head_discount_pct: Decimal
    min_margin_pct: Decimal
    category_min_margin_pct: dict[str, Decimal] = field(default_factory=dict)

    def min_margin_for(self, category: str) -> Decimal:
        return self.category_min_margin_pct.get(category or "", self.min_margin_pct)


@dataclass(frozen=True)
class PricedLine:
    position: int
    product: str
    category: str
    qty: Decimal
    price: Decimal
    cost_price: Decimal
    list_price: Decimal


@dataclass(frozen=True)
class Reason:
    level: Level
    code: str
    message: str
    position: int | None = None


@dataclass(frozen=True)
class Decision:
    level: Level
    reasons: tuple[Reason, ...]

    @property
    def role(self) -> str | None:
        return LEVEL_ROLE.get(self.level)

    def needs_approval_from(self, author_role: str) -> bool:
        return self.level > ROLE_RANK.get(author_role, 1)


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    return (part / whole * HUNDRED).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def discount_pct(price: Decimal, list_price: Decimal) -> Decimal | None:
    if not list_price:
        return None
    return (list_price - price) / list_price * HUNDRED


def margin_pct(price: Decimal, cost: Decimal) -> Decimal | None:
    if not price:
        return None
    return (price - cost) / price * HUNDRED


def _judge(
    *,
    discount: Decimal | None,
    margin: Decimal | None,
    min_margin: Decimal,
    policy: Policy,
    where: str,
    position: int | None,
) -> list[Reason]:
    reasons: list[Reason] = []
    if margin is None or margin < min_margin:
        shown = "—" if margin is None else f"{margin.quantize(Decimal('0.1'))}"
        reasons.append(
            Reason(
                Level.OWNER,
                "margin_below_minimum",
                _(
                    "%(where)s: margin %(margin)s %% is below the minimum of %(minimum)s %%: the owner "
                    "decides."
                )
                % {"where": where, "margin": shown, "minimum": min_margin.normalize()},
                position,
            )
        )
    if discount is not None and discount > policy.head_discount_pct:
        reasons.append(
            Reason(
                Level.OWNER,
                "discount_over_head",
                _(
                    "%(where)s: discount %(discount)s %% is over the head's limit of %(limit)s %%: the "
                    "owner decides."
                )
                % {
                    "where": where,
                    "discount": discount.quantize(Decimal("0.1")),
                    "limit": policy.head_discount_pct.normalize(),
                },
                position,
            )
        )
    elif discount is not None and discount > policy.manager_discount_pct:
        reasons.append(
            Reason(
                Level.HEAD,
                "discount_over_manager",
                _(
                    "%(where)s: discount %(discount)s %% is over the manager's limit of %(limit)s %%: "
                    "the head decides."
                )
                % {
                    "where": where,
                    "discount": discount.quantize(Decimal("0.1")),
                    "limit": policy.manager_discount_pct.normalize(),
                },
                position,
            )
        )
    return reasons


def approval_level_required(lines: Iterable[PricedLine], policy: Policy) -> Decision:
    """The level that must approve these prices, with every reason."""
    lines = list(lines)
    reasons: list[Reason] = []
    amount = cost = list_amount = Decimal("0")
    for line in lines:
        where = _("line %(n)s (%(product)s)") % {"n": line.position + 1, "product": line.product}
        reasons += _judge(
            discount=discount_pct(line.price, line.list_price),
            margin=margin_pct(line.price, line.cost_price),
            min_margin=policy.min_margin_for(line.category),
            policy=policy,
            where=where,
            position=line.position,
        )
        amount += line.qty * line.price
        cost += line.qty * line.cost_price
        list_amount += line.qty * line.list_price
    if lines:
        reasons += _judge(
            discount=discount_pct(amount, list_amount) if list_amount else None,
            margin=(amount - cost) / amount * HUNDRED if amount else None,
            min_margin=policy.min_margin_pct,
            policy=policy,
            where=_("the deal as a whole"),
            position=None,
        )
    level = max((reason.level for reason in reasons), default=Level.NONE)
    return Decision(level=level, reasons=tuple(reasons))
