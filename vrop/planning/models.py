"""Plans: a target for a period on a metric, for the company, a team or a manager."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from vrop.accounts.visibility import VisibleQuerySet


class Metric(models.TextChoices):
    GROSS_PROFIT = "gross_profit", _("gross profit")
    REVENUE = "revenue", _("revenue")
    VOLUME = "volume", _("volume")


class PlanQuerySet(VisibleQuerySet):
    visibility_kind = "plan"


class Plan(models.Model):
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    metric = models.CharField(_("metric"), max_length=16, choices=Metric.choices)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="plans",
    )
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="plans",
    )
    target = models.DecimalField(_("target"), max_digits=18, decimal_places=2)
    extra = models.JSONField(default=dict, blank=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["period_start", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["period_start", "period_end", "metric", "manager", "team"],
                name="plan_unique_scope",
            ),
        ]

    def __str__(self) -> str:
        who = self.manager or self.team or _("company")
        return f"{who}: {self.get_metric_display()} {self.period_start}–{self.period_end}"


class ForecastSnapshot(models.Model):
    """The payment forecast as it was made on one day (kept to measure its accuracy).

    ``reconstructed``: not taken on its day but rebuilt later from the history, with the
    forecast as it could be made that morning (``services.forecast_snapshots_backfill``).
    """

    made_on = models.DateField(_("made on"), unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    total = models.DecimalField(_("total"), max_digits=18, decimal_places=2)
    reconstructed = models.BooleanField(_("reconstructed from history"), default=False)
    # Stage probabilities and days to payment used, for the record.
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("forecast snapshot")
        verbose_name_plural = _("forecast snapshots")
        ordering = ["-made_on"]

    def __str__(self) -> str:
        return f"{self.made_on}: {self.total}"


class ForecastSnapshotLine(models.Model):
    """One day of a snapshot: the expected payments of one kind (deals of a stage, or
    unpaid invoices) on ``expected_on``."""

    snapshot = models.ForeignKey(ForecastSnapshot, on_delete=models.CASCADE, related_name="lines")
    expected_on = models.DateField(_("expected on"))
    kind = models.CharField(_("kind"), max_length=16)  # "invoice" or a deal stage
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = _("forecast line")
        verbose_name_plural = _("forecast lines")
        ordering = ["expected_on", "kind"]
        indexes = [models.Index(fields=["snapshot", "expected_on"])]

    def __str__(self) -> str:
        return f"{self.expected_on} {self.kind}: {self.amount}"
