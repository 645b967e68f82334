"""The demo generated once per module (two months at scale 1, a fixed seed and today),
committed to the test database and removed after the module."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from vrop.core.models import CompanySettings
from vrop.demo.generator import generate_demo, reset_demo_data

TODAY = dt.date(2026, 11, 23)  # a Monday
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("Europe/Moscow"))
SEED = 7
MONTHS = 2


def clear_demo() -> None:
    reset_demo_data()
    CompanySettings.objects.all().delete()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), time_machine.travel(NOW, tick=False):
        stats = generate_demo(seed=SEED, today=TODAY, months=MONTHS)
    yield stats
    with django_db_blocker.unblock():
        clear_demo()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW
