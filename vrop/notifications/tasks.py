"""Background tasks of the notifications: thin and idempotent.

- ``deliver_outbox_task``: enqueued when a transaction that wrote outbox rows commits;
  delivers what is due and schedules itself again for the next retry it knows of.
- ``deliver_outbox_periodic_task``: every minute, the safety net (a lost enqueue, a
  retry far in the future, claims of a worker that died).
- ``digest_send_due_task``: every minute, each person's daily digest at their time.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

# A follow-up delivery is scheduled only for retries this close; the periodic sweep takes
# the rest.
FOLLOW_UP_WITHIN_SECONDS = 60


@db_task()
def deliver_outbox_task() -> dict:
    from vrop.notifications.delivery import deliver_outbox

    report = deliver_outbox()
    wait = report.next_due_in
    if wait is not None and wait <= FOLLOW_UP_WITHIN_SECONDS:
        deliver_outbox_task.schedule(delay=max(wait, 0.5))
    return report.as_dict()


@db_periodic_task(crontab(minute="*"))
def deliver_outbox_periodic_task() -> dict:
    from vrop.notifications.delivery import deliver_outbox

    return deliver_outbox(max_seconds=50).as_dict()


@db_periodic_task(crontab(minute="*"))
def digest_send_due_task() -> dict:
    from vrop.notifications.digests import digest_send_due

    return digest_send_due()
