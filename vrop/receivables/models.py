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
from vrop.crm.choices import CreditStatus
from vrop.receivables.choices import (
    ActionKind,
    DecisionChannel,
    OverrideStatus,
    PromiseStatus,
    RowStatus,
)

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
        db_index=False,  # (client, paid_on) below serves it
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # (manager, paid_on) below serves it
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
            # Ageing and the overdue list read only unpaid invoices: a partial index on
            # the due date that also holds what they sum and group by (an index-only scan
            # on PostgreSQL) keeps them fast at a million invoices.
            models.Index(
                fields=["due_on", "amount", "paid_amount", "client", "manager", "issued_on"],
                condition=Q(paid_on__isnull=True),
                name="invoice_unpaid_due_idx",
            ),
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
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # (manager, shipped_on) below serves it
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


class CreditChange(models.Model):
    """The history of a client's terms, limit and credit status: what, who, when and why.

    Written only by ``receivables.services.client_credit_set`` (and the automatic stop of
    the daily sweep, with ``is_automatic``)."""

    client = models.ForeignKey(
        "crm.Client", on_delete=models.CASCADE, related_name="credit_changes"
    )
    payment_terms_days = models.PositiveIntegerField(_("payment terms, days (0 = prepayment)"))
    credit_limit = models.DecimalField(_("credit limit"), **MONEY)
    credit_status = models.CharField(
        _("credit status"), max_length=20, choices=CreditStatus.choices
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    previous = models.JSONField(_("before"), default=dict, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("set at"))
    is_automatic = models.BooleanField(_("set automatically"), default=False)

    class Meta:
        verbose_name = _("credit change")
        verbose_name_plural = _("credit changes")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["client", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.credit_status} @ {self.changed_at:%Y-%m-%d}"


class CreditOverrideQuerySet(VisibleQuerySet):
    visibility_kind = "deal"

    def visible_to(self, user):
        from vrop.crm.models import Deal

        return self.filter(deal__in=Deal.objects.visible_to(user).values("pk"))


class CreditOverride(models.Model):
    """A request to let one deal through the credit stop rules, and the owner's decision.

    A granted override covers the deal (won, invoice, shipment on deferral) while the
    deal's amount stays within ``deal_amount``, the amount the owner saw."""

    deal = models.ForeignKey(
        "crm.Deal",
        verbose_name=_("deal"),
        on_delete=models.CASCADE,
        related_name="credit_overrides",
    )
    client = models.ForeignKey(
        "crm.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=OverrideStatus.choices,
        default=OverrideStatus.PENDING,
        db_index=True,
    )
    deal_amount = models.DecimalField(_("deal amount covered"), **MONEY)
    violations = models.JSONField(_("rules broken"), default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested at"))
    request_reason = models.CharField(_("why"), max_length=500, blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.CharField(_("decision reason"), max_length=500, blank=True, default="")
    channel = models.CharField(
        _("decided in"), max_length=16, choices=DecisionChannel.choices, blank=True, default=""
    )

    objects = CreditOverrideQuerySet.as_manager()

    class Meta:
        verbose_name = _("credit override")
        verbose_name_plural = _("credit overrides")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["deal", "status"])]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.status}"


class OverdueActionQuerySet(VisibleQuerySet):
    visibility_kind = "invoice"

    def visible_to(self, user):
        return self.filter(invoice__in=Invoice.objects.visible_to(user).values("pk"))


class OverdueAction(models.Model):
    """What was done about one overdue debt: who called, what was promised, what next."""

    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.CASCADE, related_name="actions"
    )
    client = models.ForeignKey(
        "crm.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(_("what was done"), max_length=16, choices=ActionKind.choices)
    note = models.TextField(_("note"), blank=True, default="")
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    done_at = models.DateTimeField(_("when"))
    promised_on = models.DateField(_("promised payment date"), null=True, blank=True)
    promised_amount = models.DecimalField(_("promised amount"), null=True, blank=True, **MONEY)
    promise_status = models.CharField(
        _("promise"), max_length=16, choices=PromiseStatus.choices, blank=True, default=""
    )
    paid_before = models.DecimalField(_("paid when promised"), default=Decimal("0"), **MONEY)
    next_action = models.CharField(_("next action"), max_length=300, blank=True, default="")
    next_action_on = models.DateField(_("next action on"), null=True, blank=True)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    escalation_level = models.PositiveSmallIntegerField(_("escalated to"), default=0)

    objects = OverdueActionQuerySet.as_manager()

    class Meta:
        verbose_name = _("overdue action")
        verbose_name_plural = _("overdue actions")
        ordering = ["-done_at", "-id"]
        indexes = [
            models.Index(fields=["invoice", "-done_at"]),
            models.Index(fields=["promise_status", "promised_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.kind} @ {self.done_at:%Y-%m-%d}"


class PaymentImport(models.Model):
    """One bank statement or 1C payments file, loaded for matching."""

    file_name = models.CharField(_("file"), max_length=255, blank=True, default="")
    file_format = models.CharField(_("format"), max_length=32, blank=True, default="")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("loaded at"), auto_now_add=True)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_applied = models.PositiveIntegerField(_("applied"), default=0)
    rows_to_confirm = models.PositiveIntegerField(_("to confirm"), default=0)
    rows_unmatched = models.PositiveIntegerField(_("not matched"), default=0)
    rows_duplicate = models.PositiveIntegerField(_("already imported"), default=0)

    class Meta:
        verbose_name = _("payment import")
        verbose_name_plural = _("payment imports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.file_name or f"#{self.pk}"


class PaymentImportRow(models.Model):
    """A line of a statement: matched and applied, offered to a person, or left alone."""

    batch = models.ForeignKey(PaymentImport, on_delete=models.CASCADE, related_name="rows")
    line_no = models.PositiveIntegerField(_("line"))
    key = models.CharField(max_length=64, db_index=True)
    paid_on = models.DateField(_("paid on"))
    amount = models.DecimalField(_("amount"), **MONEY)
    payer_inn = models.CharField(_("INN"), max_length=12, blank=True, default="")
    payer_name = models.CharField(_("counterparty"), max_length=300, blank=True, default="")
    purpose = models.CharField(_("purpose"), max_length=500, blank=True, default="")
    document_number = models.CharField(_("document"), max_length=64, blank=True, default="")
    status = models.CharField(_("status"), max_length=16, choices=RowStatus.choices, db_index=True)
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    client = models.ForeignKey(
        "crm.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(_("why"), max_length=300, blank=True, default="")
    allocations = models.JSONField(_("applied to"), default=list, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("statement row")
        verbose_name_plural = _("statement rows")
        ordering = ["batch", "line_no"]

    def __str__(self) -> str:
        return f"{self.paid_on}: {self.amount}"
