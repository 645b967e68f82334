"""Background tasks of planning: the daily forecast snapshot."""

from __future__ import annotations

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_task()
def forecast_snapshot_task(on: str | None = None) -> str:
    """Take (or retake) the snapshot of ``on`` (ISO date; today by default)."""
    from datetime import date

    from vrop.planning.services import forecast_snapshot_take

    day = date.fromisoformat(on) if on else timezone.localdate()
    return str(forecast_snapshot_take(on=day).total)


@db_periodic_task(crontab(minute="7"))
def forecast_snapshot_daily_task() -> bool:
    """Hourly check: the first run of each day keeps that day's forecast (idempotent)."""
    from vrop.planning.models import ForecastSnapshot
    from vrop.planning.services import forecast_snapshot_take

    today = timezone.localdate()
    if ForecastSnapshot.objects.filter(made_on=today).exists():
        return False
    forecast_snapshot_take(on=today)
    return True
