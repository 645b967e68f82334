"""New deals of an import, held in a temporary table until their last derived field is
known, so that each is written to ``crm_deal`` once.

The table ``NEW_DEALS`` has every column of ``crm_deal`` (the pks are reserved from the
deal sequence when deals.csv is merged). Lines, history, tasks, invoices and calls are
written with those pks (the foreign keys are checked at commit); the derived fields are
then computed on the temporary table, and one ``INSERT … SELECT`` writes the deals.

The derived fields and the deal facts go to a narrow table beside it (``NEW_FACTS``, the
same column names), so that computing them rewrites small rows; the ``INSERT`` takes
those columns from it. ``StagedDeal`` is a model over that table with the fields the
deal facts read and write
(arrival, first contact, quote, response times, fully paid day), in a registry of its own
(no migration, not in the project's apps): the functions that are the one place those
facts are computed (``refresh_response_times``, ``deals_paid_on_refresh``) take a queryset
of deal rows and work on it as they do on ``Deal``.
"""

from __future__ import annotations

from django.apps.registry import Apps
from django.db import models

NEW_DEALS = "exch_new_deals"
NEW_FACTS = "exch_new_deal_facts"  # their derived fields and facts, narrow rows
# New invoices are held the same way, in their staging table (``exch_invoices``, pks
# reserved): the payments of the import are loaded first, so that each new invoice is
# written once, with what was paid (``paid_amount``, ``paid_on``). Their pks: here.
NEW_INVOICES = "exch_new_invoices"

_registry = Apps(installed_apps=())


class StagedDeal(models.Model):
    id = models.BigAutoField(primary_key=True)
    received_at = models.DateTimeField()
    first_contact_at = models.DateTimeField(null=True)
    quote_sent_at = models.DateTimeField(null=True)
    first_contact_work_seconds = models.PositiveIntegerField(null=True)
    quote_work_seconds = models.PositiveIntegerField(null=True)
    paid_on = models.DateField(null=True)

    class Meta:
        apps = _registry
        app_label = "integrations"
        db_table = NEW_FACTS
        managed = False

    def __str__(self) -> str:
        return f"new deal {self.pk}"
