"""Price lists with effective dates, margin policy per category, approval requests,
confirmations of stock and lead time, and issued quotes."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

MONEY = {"max_digits": 18, "decimal_places": 2}


class CategoryPolicy(models.Model):
    """A minimum margin for one product category (overrides the company's)."""

    category = models.CharField(_("category"), max_length=100, unique=True)
    min_margin_pct = models.DecimalField(_("minimum margin, %"), max_digits=5, decimal_places=2)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("category margin policy")
        verbose_name_plural = _("category margin policies")
        ordering = ["category"]

    def __str__(self) -> str:
        return f"{self.category}: {self.min_margin_pct} %"


class PriceList(models.Model):
    name = models.CharField(_("name"), max_length=200)
    effective_from = models.DateField(_("effective from"), db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_file = models.CharField(_("file"), max_length=300, blank=True, default="")
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        ordering = ["-effective_from", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.effective_from:%d.%m.%Y})"


class PriceListItem(models.Model):
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("crm.Product", on_delete=models.CASCADE, related_name="price_items")
    list_price = models.DecimalField(_("list price"), **MONEY)
    cost_price = models.DecimalField(_("cost price"), null=True, blank=True, **MONEY)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("price list item")
        verbose_name_plural = _("price list items")
        constraints = [
            models.UniqueConstraint(fields=["price_list", "product"], name="price_item_unique")
        ]

    def __str__(self) -> str:
        return f"{self.product}: {self.list_price}"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    SUPERSEDED = "superseded", _("superseded")


class ApprovalRequest(models.Model):
    """A request to approve a deal's prices, routed to the lowest role that may decide.

    ``lines_fingerprint`` is a hash of the lines (product, qty, price) it was made for:
    any later change of price or quantity no longer matches, which reopens approval.
    """

    deal = models.ForeignKey("crm.Deal", on_delete=models.CASCADE, related_name="approvals")
    level = models.CharField(_("decided by"), max_length=16)  # "head" or "owner"
    reasons = models.JSONField(_("reasons"), default=list)
    lines_fingerprint = models.CharField(max_length=64)
    amount = models.DecimalField(_("amount"), default=Decimal("0"), **MONEY)
    gross_profit = models.DecimalField(_("gross profit"), default=Decimal("0"), **MONEY)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ApprovalStatus.choices,
        default=ApprovalStatus.PENDING,
        db_index=True,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    comment = models.CharField(_("comment"), max_length=500, blank=True, default="")
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deal"], condition=Q(status="pending"), name="one_pending_approval_per_deal"
            ),
        ]
        indexes = [models.Index(fields=["status", "level"])]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.get_status_display()} ({self.level})"


class ConfirmationSource(models.TextChoices):
    STOCK = "stock", _("stock")
    SUPPLIER = "supplier", _("supplier")


class Confirmation(models.Model):
    """Stock or a supplier confirmed a quantity by a date; valid until a moment."""

    deal = models.ForeignKey(
        "crm.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="confirmations"
    )
    product = models.ForeignKey(
        "crm.Product", on_delete=models.CASCADE, related_name="confirmations"
    )
    source = models.CharField(_("source"), max_length=16, choices=ConfirmationSource.choices)
    qty = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3)
    available_on = models.DateField(_("available on"))
    valid_until = models.DateTimeField(_("valid until"))
    supplier = models.CharField(_("supplier"), max_length=200, blank=True, default="")
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("confirmation")
        verbose_name_plural = _("confirmations")
        ordering = ["-confirmed_at", "-id"]
        indexes = [models.Index(fields=["deal", "product", "valid_until"])]

    def __str__(self) -> str:
        return f"{self.product}: {self.qty} @ {self.available_on}"


class Quote(models.Model):
    """An issued commercial proposal (КП): its number, validity and the totals it showed."""

    deal = models.ForeignKey("crm.Deal", on_delete=models.CASCADE, related_name="quotes")
    number = models.CharField(_("number"), max_length=64)
    issued_at = models.DateTimeField(_("issued at"))
    valid_until = models.DateField(_("valid until"))
    amount = models.DecimalField(_("amount without VAT"), **MONEY)
    vat_amount = models.DecimalField(_("VAT"), **MONEY)
    delivery_date = models.DateField(_("delivery date"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lines_snapshot = models.JSONField(default=list)

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return self.number


class Purchase(models.Model):
    """A receipt of goods bought from a supplier: the fact behind a product's cost price.

    Recording one (``services.purchase_record``) makes its price the product's cost price
    when it is the latest receipt of that product (by date; a later-dated applied price
    list with a cost price wins over an earlier receipt, see docs/pricing.md).
    """

    product = models.ForeignKey(
        "crm.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="purchases"
    )
    qty = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3)
    price = models.DecimalField(_("purchase price"), **MONEY)
    received_on = models.DateField(_("received on"))
    supplier = models.CharField(_("supplier"), max_length=200, blank=True, default="")
    document = models.CharField(_("document"), max_length=100, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        ordering = ["-received_on", "-id"]
        indexes = [models.Index(fields=["product", "received_on"])]

    def __str__(self) -> str:
        return f"{self.product}: {self.qty} × {self.price} ({self.received_on:%d.%m.%Y})"


SUM = {"max_digits": 30, "decimal_places": 6, "default": Decimal("0")}


class MarginDay(models.Model):
    """Won deals' line sums per closing day (local) and product category.

    What the margin report reads by category instead of every line of the period.
    Written only by ``services.margin_days_refresh``, which recomputes whole days from
    the lines; ``deals`` is the number of deals with a line of the category that day.
    """

    day = models.DateField(_("day"))
    category = models.CharField(_("category"), max_length=100, blank=True, default="")
    revenue = models.DecimalField(_("revenue"), **SUM)
    cost = models.DecimalField(_("cost"), **SUM)
    listed_total = models.DecimalField(**SUM)  # Σ qty × list price
    discounted_revenue = models.DecimalField(**SUM)  # Σ qty × price of lines with a list price
    deals = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("margin by day and category")
        verbose_name_plural = _("margin by day and category")
        constraints = [
            models.UniqueConstraint(fields=["day", "category"], name="margin_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day:%d.%m.%Y} {self.category}"


class MarginDayDeal(models.Model):
    """The day a won deal is counted on in ``MarginDay``: so that reopening the deal, or
    winning it again on another day, takes it out of the day it was in."""

    # No foreign key in the database: a won deal deleted around the services leaves its
    # row, so the report's coverage check sees the summary is off and reads the lines
    # (until ``services.margin_days_rebuild``).
    deal = models.OneToOneField(
        "crm.Deal",
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="margin_day",
    )
    day = models.DateField(db_index=True)

    class Meta:
        verbose_name = _("deal in the margin summary")
        verbose_name_plural = _("deals in the margin summary")

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.day:%d.%m.%Y}"
