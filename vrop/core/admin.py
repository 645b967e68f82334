from django.contrib import admin

from vrop.core.models import CompanySettings


@admin.register(CompanySettings)
class CompanySettingsAdmin(admin.ModelAdmin):
    list_display = ("name", "currency", "vat_rate_pct", "min_margin_pct")


def superusers_only(request) -> bool:
    """The admin edits rows without the visibility rules or the services' checks, so it is
    for superusers alone; every role works in the UI and the API, where both hold."""
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = superusers_only
