"""The funnel and lost deals against small hand-computed cohorts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests import factories
from tests.analytics.conftest import at, d, deal_for, move, pay
from vrop.analytics.periods import Period, Scope
from vrop.analytics.selectors.funnel import funnel, funnel_by_manager
from vrop.analytics.selectors.lost import lost_reasons_by_stage, lost_summary
from vrop.crm.choices import Stage

NOVEMBER = Period(d(1), d(30), "month")


def _deal_through(manager, path: list[str], *, paid: bool = False, skip_contact: bool = False):
    """A deal received 02.11 09:00: contact +1 day, quote +3 days, won +7 days, paid 12.11."""
    times = {"contact": at(3, 9), "quote": at(5, 9), "won": at(9, 9)}
    current = path[-1]
    deal = deal_for(
        manager, stage=current, amount="10000", received=at(2, 9), stage_changed_at=at(2, 9)
    )
    move(deal, Stage.LEAD, at(2, 9))
    previous = "lead"
    for stage in path[1:]:
        if stage == "contact" and skip_contact:
            continue
        move(deal, stage, times[stage], previous)
        previous = stage
    if paid:
        invoice = factories.InvoiceFactory(
            deal=deal, issued_on=d(9), due_on=d(19), amount=Decimal("10000")
        )
        pay(invoice, "10000", d(12))
    return deal


@pytest.fixture
def cohort(db, frozen):
    team = factories.TeamFactory(name="Опт")
    a = factories.ManagerFactory(team=team)
    b = factories.ManagerFactory(team=team)
    full = ["lead", "contact", "quote", "won"]
    # A: 10 leads, 9 contacts, 8 quotes, 1 won (paid).
    _deal_through(a, full, paid=True)
    for _ in range(7):
        _deal_through(a, full[:3])
    _deal_through(a, full[:2])
    _deal_through(a, full[:1])
    # B: 10 leads, 9 contacts (one skipped straight to the quote), 6 quotes, 4 won, 3 paid.
    for _ in range(3):
        _deal_through(b, full, paid=True)
    _deal_through(b, full, skip_contact=True)
    for _ in range(2):
        _deal_through(b, full[:3])
    for _ in range(3):
        _deal_through(b, full[:2])
    _deal_through(b, full[:1])
    # Outside the cohort: arrived in October.
    deal_for(a, stage=Stage.WON, received=at(30, month=10))
    return a, b, team


def test_manager_funnel_against_the_team(cohort, owner, django_assert_max_num_queries):
    a, _b, _team = cohort

    with django_assert_max_num_queries(3):
        result = funnel(viewer=owner, period=NOVEMBER, scope=Scope(manager_id=a.pk))

    counts = [(s.step, s.deals, s.conversion_pct) for s in result.steps]
    assert counts == [
        ("lead", 10, None),
        ("contact", 9, Decimal("90.00")),
        ("quote", 8, Decimal("88.89")),
        ("won", 1, Decimal("12.50")),
        ("paid", 1, Decimal("100.00")),
    ]
    assert [s.cycle_days for s in result.steps] == [
        None,
        Decimal("1.0"),
        Decimal("3.0"),
        Decimal("7.0"),
        Decimal("10.0"),
    ]
    assert result.overall_pct == Decimal("10.00")
    # The team: 20 → 18 → 14 → 5 → 4.
    assert result.reference == {
        "lead": None,
        "contact": Decimal("90.00"),
        "quote": Decimal("77.78"),
        "won": Decimal("35.71"),
        "paid": Decimal("80.00"),
    }
    assert result.leak is not None
    assert result.leak.step == "won"
    assert result.leak.deals_in == 8
    assert result.leak.deals_lost == 7
    assert result.leak.amount_lost == Decimal("70000.00")
    assert result.diagnosis == (
        "КП много, побед мало: проблема в закрытии сделки или цене, а не в звонках. "
        "Конверсия в «выиграна» — 12,5\xa0% против 35,7\xa0% (команда): "
        "7 сделок на 70\xa0000\xa0₽ не прошли этот этап."
    )


def test_company_funnel_is_balanced_against_reference(cohort, owner):
    result = funnel(viewer=owner, period=NOVEMBER)

    assert [s.deals for s in result.steps] == [20, 18, 14, 5, 4]
    assert result.step("won").amount == Decimal("50000.00")
    assert result.leak is None
    assert result.as_dict()["steps"][3]["reference_pct"] == Decimal("35")


def test_a_young_cohort_is_not_judged_on_payment(db, frozen, owner):
    """Six deals arrived on 16.11 and were won the same day, none paid yet. On 20.11 the
    week's cohort is 4 days old: not judged on payment (30 days) or winning (14 days)
    against the reference; judged on 17.12, it leaks at "paid"."""
    manager = factories.ManagerFactory()
    for _ in range(6):
        deal = deal_for(manager, stage=Stage.WON, amount="1000", received=at(16, 9))
        move(deal, Stage.LEAD, at(16, 9))
        move(deal, Stage.CONTACT, at(16, 10), "lead")
        move(deal, Stage.QUOTE, at(16, 11), "contact")
        move(deal, Stage.WON, at(16, 12), "quote")
    week = Period(d(16), d(22), "week")

    young = funnel(viewer=owner, period=week)
    assert [s.deals for s in young.steps] == [6, 6, 6, 6, 0]
    assert young.leak is None

    mature = funnel(viewer=owner, period=week, as_of=d(17, month=12))
    assert mature.leak is not None and mature.leak.step == "paid"
    assert mature.leak.deals_lost == 6


def test_funnel_by_manager(cohort, owner):
    a, b, _team = cohort

    table = funnel_by_manager(viewer=owner, period=NOVEMBER)

    assert [s.deals for s in table[a.pk]] == [10, 9, 8, 1, 1]
    assert [s.deals for s in table[b.pk]] == [10, 9, 6, 4, 3]


def test_manager_sees_only_own_cohort(cohort):
    a, _b, _team = cohort

    result = funnel(viewer=a, period=NOVEMBER)

    assert result.step("lead").deals == 10


@pytest.fixture
def lost(db, frozen):
    a = factories.ManagerFactory()
    b = factories.ManagerFactory()
    rebar = factories.ProductFactory(category="rebar")
    pipe = factories.ProductFactory(category="pipe")

    def lose(manager, reason, amount, from_stage, when):
        deal = deal_for(manager, stage=Stage.LOST, amount=amount, lost_reason=reason)
        deal.closed_at = when
        deal.save(update_fields=["closed_at"])
        move(deal, Stage.LOST, when, from_stage)
        return deal

    l1 = lose(a, "цена", "100000", "quote", at(10))
    factories.DealLineFactory(deal=l1, product=rebar, qty=Decimal("1"), price=Decimal("80000"))
    factories.DealLineFactory(deal=l1, product=pipe, qty=Decimal("1"), price=Decimal("20000"))
    l2 = lose(b, "цена", "50000", "contact", at(11))
    factories.DealLineFactory(deal=l2, product=pipe, qty=Decimal("2"), price=Decimal("25000"))
    lose(b, "нет в наличии", "20000", "quote", at(12))
    lose(a, "цена", "999999", "quote", dt.datetime(2026, 10, 31, 23, 0, tzinfo=at(1).tzinfo))
    return a, b


def test_lost_deals_by_reason_stage_manager_category(lost, owner):
    a, b = lost

    def rows(by):
        return [
            (r.key, r.deals, r.amount) for r in lost_summary(viewer=owner, period=NOVEMBER, by=by)
        ]

    assert rows("reason") == [
        ("цена", 2, Decimal("150000.00")),
        ("нет в наличии", 1, Decimal("20000.00")),
    ]
    assert rows("stage") == [
        ("quote", 2, Decimal("120000.00")),
        ("contact", 1, Decimal("50000.00")),
    ]
    assert rows("manager") == [(a.pk, 1, Decimal("100000.00")), (b.pk, 2, Decimal("70000.00"))]
    assert rows("category") == [
        ("rebar", 1, Decimal("100000.00")),
        ("pipe", 1, Decimal("50000.00")),
        (None, 1, Decimal("20000.00")),
    ]
    assert lost_reasons_by_stage(viewer=owner, period=NOVEMBER) == [
        {"reason": "нет в наличии", "stage": "quote", "deals": 1, "amount": Decimal("20000.00")},
        {"reason": "цена", "stage": "contact", "deals": 1, "amount": Decimal("50000.00")},
        {"reason": "цена", "stage": "quote", "deals": 1, "amount": Decimal("100000.00")},
    ]
