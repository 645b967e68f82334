"""Analytics reads only; it keeps just who receives which periodic report."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ReportKind(models.TextChoices):
    DAY = "day", _("daily")
    WEEK = "week", _("weekly")
    MONTH = "month", _("monthly")
    QUARTER = "quarter", _("quarterly")
    YEAR = "year", _("annual")


class ReportSubscription(models.Model):
    """A person receives the report of each completed period of ``kind`` (with a link
    to its PDF and XLSX) in the channels they chose."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions"
    )
    kind = models.CharField(_("report"), max_length=8, choices=ReportKind.choices)
    channels = models.JSONField(_("channels"), default=list)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("report subscription")
        verbose_name_plural = _("report subscriptions")
        ordering = ["user", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="report_subscription_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.get_kind_display()}"
