"""Background tasks of receivables: thin and idempotent.

- ``receivables_sweep_task``: the daily pass (promises kept or missed, escalations, new
  overdue alerts, the automatic stop of clients overdue beyond the threshold and its
  lifting, clients near the limit); safe to run any number of times a day.
- ``receivables_sweep_periodic_task``: runs it every hour from 7:00 to 20:00 (Moscow
  time on the default settings), so a day's changes are seen within the hour.
- ``payment_import_task``: loads a statement file saved in the data directory (big
  files uploaded through the API can be handed to a worker).
"""

from __future__ import annotations

from datetime import date

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_task()
def receivables_sweep_task(day: str | None = None) -> dict:
    from vrop.receivables.services import receivables_sweep

    return receivables_sweep(at=date.fromisoformat(day) if day else None)


@db_periodic_task(crontab(minute="5", hour="4-17"))
def receivables_sweep_periodic_task() -> dict:
    from vrop.receivables.services import receivables_sweep

    return receivables_sweep()


@db_task()
def payment_import_task(path: str, actor_id: int | None = None) -> dict:
    from pathlib import Path

    from vrop.accounts.models import User
    from vrop.receivables.services import payment_import_load

    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    file = Path(path)
    batch = payment_import_load(actor=actor, content=file.read_bytes(), file_name=file.name)
    return {
        "import": batch.pk,
        "rows": batch.rows_total,
        "applied": batch.rows_applied,
        "to_confirm": batch.rows_to_confirm,
        "unmatched": batch.rows_unmatched,
    }
