"""The demo's simulated managers show on the control board: the slow one leads the SLA
breaches, the careless one the deals without a next step (the issue's item 12)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from vrop.accounts.models import User
from vrop.core.models import CompanySettings
from vrop.demo.generator import generate_demo, reset_demo_data
from vrop.discipline.selectors import board, sla_stats

TODAY = dt.date(2026, 11, 23)  # a Monday
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("Europe/Moscow"))


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), time_machine.travel(NOW, tick=False):
        generate_demo(seed=3, today=TODAY, months=2)
    yield
    with django_db_blocker.unblock():
        reset_demo_data()
        CompanySettings.objects.all().delete()


def by_behaviour() -> dict[str, User]:
    return {
        user.extra["demo_behaviour"]: user
        for user in User.objects.filter(extra__has_key="demo_behaviour", role="manager")
        if user.extra["demo_behaviour"] in ("slow", "careless", "closer")
    }


@pytest.mark.django_db
def test_slow_and_careless_managers_lead_their_columns(demo):
    head = User.objects.get(email="head@demo.vrop")
    people = by_behaviour()
    with time_machine.travel(NOW, tick=False):
        rows = {row.manager_id: row for row in board(viewer=head).rows if row.manager}
        month = sla_stats(viewer=head, date_from=dt.date(2026, 10, 26), date_to=TODAY)
        slow_month = sla_stats(
            viewer=head,
            date_from=dt.date(2026, 10, 26),
            date_to=TODAY,
            manager_id=people["slow"].pk,
        )
    no_step = {pk: row.without_next_step for pk, row in rows.items()}
    assert max(no_step, key=no_step.get) == people["careless"].pk
    assert no_step[people["careless"].pk] > 2 * sorted(no_step.values())[-2]
    week = {pk: row.sla_breaches_week for pk, row in rows.items()}
    assert max(week, key=week.get) == people["slow"].pk
    assert slow_month["first_contact"]["median_minutes"] > month["first_contact"]["median_minutes"]
    assert slow_month["requests_on_time_pct"] < month["requests_on_time_pct"]
