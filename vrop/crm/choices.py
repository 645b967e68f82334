from django.db import models
from django.utils.translation import gettext_lazy as _


class Stage(models.TextChoices):
    LEAD = "lead", _("lead")
    CONTACT = "contact", _("contact")
    QUOTE = "quote", _("quote")
    WON = "won", _("won")
    LOST = "lost", _("lost")


OPEN_STAGES = (Stage.LEAD, Stage.CONTACT, Stage.QUOTE)
CLOSED_STAGES = (Stage.WON, Stage.LOST)
STAGE_ORDER = {Stage.LEAD: 0, Stage.CONTACT: 1, Stage.QUOTE: 2, Stage.WON: 3, Stage.LOST: 3}


class Channel(models.TextChoices):
    PHONE = "phone", _("phone call")
    EMAIL = "email", _("e-mail")
    WEBSITE = "website", _("website form")
    MESSENGER = "messenger", _("messenger")
    REFERRAL = "referral", _("referral")
    REPEAT = "repeat", _("repeat order")
    TENDER = "tender", _("tender")
    OTHER = "other", _("other")


class Unit(models.TextChoices):
    TONNE = "t", _("t")
    METRE = "m", _("m")
    PIECE = "pcs", _("pcs")
    KILOGRAM = "kg", _("kg")
    SQUARE_METRE = "m2", _("m²")


class ActivityKind(models.TextChoices):
    CALL = "call", _("call")
    MEETING = "meeting", _("meeting")
    EMAIL = "email", _("e-mail")
    NOTE = "note", _("note")


class RequestStatus(models.TextChoices):
    NEW = "new", _("new")
    ACCEPTED = "accepted", _("accepted")
    LINKED = "linked", _("linked")
    DECLINED = "declined", _("declined")


class CreditStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    PREPAYMENT_ONLY = "prepayment_only", _("prepayment only")
    STOP = "stop", _("stop")
