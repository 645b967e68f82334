"""Shared clock of the forecast tests: today is Friday 20.11.2026 (Moscow)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

MSK = ZoneInfo("Europe/Moscow")
TODAY = dt.date(2026, 11, 20)


def moment(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), MSK)


def d(month: int, day: int) -> dt.date:
    return dt.date(2026, month, day)


@pytest.fixture
def frozen():
    with time_machine.travel(moment(TODAY), tick=False):
        yield
