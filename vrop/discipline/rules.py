"""Discipline rules registered on the deal events of the service layer."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from vrop.core.rulebook import Violation, rule
from vrop.crm.choices import OPEN_STAGES
from vrop.crm.models import Task


def next_step_rule_bulk(deals) -> dict:
    """The next step rule over a queryset of deals, in one query."""
    message = _("An open deal needs a next step: add a task with a due date.")
    with_step = Task.objects.filter(
        deal_id=OuterRef("pk"), done_at__isnull=True, due_at__isnull=False
    )
    missing = (
        deals.filter(stage__in=OPEN_STAGES).exclude(Exists(with_step)).values_list("pk", flat=True)
    )
    return {pk: [Violation("no_next_step", message)] for pk in missing.iterator(chunk_size=5000)}


@rule("deal.save", bulk=next_step_rule_bulk)
def next_step_rule(deal, *, actor, context) -> list[Violation]:
    """Every open deal has an open task with a due date (its next step)."""
    if deal.stage not in OPEN_STAGES:
        return []
    has_next_step = Task.objects.filter(
        deal_id=deal.pk, done_at__isnull=True, due_at__isnull=False
    ).exists()
    if has_next_step:
        return []
    return [
        Violation("no_next_step", _("An open deal needs a next step: add a task with a due date."))
    ]
