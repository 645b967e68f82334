"""Request processing speed (DESIGN.md "Numbers") against a hand-computed example, and
the SLA breaches per manager on the control board."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import DealFactory, RequestFactory
from vrop.crm.choices import Stage
from vrop.discipline.selectors import board, board_deals, sla_breaches_by_manager, sla_stats

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=MSK)  # Wednesday noon
MONDAY, WEDNESDAY = dt.date(2026, 11, 16), dt.date(2026, 11, 18)


def msk(day, hour, minute=0):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=MSK)


@pytest.fixture
def example(manager, other_manager):
    """Arrivals Monday–Wednesday; working minutes to first contact and quote in comments."""

    def deal(**fields):
        return DealFactory(manager=manager, client__manager=manager, **fields)

    deal(  # first contact 5, quote 90
        stage=Stage.QUOTE,
        received_at=msk(16, 10),
        first_contact_at=msk(16, 10, 5),
        quote_sent_at=msk(16, 11, 30),
    )
    deal(  # Friday-style evening arrival: first contact 5 + 20 = 25, quote 5 + 175 = 180
        stage=Stage.QUOTE,
        received_at=msk(16, 17, 55),
        first_contact_at=msk(17, 9, 20),
        quote_sent_at=msk(17, 11, 55),
    )
    deal(  # first contact 10; no quote after 360 + 180 = 540 working minutes: breached
        stage=Stage.CONTACT, received_at=msk(17, 12), first_contact_at=msk(17, 12, 10)
    )
    deal(stage=Stage.LEAD, received_at=msk(18, 11, 50))  # 10 minutes waiting: undecided
    deal(stage=Stage.LEAD, received_at=msk(18, 11))  # 60 minutes without contact: breached
    deal(stage=Stage.LOST, received_at=msk(17, 10), lost_reason="спам")  # closed: left out
    RequestFactory(manager=manager, received_at=msk(18, 11, 30))  # 30 min in the inbox
    RequestFactory(manager=manager, received_at=msk(13, 11, 30))  # before the period
    DealFactory(  # another manager's deal, 200 minutes to first contact
        manager=other_manager,
        client__manager=other_manager,
        stage=Stage.CONTACT,
        received_at=msk(16, 9),
        first_contact_at=msk(16, 12, 20),
        quote_sent_at=None,
    )


def test_sla_stats_for_one_manager_by_hand(example, manager, owner):
    with time_machine.travel(NOW, tick=False):
        stats = sla_stats(viewer=owner, date_from=MONDAY, date_to=WEDNESDAY, manager_id=manager.pk)
    assert stats["first_contact"] == {
        "measured": 3,
        "within_sla": 2,
        "pending_breached": 2,
        "breached": 3,
        "median_minutes": 10,
        "p90_minutes": 25,
        "share_within_pct": Decimal("40.0"),
    }
    assert stats["quote"] == {
        "measured": 2,
        "within_sla": 1,
        "pending_breached": 1,
        "breached": 2,
        "median_minutes": 90,
        "p90_minutes": 180,
        "share_within_pct": Decimal("33.3"),
    }
    assert stats["requests_on_time_pct"] == Decimal("40.0")


def test_sla_stats_follow_visibility(example, manager, other_manager):
    with time_machine.travel(NOW, tick=False):
        mine = sla_stats(viewer=other_manager, date_from=MONDAY, date_to=WEDNESDAY)
    assert mine["first_contact"]["measured"] == 1
    assert mine["first_contact"]["median_minutes"] == 200
    assert mine["first_contact"]["within_sla"] == 0
    assert mine["requests_on_time_pct"] == Decimal("0.0")


def test_empty_period_gives_no_numbers(owner):
    stats = sla_stats(viewer=owner, date_from=MONDAY, date_to=MONDAY)
    assert stats["first_contact"]["median_minutes"] is None
    assert stats["first_contact"]["share_within_pct"] is None


def test_breaches_per_manager_for_the_week_and_today(example, manager, other_manager, owner):
    with time_machine.travel(NOW, tick=False):
        week = sla_breaches_by_manager(viewer=owner, date_from=MONDAY, date_to=WEDNESDAY)
        day = sla_breaches_by_manager(viewer=owner, date_from=WEDNESDAY, date_to=WEDNESDAY)
        data = board(viewer=owner)
    assert week[manager.pk] == {"first_contact": 3, "quote": 2}
    assert week[other_manager.pk] == {"first_contact": 1, "quote": 1}
    assert day[manager.pk] == {"first_contact": 2, "quote": 0}
    rows = {row.manager_id: row for row in data.rows}
    assert (rows[manager.pk].sla_breaches_week, rows[manager.pk].sla_breaches_today) == (5, 2)
    assert rows[manager.pk].unprocessed_requests == 2
    assert (
        rows[other_manager.pk].sla_breaches_week,
        rows[other_manager.pk].sla_breaches_today,
    ) == (
        2,
        0,
    )


def test_board_click_through_lists_the_deals_behind_the_sla_numbers(example, manager, owner):
    with time_machine.travel(NOW, tick=False):
        week = board_deals(viewer=owner, manager_id=manager.pk, kind="sla")
        today = board_deals(viewer=owner, manager_id=manager.pk, kind="sla_today")
    # Late first contact and quote (Monday 17:55), a quote still waiting after 540 working
    # minutes (Tuesday 12:00), no contact for 60 minutes (today 11:00); not the deal on
    # time, the one waiting 10 minutes, nor the lost one.
    assert sorted(deal.received_at for deal in week) == [msk(16, 17, 55), msk(17, 12), msk(18, 11)]
    assert [deal.received_at for deal in today] == [msk(18, 11)]
