"""Periods of reports and KPIs: a day, a week (Monday to Sunday), a month, a quarter, a
year; and the scope a number is computed for (the company, a team or a manager)."""

from __future__ import annotations

import calendar as std_calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vrop.core.errors import ValidationError

PERIOD_KINDS = {
    "day": _("day"),
    "week": _("week"),
    "month": _("month"),
    "quarter": _("quarter"),
    "year": _("year"),
}


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included
    kind: str = "custom"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        if self.kind in ("custom", "day", "week"):
            return Period(
                self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.kind
            )
        return period_of(self.kind, self.start - timedelta(days=1))

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


def month_end(day: date) -> date:
    return day.replace(day=std_calendar.monthrange(day.year, day.month)[1])


def period_of(kind: str, day: date) -> Period:
    """The period of ``kind`` that contains ``day``."""
    if kind == "day":
        return Period(day, day, kind)
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(start, start + timedelta(days=6), kind)
    if kind == "month":
        return Period(day.replace(day=1), month_end(day), kind)
    if kind == "quarter":
        first_month = 3 * ((day.month - 1) // 3) + 1
        start = date(day.year, first_month, 1)
        return Period(start, month_end(date(day.year, first_month + 2, 1)), kind)
    if kind == "year":
        return Period(date(day.year, 1, 1), date(day.year, 12, 31), kind)
    raise ValidationError(_("Unknown period “%(kind)s”.") % {"kind": kind}, field="period")


def last_complete_period(kind: str, today: date) -> Period:
    """The last period of ``kind`` that ended before ``today`` (what a report covers)."""
    return period_of(kind, period_of(kind, today).start - timedelta(days=1))


def custom_period(start: date, end: date) -> Period:
    if end < start:
        raise ValidationError(_("The period ends before it starts."), field="to")
    if (end - start).days > 366 * 5:
        raise ValidationError(_("The period is longer than five years."), field="to")
    return Period(start, end, "custom")


def day_start(day: date) -> datetime:
    """Midnight of ``day`` in the current (company) time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def datetime_range(period: Period) -> tuple[datetime, datetime]:
    """[start, end) of the period as aware datetimes, for datetime columns."""
    return day_start(period.start), day_start(period.end + timedelta(days=1))


@dataclass(frozen=True)
class Scope:
    """Whose numbers: the company (nothing set), a team or a manager."""

    manager_id: int | None = None
    team_id: int | None = None

    @property
    def is_company(self) -> bool:
        return self.manager_id is None and self.team_id is None

    def filter(self, manager_field: str = "manager") -> dict:
        """Lookups narrowing a query to the scope, given the path of its manager column."""
        if self.manager_id is not None:
            return {f"{manager_field}_id": self.manager_id}
        if self.team_id is not None:
            return {f"{manager_field}__team_id": self.team_id}
        return {}
