"""The one place to read company policy."""

from __future__ import annotations

from vrop.core.models import CompanySettings


def company_settings() -> CompanySettings:
    """The company's settings row, created with the defaults on first use."""
    settings_row = CompanySettings.objects.order_by("pk").first()
    if settings_row is None:
        settings_row = CompanySettings.objects.create()
    return settings_row
