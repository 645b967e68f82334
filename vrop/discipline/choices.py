from django.db import models
from django.utils.translation import gettext_lazy as _


class AlertKind(models.TextChoices):
    STALLED_DEAL = "stalled_deal", _("stalled deal")
    FIRST_CONTACT_SLA = "first_contact_sla", _("first contact overdue")
    QUOTE_SLA = "quote_sla", _("quote overdue")
    REQUEST_WAITING = "request_waiting", _("request waiting in the inbox")


class Severity(models.TextChoices):
    INFO = "info", _("info")
    WARNING = "warning", _("warning")
    CRITICAL = "critical", _("critical")


class Level(models.IntegerChoices):
    """Who an alert is addressed to now: escalation goes manager → head → owner."""

    NONE = 0, _("nobody yet")
    MANAGER = 1, _("manager")
    HEAD = 2, _("head of sales")
    OWNER = 3, _("owner")


class DistributionMethod(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("in turn")
    WEIGHTED = "weighted", _("weighted")


class StalledReason(models.TextChoices):
    NO_NEXT_STEP = "no_next_step", _("no next step")
    NEXT_STEP_OVERDUE = "next_step_overdue", _("next step overdue")
    NO_ACTIVITY = "no_activity", _("no activity")
    STAGE_TOO_LONG = "stage_too_long", _("too long in the stage")
