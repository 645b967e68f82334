"""Who may read which numbers, and for whom: one place for pages, the API and reports.

Owner and head read everything; finance reads the money (KPIs, forecast, reports); a
manager reads their own KPIs, funnel and forecast only — whatever scope they ask for,
they get their own, and asking for someone else's is refused.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from vrop.analytics.periods import Scope
from vrop.core.errors import PermissionDenied

READERS = {
    "owner_dashboard": {"owner", "head"},
    "head_dashboard": {"owner", "head"},
    "kpi": {"owner", "head", "finance", "manager"},
    "funnel": {"owner", "head", "manager"},
    "lost": {"owner", "head", "manager"},
    "forecast": {"owner", "head", "finance", "manager"},
    "forecast_accuracy": {"owner", "head", "finance"},
    "plans": {"owner", "head", "finance", "manager"},
    "reports": {"owner", "head", "finance"},
}


def may_read(user, what: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.role in READERS[what]


def require(user, what: str) -> None:
    if not may_read(user, what):
        raise PermissionDenied(_("You may not see these numbers."))


def scope_for(user, *, manager_id: int | None = None, team_id: int | None = None) -> Scope:
    """The scope a user may read: a manager always reads their own numbers."""
    if user.role == "manager" and not user.is_superuser:
        if (manager_id is not None and manager_id != user.pk) or team_id is not None:
            raise PermissionDenied(_("A manager sees only their own numbers."))
        return Scope(manager_id=user.pk)
    return Scope(manager_id=manager_id, team_id=team_id)
