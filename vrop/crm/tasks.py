"""Background tasks of the CRM: thin, idempotent, taking ids."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from vrop.crm.models import Deal
from vrop.crm.services import deal_recalculate, deal_refresh_next_step


@db_task()
def deal_refresh_task(deal_id: int) -> dict | None:
    """Refresh a deal's totals and next step (after a bulk price or task change)."""
    deal = Deal.objects.filter(pk=deal_id).first()
    if deal is None:
        return None
    deal_recalculate(deal)
    deal_refresh_next_step(deal)
    return {
        "deal": deal.pk,
        "amount": str(deal.amount),
        "next_step_at": deal.next_step_at.isoformat() if deal.next_step_at else None,
    }
