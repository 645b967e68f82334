"""Fill the deal facts added by crm 0003 for deals that existed before it.

It calls the one function that computes each fact (with today's models: these columns
are the only ones they touch), so an upgraded database holds what a new one would.
"""

from django.db import migrations
from django.db.models import Q


def backfill(apps, schema_editor):
    from vrop.crm.models import Deal
    from vrop.discipline.worktime import refresh_response_times
    from vrop.receivables.services.documents import deals_paid_on_refresh

    if not Deal.objects.exists():
        return  # a new database: nothing to fill
    refresh_response_times(
        Deal.objects.filter(Q(first_contact_at__isnull=False) | Q(quote_sent_at__isnull=False))
    )
    deals_paid_on_refresh(Deal.objects.filter(invoices__isnull=False).distinct())


class Migration(migrations.Migration):
    dependencies = [
        ("discipline", "0001_initial"),
        ("crm", "0003_deal_response_times_paid_on"),
        ("receivables", "0005_drop_redundant_paid_index"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
