from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationChannel(models.TextChoices):
    INAPP = "inapp", _("in the app")
    TELEGRAM = "telegram", _("Telegram")
    EMAIL = "email", _("e-mail")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("waiting")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    # The worker died (or the connection broke) after the request left for the channel and
    # before the answer came back: it may or may not have arrived. Not re-sent by default,
    # so that nobody gets it twice (see docs/notifications.md).
    UNCONFIRMED = "unconfirmed", _("sent, not confirmed")
