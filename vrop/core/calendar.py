"""The Russian working-day calendar with company working hours.

Public holidays and the government's transferred working days come from ``holidays``
(its RU calendar knows that Saturday 2025-11-01 was a working day and 2026-01-09 a day
off). Working minutes count only the company's hours on working days, in company time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

DEFAULT_TZ = ZoneInfo("Europe/Moscow")


@lru_cache(maxsize=64)
def _ru_calendar(year: int):
    return holidays.country_holidays("RU", years=year)


@lru_cache(maxsize=8192)
def is_working_day(day: date) -> bool:
    calendar = _ru_calendar(day.year)
    if hasattr(calendar, "is_working_day"):
        return calendar.is_working_day(day)
    return day.weekday() < 5 and day not in calendar


def working_days_between(start: date, end: date) -> int:
    """Working days in [start, end], both included."""
    if end < start:
        return 0
    count = 0
    day = start
    while day <= end:
        count += is_working_day(day)
        day += timedelta(days=1)
    return count


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after ``day`` (n ≥ 0; n = 0 gives ``day`` or the next working day)."""
    current = day
    while not is_working_day(current):
        current += timedelta(days=1)
    remaining = n
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


class WorkingTime:
    """Working hours on working days in one time zone."""

    def __init__(
        self, start: time = time(9, 0), end: time = time(18, 0), tz: ZoneInfo = DEFAULT_TZ
    ):
        self.start = start
        self.end = end
        self.tz = tz
        self.minutes_per_day = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)

    @classmethod
    def for_company(cls) -> WorkingTime:
        from vrop.core.policy import company_settings

        row = company_settings()
        return cls(row.workday_start, row.workday_end, ZoneInfo(row.time_zone))

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def _day_bounds(self, day: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.start, self.tz),
            datetime.combine(day, self.end, self.tz),
        )

    def minutes_between(self, start: datetime, end: datetime) -> int:
        """Working minutes from ``start`` to ``end`` (0 if end is not after start)."""
        if end <= start:
            return 0
        start_local, end_local = self._local(start), self._local(end)
        total = 0.0
        day = start_local.date()
        while day <= end_local.date():
            if is_working_day(day):
                open_at, close_at = self._day_bounds(day)
                lo, hi = max(open_at, start_local), min(close_at, end_local)
                if hi > lo:
                    total += (hi - lo).total_seconds() / 60
            day += timedelta(days=1)
        return int(total)

    def add_minutes(self, start: datetime, minutes: int) -> datetime:
        """The moment ``minutes`` working minutes after ``start``."""
        current = self._local(start)
        remaining = float(minutes)
        while True:
            day = current.date()
            if is_working_day(day):
                open_at, close_at = self._day_bounds(day)
                if current < open_at:
                    current = open_at
                if current < close_at:
                    available = (close_at - current).total_seconds() / 60
                    if remaining <= available:
                        return current + timedelta(minutes=remaining)
                    remaining -= available
            current = datetime.combine(day + timedelta(days=1), time(0, 0), self.tz)
