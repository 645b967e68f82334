"""Rate limits shared by every worker process: GCRA (the generic cell rate algorithm, a
token bucket kept as one timestamp per key) in the database.

Each key stores its *theoretical arrival time* (TAT): the moment from which the bucket is
empty again. A message may go when ``TAT - interval × (burst - 1) <= now``; sending moves
the TAT on by one interval. The rows are locked (``SELECT … FOR UPDATE`` on PostgreSQL; on
SQLite the write transaction itself is exclusive), so two processes on two machines never
both take the last token. Why the database and not Redis: it is there in every
installation (Redis is optional), it survives restarts, and at Telegram's 25 messages a
second one short transaction per message costs nothing. See docs/notifications.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import transaction

from vrop.notifications.models import RateLimitState


@dataclass(frozen=True)
class Limit:
    key: str
    interval: float  # seconds between messages at the sustained rate
    burst: int = 1  # messages that may go back to back


def acquire(limits: list[Limit], *, now: float | None = None) -> float:
    """Take one token from every bucket in ``limits`` at once, or none. Returns 0.0 when
    taken, otherwise the seconds to wait before trying again."""
    now = time.time() if now is None else now
    keys = sorted({limit.key for limit in limits})
    with transaction.atomic():
        RateLimitState.objects.bulk_create(
            [RateLimitState(key=key, tat=0.0) for key in keys], ignore_conflicts=True
        )
        rows = {
            row.key: row
            for row in RateLimitState.objects.select_for_update()
            .filter(key__in=keys)
            .order_by("key")
        }
        wait = 0.0
        for limit in limits:
            tat = max(rows[limit.key].tat, now)
            allowed_at = tat - limit.interval * (limit.burst - 1)
            wait = max(wait, allowed_at - now)
        if wait > 0:
            return wait
        for limit in limits:
            row = rows[limit.key]
            row.tat = max(row.tat, now) + limit.interval
            row.save(update_fields=["tat"])
    return 0.0


def hold(key: str, *, until: float) -> None:
    """Nothing goes through ``key`` before ``until`` (epoch seconds): after a message
    completed, or when the channel said "retry after"."""
    with transaction.atomic():
        RateLimitState.objects.bulk_create(
            [RateLimitState(key=key, tat=0.0)], ignore_conflicts=True
        )
        row = RateLimitState.objects.select_for_update().get(key=key)
        if row.tat < until:
            row.tat = until
            row.save(update_fields=["tat"])


def wait_for(key: str, *, now: float | None = None) -> float:
    """Seconds until ``key`` lets one message through (burst 1), without taking it."""
    now = time.time() if now is None else now
    row = RateLimitState.objects.filter(key=key).first()
    return max(0.0, (row.tat if row else 0.0) - now)
