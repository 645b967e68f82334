"""Count the won deals of an existing database in the margin summary (0003).

It calls the one function that writes the summary (with today's models: it touches only
the summary's tables), so an upgraded database holds what a new one would.
"""

from django.db import migrations


def fill(apps, schema_editor):
    from vrop.crm.models import Deal
    from vrop.pricing.services import margin_days_refresh

    won = Deal.objects.filter(stage="won")
    if won.exists():
        margin_days_refresh(won)


class Migration(migrations.Migration):
    dependencies = [("pricing", "0003_price_history_purchases_margin_days")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop, elidable=True)]
