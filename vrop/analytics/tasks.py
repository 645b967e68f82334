"""Background tasks of analytics: scheduled delivery of the periodic reports."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="17"))
def reports_deliver_task() -> int:
    """Hourly: send each subscription the report of its last complete period, once."""
    from vrop.analytics.reports import reports_deliver_due

    return reports_deliver_due()
