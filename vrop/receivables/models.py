"""Invoices, payments and shipments.

Each invoice keeps ``paid_amount`` (updated with ``F()`` by ``payment_record``) and
``paid_on``, the date it became fully paid, so that ageing and days to payment are
computed from one row per invoice. ``client`` and ``manager`` are copied from the deal
by the services for fast grouping over a million rows.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from vrop.accounts.visibility import VisibleQuerySet
from vrop.core.models import ExternalRecord, TimeStampedModel

MONEY = {"max_digits": 18, "decimal_places": 2}


class InvoiceQuerySet(VisibleQuerySet):
    visibility_kind = "invoice"

    def unpaid(self):
        return self.filter(paid_on__isnull=True)


class Invoice(ExternalRecord, TimeStampedModel):
    deal = models.ForeignKey(
        "crm.Deal",
        verbose_name=_("deal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    client = models.ForeignKey(
        "crm.Client",
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    number = models.CharField(_("number"), max_length=64, db_index=True)
    issued_on = models.DateField(_("issued on"))
    due_on = models.DateField(_("due on"))
    amount = models.DecimalField(_("amount"), **MONEY)
    paid_amount = models.DecimalField(_("paid"), default=Decimal("0"), **MONEY)
    paid_on = models.DateField(_("fully paid on"), null=True, blank=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issued_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="invoice_source_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["paid_on", "due_on"]),
            models.Index(fields=["client", "paid_on"]),
            models.Index(fields=["manager", "paid_on"]),
            models.Index(fields=["issued_on"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def balance(self) -> Decimal:
        return self.amount - self.paid_amount


class PaymentQuerySet(VisibleQuerySet):
    visibility_kind = "payment"


class Payment(ExternalRecord):
    """Money in (or a refund out, with a negative amount) against an invoice."""

    invoice = models.ForeignKey(
        Invoice,
        verbose_name=_("invoice"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    client = models.ForeignKey(
        "crm.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    paid_on = models.DateField(_("paid on"), db_index=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    payer_inn = models.CharField(_("payer INN"), max_length=12, blank=True, default="")
    purpose = models.CharField(_("purpose"), max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-paid_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="payment_source_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.paid_on}: {self.amount}"


class ShipmentQuerySet(VisibleQuerySet):
    visibility_kind = "shipment"


class Shipment(ExternalRecord):
    """A shipment (реализация): its amount is revenue and amount − cost gross profit."""

    deal = models.ForeignKey(
        "crm.Deal", verbose_name=_("deal"), on_delete=models.PROTECT, related_name="shipments"
    )
    client = models.ForeignKey(
        "crm.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="shipments"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shipped_on = models.DateField(_("shipped on"))
    amount = models.DecimalField(_("amount"), **MONEY)
    cost = models.DecimalField(_("cost"), **MONEY)
    volume = models.DecimalField(_("volume"), max_digits=14, decimal_places=3, default=Decimal("0"))
    is_deferred = models.BooleanField(_("on deferral"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ShipmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-shipped_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="shipment_source_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["shipped_on", "manager"]),
            models.Index(fields=["manager", "shipped_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.shipped_on}: {self.amount}"

    @property
    def gross_profit(self) -> Decimal:
        return self.amount - self.cost
