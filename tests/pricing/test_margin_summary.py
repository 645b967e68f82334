"""The per-day, per-category margin summary: kept by the services on every path that wins,
reopens or re-prices a deal, equal to the sums over the lines, and never trusted when it
does not cover the period. The demo test comes last: its module-scoped company stays."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from tests.demo.conftest import TODAY, demo  # noqa: F401  (the module-scoped demo)
from tests.factories import ClientFactory, DealFactory, DealLineFactory, ProductFactory
from vrop.crm.choices import Stage
from vrop.crm.models import Deal
from vrop.crm.services import LineInput, deal_create, deal_lines_set, deal_stage_change
from vrop.pricing import selectors
from vrop.pricing.models import MarginDay, MarginDayDeal
from vrop.pricing.selectors import margin_report
from vrop.pricing.services import margin_days_rebuild, margin_days_refresh

pytestmark = pytest.mark.django_db

MSK = dt.timezone(dt.timedelta(hours=3))
TUESDAY = dt.datetime(2026, 11, 10, 12, tzinfo=MSK)
NOVEMBER = {"start": dt.date(2026, 11, 1), "end": dt.date(2026, 11, 30)}


@pytest.fixture
def products():
    rebar = ProductFactory(category="rebar", list_price=D("100"), cost_price=D("80"))
    sheet = ProductFactory(category="sheet", list_price=D("200"), cost_price=D("150"))
    return rebar, sheet


def open_deal(actor, lines):
    return deal_create(
        actor=actor,
        client=ClientFactory(manager=actor),
        stage=Stage.QUOTE,
        lines=[LineInput(product=p, qty=D(q), price=D(price)) for p, q, price in lines],
        next_step_title="Позвонить",
        next_step_due_at=TUESDAY + dt.timedelta(days=1),
    )


def summary():
    return list(
        MarginDay.objects.order_by("day", "category").values_list(
            "day", "category", "revenue", "cost", "listed_total", "discounted_revenue", "deals"
        )
    )


def by_category(viewer):
    return [
        (r["name"], r["revenue"], r["gross_profit"], r["discount_pct"], r["deals"])
        for r in margin_report(viewer=viewer, by="category", **NOVEMBER)
    ]


@time_machine.travel(TUESDAY, tick=False)
def test_winning_counts_the_deal_on_its_local_day(owner, products):
    rebar, sheet = products
    first = open_deal(owner, [(rebar, "10", "90"), (sheet, "1", "200")])
    second = open_deal(owner, [(rebar, "10", "99")])

    deal_stage_change(actor=owner, deal=first, stage=Stage.WON)
    deal_stage_change(actor=owner, deal=second, stage=Stage.WON, at=TUESDAY.replace(hour=23))

    assert summary() == [
        # 10 × 90 + 10 × 99; costs 10 × 80 twice; list 10 × 100 twice
        (dt.date(2026, 11, 10), "rebar", D("1890"), D("1600"), D("2000"), D("1890"), 2),
        (dt.date(2026, 11, 10), "sheet", D("200"), D("150"), D("200"), D("200"), 1),
    ]
    assert by_category(owner) == [
        ("rebar", D("1890.00"), D("290.00"), D("5.50"), 2),  # (100 + 10) / 2000
        ("sheet", D("200.00"), D("50.00"), D("0.00"), 1),
    ]


@time_machine.travel(TUESDAY, tick=False)
def test_a_deal_won_late_in_the_evening_counts_on_the_moscow_day(owner, products):
    rebar, _sheet = products
    deal = open_deal(owner, [(rebar, "1", "100")])

    # 01:30 Moscow on the 11th is 22:30 UTC on the 10th
    deal_stage_change(
        actor=owner, deal=deal, stage=Stage.WON, at=dt.datetime(2026, 11, 11, 1, 30, tzinfo=MSK)
    )

    assert MarginDayDeal.objects.get().day == dt.date(2026, 11, 11)
    assert [row[:2] for row in summary()] == [(dt.date(2026, 11, 11), "rebar")]


@time_machine.travel(TUESDAY, tick=False)
def test_reopening_or_losing_takes_the_deal_out_of_its_day(owner, products):
    rebar, sheet = products
    kept = open_deal(owner, [(rebar, "10", "90")])
    reopened = open_deal(owner, [(rebar, "1", "100"), (sheet, "2", "200")])
    deal_stage_change(actor=owner, deal=kept, stage=Stage.WON)
    deal_stage_change(actor=owner, deal=reopened, stage=Stage.WON)

    deal_stage_change(actor=owner, deal=reopened, stage=Stage.QUOTE)

    assert summary() == [
        (dt.date(2026, 11, 10), "rebar", D("900"), D("800"), D("1000"), D("900"), 1)
    ]
    assert list(MarginDayDeal.objects.values_list("deal_id", flat=True)) == [kept.pk]

    deal_stage_change(actor=owner, deal=kept, stage=Stage.LOST, lost_reason="Передумал")

    assert summary() == []
    assert MarginDayDeal.objects.count() == 0
    assert by_category(owner) == []


@time_machine.travel(TUESDAY, tick=False)
def test_new_lines_of_a_won_deal_are_counted_again(owner, products):
    rebar, sheet = products
    deal = open_deal(owner, [(rebar, "10", "90")])
    deal_stage_change(actor=owner, deal=deal, stage=Stage.WON)

    deal_lines_set(
        actor=owner,
        deal=Deal.objects.get(pk=deal.pk),
        lines=[LineInput(product=rebar, qty=D("5"), price=D("100")), LineInput(sheet, D("1"))],
    )

    assert summary() == [
        (dt.date(2026, 11, 10), "rebar", D("500"), D("400"), D("500"), D("500"), 1),
        (dt.date(2026, 11, 10), "sheet", D("200"), D("150"), D("200"), D("200"), 1),
    ]


@time_machine.travel(TUESDAY, tick=False)
def test_won_again_on_another_day_moves_the_deal(owner, products):
    rebar, _sheet = products
    deal = open_deal(owner, [(rebar, "10", "90")])
    deal_stage_change(actor=owner, deal=deal, stage=Stage.WON)
    deal_stage_change(actor=owner, deal=deal, stage=Stage.QUOTE)

    deal_stage_change(actor=owner, deal=deal, stage=Stage.WON, at=TUESDAY + dt.timedelta(days=2))

    assert [row[:2] for row in summary()] == [(dt.date(2026, 11, 12), "rebar")]


@time_machine.travel(TUESDAY, tick=False)
def test_the_summary_equals_the_lines_and_the_refresh_is_idempotent(owner, products):
    rebar, sheet = products
    for n, day in enumerate((1, 5, 5, 20)):
        deal = open_deal(owner, [(rebar, str(n + 1), "95"), (sheet, "2", str(180 + n))])
        deal_stage_change(
            actor=owner, deal=deal, stage=Stage.WON, at=dt.datetime(2026, 11, day, 15, tzinfo=MSK)
        )
    before = summary()

    assert margin_days_refresh(Deal.objects.all()) == 3  # three days recomputed
    assert summary() == before
    from_summary = margin_report(viewer=owner, by="category", **NOVEMBER)
    from_lines = list(
        selectors._margin_by_category_lines(
            owner, *selectors._day_bounds(NOVEMBER["start"], NOVEMBER["end"]), narrower=False
        )
    )
    assert {r["name"]: (r["revenue"], r["deals"]) for r in from_summary} == {
        row["category"]: (D(row["revenue"]).quantize(D("0.01")), row["deals"]) for row in from_lines
    }
    assert {r["name"]: r["revenue"] for r in from_summary} == {
        "rebar": D("950.00"),  # (1 + 2 + 3 + 4) × 95
        "sheet": D("1452.00"),  # 2 × (180 + 181 + 182 + 183)
    }


@time_machine.travel(TUESDAY, tick=False)
def test_a_won_deal_written_around_the_services_makes_the_report_read_the_lines(
    owner, products, django_assert_num_queries
):
    rebar, _sheet = products
    deal = open_deal(owner, [(rebar, "10", "90")])
    deal_stage_change(actor=owner, deal=deal, stage=Stage.WON)
    bypass = DealFactory(client=ClientFactory(manager=owner), stage=Stage.WON, closed_at=TUESDAY)
    DealLineFactory(deal=bypass, product=rebar, qty=D("1"), price=D("100"))

    # profit (900 − 800) + (100 − 80); discount 110 / 1100
    assert summary()[0][-1] == 1  # the summary does not know the second deal
    assert by_category(owner) == [("rebar", D("1000.00"), D("120.00"), D("9.09"), 2)]

    margin_days_refresh(Deal.objects.filter(pk=bypass.pk))

    assert summary()[0][-1] == 2
    with django_assert_num_queries(3):  # two counts, the summary
        assert by_category(owner) == [("rebar", D("1000.00"), D("120.00"), D("9.09"), 2)]


@time_machine.travel(TUESDAY, tick=False)
def test_a_won_deal_deleted_around_the_services_is_noticed_and_rebuilt(owner, products):
    rebar, _sheet = products
    kept = open_deal(owner, [(rebar, "10", "90")])
    deleted = open_deal(owner, [(rebar, "1", "100")])
    deal_stage_change(actor=owner, deal=kept, stage=Stage.WON)
    deal_stage_change(actor=owner, deal=deleted, stage=Stage.WON)

    Deal.objects.filter(pk=deleted.pk).delete()

    # the summary still counts two deals; the report sees it and reads the lines
    assert summary()[0][-1] == 2
    assert by_category(owner) == [("rebar", D("900.00"), D("100.00"), D("10.00"), 1)]

    margin_days_rebuild()

    assert summary() == [
        (dt.date(2026, 11, 10), "rebar", D("900"), D("800"), D("1000"), D("900"), 1)
    ]
    assert list(MarginDayDeal.objects.values_list("deal_id", flat=True)) == [kept.pk]


def test_the_demo_fills_the_summary(demo, owner):  # noqa: F811
    start, end = TODAY - dt.timedelta(days=365), TODAY
    since, until = selectors._day_bounds(start, end)

    assert selectors._summary_covers(start, end, since, until)
    from_summary = margin_report(viewer=owner, start=start, end=end, by="category")
    from_lines = selectors._margin_by_category_lines(owner, since, until, narrower=False)
    assert from_summary and {r["name"]: (r["revenue"], r["deals"]) for r in from_summary} == {
        row["category"]: (D(row["revenue"]).quantize(D("0.01")), row["deals"]) for row in from_lines
    }
