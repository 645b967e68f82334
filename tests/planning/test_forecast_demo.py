"""The demo company keeps reconstructed snapshots of its recent past, so that the forecast's
accuracy shows from its first day (two months of history, today Monday 23.11.2026)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from vrop.core.models import CompanySettings
from vrop.demo.generator import generate_demo, reset_demo_data
from vrop.planning.forecast import forecast_accuracy
from vrop.planning.models import ForecastSnapshot

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("Europe/Moscow"))


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), time_machine.travel(NOW, tick=False):
        stats = generate_demo(seed=5, today=TODAY, months=2)
    yield stats
    with django_db_blocker.unblock():
        reset_demo_data()
        CompanySettings.objects.all().delete()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_the_demo_reconstructs_mondays_firsts_and_the_last_week(demo):
    days = sorted(ForecastSnapshot.objects.values_list("made_on", flat=True))
    mondays = [dt.date(2026, 9, 7) + dt.timedelta(weeks=n) for n in range(11)]  # to 16.11
    last_week = [dt.date(2026, 11, 16) + dt.timedelta(days=n) for n in range(7)]
    firsts = [dt.date(2026, 10, 1), dt.date(2026, 11, 1)]  # on 1.09 nothing was known yet

    assert days == sorted(set(mondays + last_week + firsts))
    assert demo["forecastsnapshot"] == len(days)
    assert not ForecastSnapshot.objects.filter(reconstructed=False).exists()
    assert all(snapshot.total > 0 for snapshot in ForecastSnapshot.objects.all())


def test_the_demo_shows_the_accuracy_of_its_past_forecasts(demo, frozen):
    weeks = forecast_accuracy(at=TODAY, by="week", count=8)
    months = forecast_accuracy(at=TODAY, by="month", count=2)

    assert [(row.made_on, row.reconstructed) for row in weeks.rows] == [
        (row.period.start, True) for row in weeks.rows
    ]
    assert all(row.error_pct is not None for row in weeks.rows)
    assert weeks.mape is not None and weeks.mape > 0
    assert [row.made_on for row in months.rows] == [None, dt.date(2026, 10, 1)]
    assert months.mape is not None
