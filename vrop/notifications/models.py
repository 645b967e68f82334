"""The outbox of notifications, Telegram linking, processed Telegram updates and callbacks,
and the shared rate-limit state of the channels.

Every notification is a row of ``OutboxMessage`` written in the transaction of the action
that caused it; workers deliver the rows after commit, so a channel that is down loses
nothing. In-app notifications are rows of the same table on the ``inapp`` channel, born
``sent`` and read in the app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from vrop.notifications.choices import DeliveryStatus, NotificationChannel


class OutboxMessage(models.Model):
    channel = models.CharField(_("channel"), max_length=16, choices=NotificationChannel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    # Where it goes, fixed when written: a Telegram chat id or an e-mail; empty in the app.
    address = models.CharField(_("address"), max_length=254, blank=True, default="")
    subject = models.CharField(_("subject"), max_length=200, blank=True, default="")
    text = models.TextField(_("text"))
    link = models.CharField(_("link"), max_length=500, blank=True, default="")
    # Channel details: Telegram buttons, the message to edit, ...
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, default="")
    send_started_at = models.DateTimeField(_("sending started at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")
    external_id = models.CharField(_("id in the channel"), max_length=64, blank=True, default="")
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="outbox_dedupe_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending"),
                name="outbox_due_idx",
            ),
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="outbox_sending_idx"
            ),
            models.Index(fields=["user", "channel", "read_at"], name="outbox_inbox_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} → {self.address or self.user_id}: {self.text[:40]}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class TelegramLinkCode(models.Model):
    """A one-time code a user sends to the bot (``/start CODE``) to link their chat."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link_codes"
    )
    code = models.CharField(_("code"), max_length=16, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    chat_id = models.BigIntegerField(_("Telegram chat"), null=True, blank=True)

    class Meta:
        verbose_name = _("Telegram link code")
        verbose_name_plural = _("Telegram link codes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.code}"


class TelegramUpdate(models.Model):
    """A Telegram update already processed: each is handled once, whether it came by the
    webhook or by long polling (the highest id is the polling offset)."""

    update_id = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=32, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-update_id"]

    def __str__(self) -> str:
        return f"update {self.update_id} ({self.kind})"


class TelegramCallback(models.Model):
    """A button press (callback query) already decided: each query id is processed once."""

    query_id = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    chat_id = models.BigIntegerField(null=True, blank=True)
    data = models.CharField(max_length=64, blank=True, default="")
    answer = models.TextField(blank=True, default="")
    is_accepted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"callback {self.query_id}: {self.data}"


class RateLimitState(models.Model):
    """Shared rate-limit state (GCRA: the theoretical arrival time of the next message, in
    epoch seconds), one row per key such as ``telegram:chat:42`` or ``telegram:all``. Kept
    in the database so that it holds across worker processes and machines."""

    key = models.CharField(max_length=100, primary_key=True)
    tat = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.tat}"
