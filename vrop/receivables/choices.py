from django.db import models
from django.utils.translation import gettext_lazy as _


class OverrideStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    GRANTED = "granted", _("granted")
    REFUSED = "refused", _("refused")


class DecisionChannel(models.TextChoices):
    WEB = "web", _("web")
    API = "api", _("API")
    TELEGRAM = "telegram", _("Telegram")
    ADMIN = "admin", _("admin")


class ActionKind(models.TextChoices):
    CALL = "call", _("call")
    EMAIL = "email", _("e-mail")
    LETTER = "letter", _("claim letter")
    MEETING = "meeting", _("meeting")
    NOTE = "note", _("note")


class PromiseStatus(models.TextChoices):
    NONE = "", _("no promise")
    PENDING = "pending", _("promised")
    KEPT = "kept", _("kept")
    MISSED = "missed", _("missed")
    REPLACED = "replaced", _("replaced by a new promise")


class RowStatus(models.TextChoices):
    APPLIED = "applied", _("applied")
    SUGGESTED = "suggested", _("to confirm")
    UNMATCHED = "unmatched", _("not matched")
    DUPLICATE = "duplicate", _("already imported")
    IGNORED = "ignored", _("ignored")


class Bucket(models.TextChoices):
    CURRENT = "current", _("not yet due")
    D1_7 = "1-7", _("1–7 days")
    D8_30 = "8-30", _("8–30 days")
    D31_60 = "31-60", _("31–60 days")
    OVER_60 = "60+", _("over 60 days")


class DisciplineMark(models.TextChoices):
    """How a client pays, for the forecast: from the history of fully paid invoices."""

    NEW = "new", _("no history")
    A = "A", _("pays on time")
    B = "B", _("slightly late")
    C = "C", _("late")
    D = "D", _("very late")
