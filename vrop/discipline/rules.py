"""Discipline rules registered on the deal events of the service layer."""

from __future__ import annotations

from django.utils.translation import gettext as _

from vrop.core.rulebook import Violation, rule
from vrop.crm.choices import OPEN_STAGES
from vrop.crm.models import Task


@rule("deal.save")
def next_step_rule(deal, *, actor, context) -> list[Violation]:
    """Every open deal has an open task with a due date (its next step)."""
    if deal.stage not in OPEN_STAGES:
        return []
    has_next_step = Task.objects.filter(deal_id=deal.pk, done_at__isnull=True,
                                        due_at__isnull=False).exists()
    if has_next_step:
        return []
    return [Violation("no_next_step",
                      _("An open deal needs a next step: add a task with a due date."))]
