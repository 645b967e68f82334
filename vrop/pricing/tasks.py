"""Background work of the pricing area: thin and idempotent."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from vrop.pricing import services


@db_periodic_task(crontab(minute="*/15"))
def approvals_escalate_task() -> int:
    """Head-level requests undecided for the company's working hours go to the owner."""
    return services.approvals_escalate()


@db_periodic_task(crontab(hour="0", minute="5"))
def price_lists_apply_task() -> int:
    """Price lists whose effective date has come are written into the products."""
    return services.price_lists_apply_due()
