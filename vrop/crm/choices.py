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

# The moments a deal keeps of its stage history (decisions/0009): the first time it was in
# a step of the funnel or a later stage — a deal that skipped a stage has passed it.
# Written only by ``crm.services.deals_stage_moments_refresh`` (and, set-based with the
# same expression, by the import's derived fields).
REACHED = {
    "contact_reached_at": (Stage.CONTACT, Stage.QUOTE, Stage.WON),
    "quote_reached_at": (Stage.QUOTE, Stage.WON),
    "won_reached_at": (Stage.WON,),
}


def reached_sql(field: str, stage: str = "stage", moment: str = "changed_at") -> str:
    """The SQL aggregate of ``field`` of ``REACHED`` over stage history rows: the earliest
    ``moment`` whose ``stage`` is the step or later (NULL when there is none)."""
    stages = ", ".join(f"'{value}'" for value in REACHED[field])
    return f"MIN(CASE WHEN {stage} IN ({stages}) THEN {moment} END)"


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
