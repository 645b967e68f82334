"""The discount ladder and the minimum margin, exactly at each threshold."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vrop.pricing.rules import Level, Policy, PricedLine, approval_level_required

POLICY = Policy(manager_discount_pct=D("3"), head_discount_pct=D("7"), min_margin_pct=D("8"))


def line(price, cost="50", list_price="100", category="rebar", qty="1"):
    return PricedLine(
        position=0,
        product="Арматура",
        category=category,
        qty=D(qty),
        price=D(price),
        cost_price=D(cost),
        list_price=D(list_price),
    )


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("100", Level.NONE),  # no discount
        ("97", Level.NONE),  # exactly 3 %: the manager's
        ("96.99", Level.HEAD),  # 3.01 %
        ("93", Level.HEAD),  # exactly 7 %: the head's
        ("92.99", Level.OWNER),  # 7.01 %
    ],
)
def test_discount_ladder_boundaries(price, expected):
    assert approval_level_required([line(price)], POLICY).level == expected


@pytest.mark.parametrize(
    ("cost", "expected"),
    [
        ("92", Level.NONE),  # margin exactly 8 % at list price
        ("92.01", Level.OWNER),  # 7.99 %
        ("0", Level.NONE),  # zero cost: 100 % margin
    ],
)
def test_minimum_margin_boundaries(cost, expected):
    decision = approval_level_required([line("100", cost=cost)], POLICY)
    assert decision.level == expected


def test_zero_price_needs_the_owner():
    decision = approval_level_required([line("0", cost="0")], POLICY)
    assert decision.level == Level.OWNER
    assert {r.code for r in decision.reasons} == {"margin_below_minimum", "discount_over_head"}


def test_low_margin_needs_the_owner_whatever_the_discount():
    decision = approval_level_required([line("100", cost="95")], POLICY)
    assert decision.level == Level.OWNER
    assert decision.reasons[0].code == "margin_below_minimum"


def test_category_minimum_overrides_the_company():
    policy = Policy(D("3"), D("7"), D("8"), {"sheet": D("12")})
    assert (
        approval_level_required([line("100", cost="90", category="sheet")], policy).level
        == Level.OWNER
    )
    assert (
        approval_level_required([line("100", cost="90", category="rebar")], policy).level
        == Level.NONE
    )


def test_deal_as_a_whole_counts():
    lines = [
        PricedLine(0, "A", "rebar", D("1"), D("97"), D("50"), D("100")),
        PricedLine(1, "B", "rebar", D("1"), D("97"), D("50"), D("100")),
    ]
    decision = approval_level_required(lines, POLICY)
    assert decision.level == Level.NONE
    assert approval_level_required([], POLICY).level == Level.NONE


money = st.decimals(min_value=D("0"), max_value=D("1000"), places=2)


@given(
    list_price=money,
    cost=money,
    price=money,
    step=st.decimals(min_value=D("0"), max_value=D("100"), places=2),
)
def test_level_never_falls_when_the_discount_grows(list_price, cost, price, step):
    lower_price = max(D("0"), price - step)
    before = approval_level_required([line(price, cost, list_price)], POLICY).level
    after = approval_level_required([line(lower_price, cost, list_price)], POLICY).level
    assert after >= before


@given(price=money, cost=money, list_price=money, step=money)
def test_level_never_falls_when_the_margin_shrinks(price, cost, list_price, step):
    before = approval_level_required([line(price, cost, list_price)], POLICY).level
    after = approval_level_required([line(price, cost + step, list_price)], POLICY).level
    assert after >= before
