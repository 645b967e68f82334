"""Company-wide policy and the base pieces every app uses.

Every threshold of DESIGN.md "Rules" lives in ``CompanySettings`` with its default, so
that the head changes policy in the database, not in code, and multi-company later is
a matter of scoping this one row.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


def default_stage_norms() -> dict:
    """Stage norms in working days: how long a deal may sit in a stage."""
    return {"lead": 1, "contact": 3, "quote": 5}


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class ExternalRecord(models.Model):
    """Objects that may come from another system carry that system's id.

    ``source`` names the system ("exchange", "amocrm", "bitrix24", "1c", ...) and
    ``external_id`` its id; the pair is unique, so importing twice updates, never
    duplicates. ``extra`` keeps unknown columns of an import as attributes.
    """

    source = models.CharField(_("source"), max_length=32, blank=True, default="")
    external_id = models.CharField(_("source id"), max_length=128, blank=True, default="")
    extra = models.JSONField(_("extra attributes"), default=dict, blank=True)

    class Meta:
        abstract = True


class CompanySettings(models.Model):
    """The one row of company policy. Get it with ``vrop.core.policy.company_settings()``."""

    name = models.CharField(_("company name"), max_length=200, default="")
    inn = models.CharField(_("INN"), max_length=12, blank=True, default="")
    kpp = models.CharField(_("KPP"), max_length=9, blank=True, default="")
    address = models.CharField(_("address"), max_length=300, blank=True, default="")
    phone = models.CharField(_("phone"), max_length=50, blank=True, default="")
    bank_details = models.TextField(_("bank details"), blank=True, default="")
    currency = models.CharField(_("currency"), max_length=3, default="RUB")
    vat_rate_pct = models.DecimalField(
        _("VAT rate, %"), max_digits=5, decimal_places=2, default=Decimal("20")
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Moscow")
    workday_start = models.TimeField(_("working day starts"), default=time(9, 0))
    workday_end = models.TimeField(_("working day ends"), default=time(18, 0))

    # Discipline
    stage_norms_days = models.JSONField(_("stage norms, working days"), default=default_stage_norms)
    next_step_overdue_days = models.PositiveSmallIntegerField(
        _("next step overdue tolerance, working days"), default=1
    )
    sla_first_contact_minutes = models.PositiveIntegerField(
        _("first contact SLA, working minutes"), default=15
    )
    sla_quote_minutes = models.PositiveIntegerField(_("quote SLA, working minutes"), default=120)
    open_requests_cap = models.PositiveIntegerField(_("open requests per manager, cap"), default=20)
    escalation_head_hours = models.PositiveIntegerField(
        _("escalate to the head after, working hours"), default=4
    )
    escalation_owner_hours = models.PositiveIntegerField(
        _("escalate to the owner after, working hours"), default=16
    )

    # Price and margin
    discount_manager_pct = models.DecimalField(
        _("manager may discount up to, %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("3"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    discount_head_pct = models.DecimalField(
        _("head may discount up to, %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("7"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    min_margin_pct = models.DecimalField(
        _("minimum margin, %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("8"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    approval_escalation_hours = models.PositiveIntegerField(
        _("escalate an undecided approval after, working hours"), default=4
    )

    # Credit
    overdue_stop_shipment_days = models.PositiveSmallIntegerField(
        _("overdue days that stop shipments on deferral"), default=5
    )
    overdue_client_stop_days = models.PositiveSmallIntegerField(
        _("overdue days that put the client on stop"), default=30
    )

    # Visibility
    managers_see_all = models.BooleanField(_("managers see all clients and deals"), default=False)

    class Meta:
        verbose_name = _("company settings")
        verbose_name_plural = _("company settings")

    def __str__(self) -> str:
        return self.name or str(_("Company"))
