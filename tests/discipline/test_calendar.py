"""The working-day calendar on the edges the issue names, the cut-off used by sweeps,
and working time counted in SQL (the ``WorkingDay`` table) against the Python count."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import DealFactory
from vrop.core.calendar import WorkingTime, add_working_days, is_working_day
from vrop.crm.models import Deal
from vrop.discipline.models import WorkingDay
from vrop.discipline.worktime import ensure_calendar, position_annotations, working_cutoff

MSK = ZoneInfo("Europe/Moscow")
HOURS = WorkingTime()  # 09:00–18:00 Moscow, the company default


def msk(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MSK)


# --- the edges of the issue -------------------------------------------------------------


def test_a_request_at_1755_on_friday_is_due_for_first_contact_at_0910_on_monday():
    arrived = msk(2026, 11, 20, 17, 55)  # Friday
    assert HOURS.add_minutes(arrived, 15) == msk(2026, 11, 23, 9, 10)
    assert HOURS.minutes_between(arrived, msk(2026, 11, 23, 9, 10)) == 15
    assert HOURS.minutes_between(arrived, msk(2026, 11, 21, 12, 0)) == 5  # Saturday: only 5


def test_new_year_holidays_and_the_transferred_day_off_on_9_january_2026():
    assert not is_working_day(dt.date(2025, 12, 31))  # moved from Saturday 4 January
    assert not is_working_day(dt.date(2026, 1, 9))  # moved from Saturday 3 January
    assert is_working_day(dt.date(2026, 1, 12))
    arrived = msk(2025, 12, 30, 17, 0)  # the last working day of 2025
    assert HOURS.add_minutes(arrived, 120) == msk(2026, 1, 12, 10, 0)
    assert HOURS.minutes_between(arrived, msk(2026, 1, 11, 23, 0)) == 60


def test_may_holidays_2026():
    assert [is_working_day(dt.date(2026, 5, day)) for day in (1, 4, 8, 9, 11, 12)] == [
        False,
        True,
        True,
        False,
        False,  # 9 May falls on a Saturday, the day off moves to Monday 11 May
        True,
    ]
    assert HOURS.add_minutes(msk(2026, 4, 30, 17, 30), 60) == msk(2026, 5, 4, 9, 30)
    assert HOURS.add_minutes(msk(2026, 5, 8, 17, 0), 120) == msk(2026, 5, 12, 10, 0)


def test_a_transferred_saturday_is_a_working_day():
    assert is_working_day(dt.date(2025, 11, 1))  # Saturday, worked for Monday 3 November
    assert not is_working_day(dt.date(2025, 11, 3))
    assert HOURS.add_minutes(msk(2025, 10, 31, 17, 0), 120) == msk(2025, 11, 1, 10, 0)
    assert HOURS.minutes_between(msk(2025, 11, 1, 9, 0), msk(2025, 11, 5, 9, 0)) == 540
    assert add_working_days(dt.date(2025, 10, 31), 1) == dt.date(2025, 11, 1)


# --- the cut-off: "more than N working minutes before at" ⇔ "before the cut-off" -------


def test_cutoff_lands_inside_the_working_day():
    assert working_cutoff(msk(2026, 11, 18, 12, 0), 60, HOURS) == msk(2026, 11, 18, 11, 0)


def test_cutoff_over_a_weekend_and_exactly_at_the_opening():
    # 15 minutes before Monday 09:15 is Monday 09:00, and everything since Friday 18:00
    # is equally far: the cut-off is the last working moment, Friday 18:00.
    assert working_cutoff(msk(2026, 11, 23, 9, 15), 15, HOURS) == msk(2026, 11, 20, 18, 0)
    assert working_cutoff(msk(2026, 11, 23, 9, 10), 15, HOURS) == msk(2026, 11, 20, 17, 55)


def test_cutoff_of_one_working_day_over_the_may_holidays():
    assert working_cutoff(msk(2026, 5, 12, 10, 0), 540, HOURS) == msk(2026, 5, 8, 10, 0)


@settings(max_examples=150, deadline=None)
@given(
    at=st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2026, 12, 31)),
    minutes=st.integers(min_value=1, max_value=5000),
)
def test_cutoff_agrees_with_minutes_between(at, minutes):
    at = at.replace(second=0, microsecond=0, tzinfo=MSK)
    cutoff = working_cutoff(at, minutes, HOURS)
    assert HOURS.minutes_between(cutoff, at) == minutes
    assert HOURS.minutes_between(cutoff - dt.timedelta(minutes=1), at) == minutes + 1


# --- working time in SQL ----------------------------------------------------------------

PAIRS = [
    (msk(2026, 11, 20, 17, 55), msk(2026, 11, 23, 9, 10)),  # Friday evening → Monday
    (msk(2025, 12, 30, 17, 0), msk(2026, 1, 12, 10, 0)),  # over the New Year holidays
    (msk(2026, 4, 30, 17, 30), msk(2026, 5, 4, 9, 30)),  # over 1 May
    (msk(2025, 10, 31, 17, 0), msk(2025, 11, 1, 10, 0)),  # onto a transferred Saturday
    (msk(2026, 11, 18, 7, 0), msk(2026, 11, 18, 20, 0)),  # before opening, after closing
    (msk(2026, 11, 18, 10, 0, 30), msk(2026, 11, 18, 10, 15, 10)),  # seconds count
    (msk(2026, 11, 21, 10, 0), msk(2026, 11, 22, 15, 0)),  # a weekend only
]


@pytest.mark.django_db
def test_sql_working_time_equals_the_calendar():
    ensure_calendar(HOURS)
    deals = [DealFactory(received_at=start, first_contact_at=end) for start, end in PAIRS]
    rows = (
        Deal.objects.filter(pk__in=[d.pk for d in deals])
        .alias(**position_annotations("received_at", "a", HOURS))
        .alias(**position_annotations("first_contact_at", "b", HOURS))
        .annotate(seconds=models_f("b") - models_f("a"))
        .values_list("pk", "seconds")
    )
    seconds = dict(rows)
    expected = {d.pk: HOURS.minutes_between(s, e) for d, (s, e) in zip(deals, PAIRS, strict=True)}
    assert {pk: value // 60 for pk, value in seconds.items()} == expected
    assert expected[deals[0].pk] == 15 and expected[deals[5].pk] == 14
    assert seconds[deals[5].pk] == 14 * 60 + 40


def models_f(name):
    from django.db.models import F

    return F(name)


@pytest.mark.django_db
def test_calendar_table_is_rebuilt_when_the_hours_change():
    WorkingDay.objects.all().delete()  # another test may have committed a table
    assert ensure_calendar(HOURS) is True
    assert ensure_calendar(HOURS) is False
    day = WorkingDay.objects.get(day=dt.date(2026, 1, 12))
    assert (day.is_working, day.working_seconds) == (True, 9 * 3600)
    shorter = WorkingTime(dt.time(10, 0), dt.time(17, 0), MSK)
    assert ensure_calendar(shorter) is True
    day = WorkingDay.objects.get(day=dt.date(2026, 1, 12))
    previous = WorkingDay.objects.get(day=dt.date(2026, 1, 11))
    assert (day.working_seconds, day.seconds_before) == (7 * 3600, previous.seconds_before)
    assert WorkingDay.objects.get(day=dt.date(2026, 1, 9)).working_seconds == 0
