from django.contrib import admin

from vrop.core.models import CompanySettings


@admin.register(CompanySettings)
class CompanySettingsAdmin(admin.ModelAdmin):
    list_display = ("name", "currency", "vat_rate_pct", "min_margin_pct")
