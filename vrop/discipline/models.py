"""Discipline data: alerts, snoozes, the working-day table for SQL, request distribution
rules with their assignment log, and the website forms that post requests.

Models hold data and invariants; every write goes through ``vrop.discipline.services``,
``vrop.discipline.distribution`` or ``vrop.crm.inbox``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from vrop.accounts.visibility import VisibleQuerySet
from vrop.crm.choices import Channel
from vrop.discipline.choices import AlertKind, DistributionMethod, Level, Severity


class AlertQuerySet(VisibleQuerySet):
    visibility_kind = "alert"

    def open(self):
        return self.filter(resolved_at__isnull=True)


class Alert(models.Model):
    """Something wrong with a deal or a request, found by a sweep.

    At most one open alert per kind and object (partial unique constraints), so a rerun
    or two sweeps at once add nothing; the sweep closes it (``resolved_at``) when the
    cause is gone. ``level`` is who it is addressed to now (escalation), and
    ``notified_level`` who has been told, so that each nudge is sent once.
    """

    kind = models.CharField(_("kind"), max_length=32, choices=AlertKind.choices)
    severity = models.CharField(
        _("severity"), max_length=16, choices=Severity.choices, default=Severity.WARNING
    )
    deal = models.ForeignKey(
        "crm.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    request = models.ForeignKey(
        "crm.Request", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    level = models.PositiveSmallIntegerField(
        _("addressed to"), choices=Level.choices, default=Level.MANAGER
    )
    notified_level = models.PositiveSmallIntegerField(
        _("told"), choices=Level.choices, default=Level.NONE
    )
    first_seen_at = models.DateTimeField(_("first seen"))
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-first_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "deal"],
                condition=Q(resolved_at__isnull=True, deal__isnull=False),
                name="alert_open_per_deal_unique",
            ),
            models.UniqueConstraint(
                fields=["kind", "request"],
                condition=Q(resolved_at__isnull=True, request__isnull=False),
                name="alert_open_per_request_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "resolved_at", "level"]),
            models.Index(fields=["manager", "resolved_at"]),
        ]

    def __str__(self) -> str:
        target = f"deal {self.deal_id}" if self.deal_id else f"request {self.request_id}"
        return f"{self.get_kind_display()}: {target}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class Snooze(models.Model):
    """A deal waits for a known reason until ``resume_at``: not stalled until then."""

    deal = models.ForeignKey("crm.Deal", on_delete=models.CASCADE, related_name="snoozes")
    reason = models.CharField(_("reason"), max_length=300)
    resume_on = models.DateField(_("resume on"))
    resume_at = models.DateTimeField(_("resume at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    ended_at = models.DateTimeField(_("ended early"), null=True, blank=True)

    class Meta:
        verbose_name = _("snooze")
        verbose_name_plural = _("snoozes")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["deal", "resume_at"])]

    def __str__(self) -> str:
        return f"{self.deal_id} → {self.resume_on:%d.%m.%Y}: {self.reason}"


class WorkingDay(models.Model):
    """The working-day calendar as a table, so that SQL counts working time.

    ``seconds_before`` is the company's working seconds on all days of the table before
    this one and ``working_seconds`` the day's own (0 on a day off); working seconds
    between two moments are the difference of their positions (see
    ``vrop.discipline.worktime``). ``opens_second`` and ``day_seconds`` record the company
    hours the table was built for; it is rebuilt when they change.
    """

    day = models.DateField(primary_key=True)
    is_working = models.BooleanField()
    seconds_before = models.BigIntegerField()
    working_seconds = models.PositiveIntegerField()
    opens_second = models.PositiveIntegerField()
    day_seconds = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("working day")
        verbose_name_plural = _("working days")
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day}: {'working' if self.is_working else 'off'}"


class DistributionRule(models.Model):
    """Who gets a new request: the first active rule (by priority) that matches the
    request's channel and segment hands it to one of its members, in turn or weighted."""

    name = models.CharField(_("name"), max_length=100)
    method = models.CharField(
        _("method"),
        max_length=16,
        choices=DistributionMethod.choices,
        default=DistributionMethod.ROUND_ROBIN,
    )
    channel = models.CharField(
        _("channel (empty: any)"), max_length=32, blank=True, default="", choices=Channel.choices
    )
    segment = models.CharField(_("segment (empty: any)"), max_length=64, blank=True, default="")
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("distribution rule")
        verbose_name_plural = _("distribution rules")
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name


class DistributionMember(models.Model):
    rule = models.ForeignKey(DistributionRule, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        on_delete=models.CASCADE,
        related_name="distribution_memberships",
    )
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)
    # The inbound shift: empty bounds mean the whole working day; empty weekdays, every day.
    shift_start = models.TimeField(_("inbound shift from"), null=True, blank=True)
    shift_end = models.TimeField(_("inbound shift to"), null=True, blank=True)
    weekdays = models.JSONField(_("weekdays (0 = Monday)"), default=list, blank=True)
    assigned_count = models.PositiveIntegerField(_("assigned"), default=0)
    last_assigned_at = models.DateTimeField(_("last assigned"), null=True, blank=True)

    class Meta:
        verbose_name = _("distribution member")
        verbose_name_plural = _("distribution members")
        ordering = ["rule", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "user"], name="distribution_member_unique"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="distribution_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.rule}: {self.user} × {self.weight}"


class Assignment(models.Model):
    """The log of every assignment of a request: automatic (no actor) or by the head."""

    request = models.ForeignKey("crm.Request", on_delete=models.CASCADE, related_name="assignments")
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(
        DistributionRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    created_at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["request", "created_at"])]

    def __str__(self) -> str:
        return f"{self.request_id} → {self.manager_id}"


class WebForm(models.Model):
    """A form on the company's website that posts requests to
    ``POST /api/v1/requests/form/{key}`` without logging in."""

    name = models.CharField(_("name"), max_length=100)
    key = models.CharField(_("key"), max_length=64, unique=True)
    channel = models.CharField(
        _("channel"), max_length=32, choices=Channel.choices, default=Channel.WEBSITE
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("website form")
        verbose_name_plural = _("website forms")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
