"""The one place to read company policy."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from vrop.core.models import CompanySettings

# Set only inside ``company_settings_cached()``: one read of the row for a whole
# dashboard or report, however many selectors ask for it.
_CACHED: ContextVar[CompanySettings | None] = ContextVar("vrop_company_settings", default=None)


def company_settings() -> CompanySettings:
    """The company's settings row, created with the defaults on first use."""
    cached = _CACHED.get()
    if cached is not None:
        return cached
    settings_row = CompanySettings.objects.order_by("pk").first()
    if settings_row is None:
        settings_row = CompanySettings.objects.create()
    return settings_row


@contextmanager
def company_settings_cached():
    """Read the settings row once for the block (read-only work: dashboards, reports)."""
    token = _CACHED.set(company_settings())
    try:
        yield _CACHED.get()
    finally:
        _CACHED.reset(token)
