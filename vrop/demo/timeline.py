"""Working time as one integer: seconds of working time since the first working day.

A moment ``ws`` is ``day_index × seconds_per_day + second_of_the_working_day`` over the
Russian working days (``vrop.core.calendar.is_working_day``) between two dates, so that
"15 working minutes later" is ``ws + 900`` and a moment is formatted straight into the
naive UTC text Django stores, without datetime arithmetic in the hot loop.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from vrop.core.calendar import is_working_day

MOSCOW = ZoneInfo("Europe/Moscow")


class Timeline:
    def __init__(
        self,
        first: date,
        last: date,
        *,
        start: time = time(9, 0),
        end: time = time(18, 0),
        tz: ZoneInfo = MOSCOW,
    ):
        self.tz = tz
        self.day_seconds = (end.hour * 3600 + end.minute * 60) - (
            start.hour * 3600 + start.minute * 60
        )
        self.days: list[date] = []
        self.prefix: list[str] = []
        self.base: list[int] = []
        day = first
        while day <= last:
            if is_working_day(day):
                opens = datetime.combine(day, start, tz).astimezone(UTC)
                self.days.append(day)
                self.prefix.append(opens.strftime("%Y-%m-%d "))
                self.base.append(opens.hour * 3600 + opens.minute * 60)
            day += timedelta(days=1)
        self.index = {day: n for n, day in enumerate(self.days)}
        # "HH:MM:SS" of every second of the working day, per opening hour in UTC.
        clocks: dict[int, list[str] | None] = {}
        for base in set(self.base):
            if base + self.day_seconds <= 86400:
                clocks[base] = [
                    f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
                    for s in range(base, base + self.day_seconds + 1)
                ]
            else:
                clocks[base] = None
        self.clock = [clocks[base] for base in self.base]

    def day_index_on_or_after(self, day: date) -> int:
        while day not in self.index:
            day += timedelta(days=1)
            if day > self.days[-1]:
                return len(self.days)
        return self.index[day]

    def at(self, day_index: int, second: int) -> int:
        return day_index * self.day_seconds + second

    def day_of(self, ws: int) -> date:
        return self.days[ws // self.day_seconds]

    def moment(self, ws: int) -> str:
        """Naive UTC text of the moment, as Django stores it (``2026-03-05 07:15:00``)."""
        day_index, second = divmod(ws, self.day_seconds)
        clock = self.clock[day_index]
        if clock is not None:
            return self.prefix[day_index] + clock[second]
        # A working day that crosses midnight in UTC (far time zones).
        moment = datetime.strptime(self.prefix[day_index], "%Y-%m-%d ") + timedelta(
            seconds=self.base[day_index] + second
        )
        return moment.strftime("%Y-%m-%d %H:%M:%S")

    def aware(self, ws: int) -> datetime:
        return datetime.strptime(self.moment(ws), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def next_working_day(day: date, days: int = 0) -> date:
    """``day`` moved to a working day, then ``days`` working days further."""
    while not is_working_day(day):
        day += timedelta(days=1)
    while days > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            days -= 1
    return day
