"""Calls with recordings and transcripts (segments: speaker, start, end, text)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from vrop.accounts.visibility import VisibleQuerySet
from vrop.core.models import ExternalRecord


class Direction(models.TextChoices):
    IN = "in", _("incoming")
    OUT = "out", _("outgoing")


class CallQuerySet(VisibleQuerySet):
    visibility_kind = "call"


class Call(ExternalRecord):
    deal = models.ForeignKey(
        "crm.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    client = models.ForeignKey(
        "crm.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
    )
    started_at = models.DateTimeField(_("started at"), db_index=True)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    duration_s = models.PositiveIntegerField(_("duration, s"), default=0)
    phone = models.CharField(_("phone"), max_length=50, blank=True, default="")
    recording = models.CharField(_("recording"), max_length=500, blank=True, default="")
    transcript_path = models.CharField(_("transcript file"), max_length=500, blank=True, default="")
    # Segments: [{"speaker": "manager"|"client", "start": s, "end": s, "text": "..."}]
    transcript = models.JSONField(_("transcript"), default=list, blank=True)

    objects = CallQuerySet.as_manager()

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="call_source_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["manager", "started_at"])]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.started_at:%Y-%m-%d %H:%M}"
