"""The shared rate limiter (GCRA in the database), on a given clock."""

from __future__ import annotations

import pytest

from vrop.notifications import ratelimit
from vrop.notifications.ratelimit import Limit

pytestmark = pytest.mark.django_db

CHAT = Limit("telegram:chat:1", 1.0)
ALL = Limit("telegram:all", 1 / 25, 25)


def test_one_a_second_per_chat():
    assert ratelimit.acquire([CHAT], now=100.0) == 0.0
    assert ratelimit.acquire([CHAT], now=100.4) == pytest.approx(0.6)
    assert ratelimit.acquire([CHAT], now=101.0) == 0.0
    assert ratelimit.acquire([CHAT], now=101.999) == pytest.approx(0.001)


def test_twenty_five_at_once_then_one_each_forty_milliseconds():
    taken = [ratelimit.acquire([ALL], now=200.0) for _ in range(26)]

    assert taken[:25] == [0.0] * 25
    assert taken[25] == pytest.approx(0.04)
    assert ratelimit.acquire([ALL], now=200.04) == 0.0
    assert ratelimit.acquire([ALL], now=200.05) == pytest.approx(0.03)


def test_all_buckets_or_none():
    other_chat = Limit("telegram:chat:2", 1.0)
    assert ratelimit.acquire([CHAT, ALL], now=300.0) == 0.0

    wait = ratelimit.acquire([CHAT, ALL], now=300.5)  # the chat is not ready: nothing taken

    assert wait == pytest.approx(0.5)
    taken = [ratelimit.acquire([other_chat, ALL], now=300.5)]
    taken += [
        ratelimit.acquire([Limit(f"telegram:chat:{n}", 1.0), ALL], now=300.5) for n in range(3, 26)
    ]
    assert taken == [0.0] * 24  # 1 + 24 = the burst of 25, the refused try took none
    assert ratelimit.acquire([Limit("telegram:chat:99", 1.0), ALL], now=300.5) > 0


def test_hold_after_retry_after():
    ratelimit.hold("telegram:chat:1", until=500.0)

    assert ratelimit.acquire([CHAT], now=497.0) == pytest.approx(3.0)
    assert ratelimit.wait_for("telegram:chat:1", now=499.0) == pytest.approx(1.0)
    assert ratelimit.acquire([CHAT], now=500.0) == 0.0
