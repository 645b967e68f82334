"""Background work of the discipline area: thin, idempotent, taking ids."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from vrop.discipline import services
from vrop.discipline.worktime import ensure_calendar


def _summary(result: services.SweepResult) -> dict:
    return {
        "opened": {str(k): v for k, v in result.opened.items()},
        "resolved": {str(k): v for k, v in result.resolved.items()},
        "escalated": result.escalated,
        "nudges": result.nudges,
        "seconds": round(result.seconds, 3),
    }


@db_task()
def sweep_deals_task(deal_ids: list[int]) -> dict:
    """The incremental sweep after a change of these deals."""
    return _summary(services.sweep(deal_ids=list(deal_ids)))


@db_task()
def sweep_requests_task(request_ids: list[int]) -> dict:
    return _summary(services.sweep(request_ids=list(request_ids)))


@db_periodic_task(crontab(minute="*/5"))
def sweep_task() -> dict:
    """The full sweep: every deal and request, every five minutes."""
    return _summary(services.sweep())


@db_periodic_task(crontab(hour="3", minute="17"))
def working_calendar_task() -> bool:
    """Rebuild the working-day table nightly (new transfers, changed company hours)."""
    return ensure_calendar(rebuild=True)
