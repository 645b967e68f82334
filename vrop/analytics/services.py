"""The only writes of analytics: who receives which periodic report."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from vrop.accounts.models import User
from vrop.analytics.access import require
from vrop.analytics.models import ReportKind, ReportSubscription
from vrop.core.errors import ValidationError


@transaction.atomic
def report_subscriptions_set(
    *, user: User, kinds: list[str], channels: list[str] | None = None
) -> list[ReportSubscription]:
    """Make ``user`` receive exactly the reports of ``kinds`` (others are dropped)."""
    require(user, "reports")
    unknown = set(kinds) - set(ReportKind.values)
    if unknown:
        raise ValidationError(
            _("Unknown report “%(kind)s”.") % {"kind": ", ".join(sorted(unknown))}, field="kinds"
        )
    ReportSubscription.objects.filter(user=user).exclude(kind__in=kinds).delete()
    result = []
    for kind in dict.fromkeys(kinds):
        subscription, _created = ReportSubscription.objects.update_or_create(
            user=user, kind=kind, defaults={"channels": channels or []}
        )
        result.append(subscription)
    return result
