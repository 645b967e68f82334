"""Working time for sweeps and SLA numbers, computed once in Python or in SQL.

Two tools turn "more than N working minutes" into set-based SQL:

- ``working_cutoff(at, minutes)``: the moment ``c`` such that a moment ``t`` lies more
  than ``minutes`` working minutes before ``at`` exactly when ``t < c``. A threshold in
  working time ("in the stage longer than 3 working days") becomes one timestamp per
  threshold, computed once, and the sweep is one indexed query.
- ``working_position(field)``: the position of a datetime column on the working-time
  axis, in working seconds, read from the ``WorkingDay`` table by a correlated
  subquery; the working seconds between two columns are the difference of their
  positions. It counts exactly what ``WorkingTime.minutes_between`` counts (in seconds).

A working day of the norms ("1 working day") is the company's working hours of one
day (9 hours by default), so "longer than 1 working day" means more than 540 working
minutes.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import connections, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    DateTimeField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import (
    Cast,
    ExtractHour,
    ExtractMinute,
    ExtractSecond,
    Greatest,
    Least,
    TruncDate,
)

from vrop.core.calendar import WorkingTime, is_working_day

CALENDAR_FIRST_DAY = date(2010, 1, 1)
CALENDAR_LAST_DAY = date(2040, 12, 31)


def working_cutoff(at: datetime, minutes: int, working_time: WorkingTime | None = None):
    """The latest moment ``c`` with exactly ``minutes`` working minutes between it and
    ``at`` — the earliest such moment, so that ``t < c`` ⇔ more than ``minutes`` working
    minutes lie between ``t`` and ``at``."""
    working_time = working_time or WorkingTime.for_company()
    tz = working_time.tz
    current = at.astimezone(tz)
    remaining = timedelta(minutes=minutes)
    while True:
        day = current.date()
        if is_working_day(day):
            open_at = datetime.combine(day, working_time.start, tz)
            close_at = datetime.combine(day, working_time.end, tz)
            if current > close_at:
                current = close_at
            if current > open_at:
                available = current - open_at
                if remaining < available:
                    return current - remaining
                remaining -= available
        current = datetime.combine(day - timedelta(days=1), time.max, tz)
        if day < CALENDAR_FIRST_DAY:
            return current


def working_days_cutoff(at: datetime, days: int, working_time: WorkingTime | None = None):
    """``working_cutoff`` for a norm in working days (a day = the company's hours)."""
    working_time = working_time or WorkingTime.for_company()
    return working_cutoff(at, days * working_time.minutes_per_day, working_time)


def _seconds_of(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def calendar_rows(working_time: WorkingTime, first: date, last: date):
    """(day, is_working, seconds_before, working_seconds, opens_second, day_seconds)."""
    opens = _seconds_of(working_time.start)
    length = max(_seconds_of(working_time.end) - opens, 0)
    day, before = first, 0
    while day <= last:
        working = is_working_day(day)
        own = length if working else 0
        yield (day, working, before, own, opens, length)
        before += own
        day += timedelta(days=1)


def ensure_calendar(working_time: WorkingTime | None = None, *, rebuild: bool = False) -> bool:
    """Make sure the ``WorkingDay`` table covers its years for the company's hours;
    (re)build it when it does not. Returns True when it was rebuilt."""
    from vrop.discipline.models import WorkingDay

    working_time = working_time or WorkingTime.for_company()
    opens = _seconds_of(working_time.start)
    length = max(_seconds_of(working_time.end) - opens, 0)
    ends = {
        row["day"]: row
        for row in WorkingDay.objects.filter(
            day__in=[CALENDAR_FIRST_DAY, CALENDAR_LAST_DAY]
        ).values("day", "opens_second", "day_seconds")
    }
    current = len(ends) == 2 and all(
        row["opens_second"] == opens and row["day_seconds"] == length for row in ends.values()
    )
    if current and not rebuild:
        return False
    connection = connections[WorkingDay.objects.db]
    quote = connection.ops.quote_name
    columns = ("day", "is_working", "seconds_before", "working_seconds", "opens_second")
    columns += ("day_seconds",)
    statement = (
        f"INSERT INTO {quote(WorkingDay._meta.db_table)} "
        f"({', '.join(quote(c) for c in columns)}) VALUES (%s, %s, %s, %s, %s, %s)"
    )
    rows = [
        (connection.ops.adapt_datefield_value(row[0]), *row[1:])
        for row in calendar_rows(working_time, CALENDAR_FIRST_DAY, CALENDAR_LAST_DAY)
    ]
    hours_changed = len(ends) == 2 and not current
    with transaction.atomic(using=WorkingDay.objects.db):
        WorkingDay.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.executemany(statement, rows)
        if hours_changed:
            # The company's hours changed: every stored response time was counted on the
            # old hours.
            from vrop.crm.models import Deal

            refresh_response_times(
                Deal.objects.filter(
                    Q(first_contact_at__isnull=False) | Q(quote_sent_at__isnull=False)
                ),
                working_time,
            )
    return True


def local_seconds(moment, tz) -> object:
    """Seconds since local midnight of a datetime (a column name or an expression), in the
    company's time zone."""
    return (
        ExtractHour(moment, tzinfo=tz) * Value(3600)
        + ExtractMinute(moment, tzinfo=tz) * Value(60)
        + Cast(ExtractSecond(moment, tzinfo=tz), IntegerField())
    )


def working_position(field: str, working_time: WorkingTime) -> Subquery:
    """The position of the outer row's datetime column ``field`` on the working-time axis,
    in working seconds: a correlated subquery on ``WorkingDay`` (its primary key) — the
    seconds of all working days before that day plus the working seconds of that day up to
    the moment. NULL when ``field`` is NULL or outside the table's years."""
    from vrop.discipline.models import WorkingDay

    tz = working_time.tz
    opens = _seconds_of(working_time.start)
    moment = ExpressionWrapper(OuterRef(field), output_field=DateTimeField())
    position = (
        WorkingDay.objects.filter(day=TruncDate(moment, tzinfo=tz))
        .order_by()
        .annotate(
            position=ExpressionWrapper(
                F("seconds_before")
                + Least(
                    Greatest(local_seconds(moment, tz) - Value(opens), Value(0)),
                    F("working_seconds"),
                    output_field=BigIntegerField(),
                ),
                output_field=BigIntegerField(),
            )
        )
        .values("position")[:1]
    )
    return Subquery(position, output_field=BigIntegerField())


def position_annotations(field: str, name: str, working_time: WorkingTime) -> dict:
    """An annotation that puts ``field`` on the working-time axis as ``name`` (seconds)."""
    return {name: working_position(field, working_time)}


def response_seconds(field: str, working_time: WorkingTime):
    """Working seconds from a deal's arrival to ``field`` (NULL while ``field`` is empty),
    for an UPDATE of the deals or an annotation on them."""
    elapsed = Greatest(
        working_position(field, working_time) - working_position("received_at", working_time),
        Value(0),
    )
    return Case(When(**{f"{field}__isnull": True}, then=Value(None)), default=elapsed)


def refresh_response_times(deals, working_time: WorkingTime | None = None) -> int:
    """Write ``first_contact_work_seconds`` and ``quote_work_seconds`` of ``deals`` (a
    queryset of Deal) from their arrival, first contact and quote moments — the one place
    these facts are computed. Every path that sets one of the moments calls it for the
    deals it touched (the services for one deal; import and the demo for what they
    loaded); a change of the company's working hours calls it for all deals."""
    working_time = working_time or WorkingTime.for_company()
    ensure_calendar(working_time)
    return deals.order_by().update(
        first_contact_work_seconds=response_seconds("first_contact_at", working_time),
        quote_work_seconds=response_seconds("quote_sent_at", working_time),
    )
