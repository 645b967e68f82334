"""Clients, contacts, products, deals with lines and stage history, tasks, activities,
and the inbox of incoming requests.

Models hold data and invariants only; every write goes through ``vrop.crm.services``.
Deal totals (amount, cost, list amount), the next step date and the last activity are
denormalised onto the deal by the services, so that sweeps and reports over a million
deals read one row per deal.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from vrop.accounts.visibility import VisibleQuerySet
from vrop.core.models import ExternalRecord, TimeStampedModel
from vrop.crm.choices import (
    ActivityKind,
    Channel,
    CreditStatus,
    RequestStatus,
    Stage,
    Unit,
)

MONEY = {"max_digits": 18, "decimal_places": 2}
QTY = {"max_digits": 14, "decimal_places": 3}


class ClientQuerySet(VisibleQuerySet):
    visibility_kind = "client"


class Client(ExternalRecord, TimeStampedModel):
    name = models.CharField(_("name"), max_length=300)
    inn = models.CharField(_("INN"), max_length=12, blank=True, default="", db_index=True)
    kpp = models.CharField(_("KPP"), max_length=9, blank=True, default="")
    segment = models.CharField(_("segment"), max_length=64, blank=True, default="")
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clients",
        db_index=False,  # (manager, name) below serves it
    )
    phone = models.CharField(_("phone"), max_length=50, blank=True, default="")
    email = models.EmailField(_("e-mail"), blank=True, default="")
    city = models.CharField(_("city"), max_length=100, blank=True, default="")
    payment_terms_days = models.PositiveIntegerField(
        _("payment terms, days (0 = prepayment)"), default=0
    )
    credit_limit = models.DecimalField(_("credit limit"), default=Decimal("0"), **MONEY)
    credit_status = models.CharField(
        _("credit status"), max_length=20, choices=CreditStatus.choices, default=CreditStatus.ACTIVE
    )
    credit_status_reason = models.CharField(
        _("credit status reason"), max_length=300, blank=True, default=""
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_clients"
    )
    history = HistoricalRecords()

    objects = ClientQuerySet.as_manager()

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="client_source_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["manager", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deferral(self) -> bool:
        return self.payment_terms_days > 0


class Contact(TimeStampedModel):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=200)
    position = models.CharField(_("position"), max_length=100, blank=True, default="")
    phone = models.CharField(_("phone"), max_length=50, blank=True, default="", db_index=True)
    email = models.EmailField(_("e-mail"), blank=True, default="", db_index=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProductQuerySet(VisibleQuerySet):
    visibility_kind = "product"


class Product(ExternalRecord, TimeStampedModel):
    name = models.CharField(_("name"), max_length=300)
    category = models.CharField(
        _("category"), max_length=100, blank=True, default="", db_index=True
    )
    unit = models.CharField(_("unit"), max_length=8, choices=Unit.choices, default=Unit.TONNE)
    cost_price = models.DecimalField(_("cost price"), default=Decimal("0"), **MONEY)
    list_price = models.DecimalField(_("list price"), default=Decimal("0"), **MONEY)
    stock_qty = models.DecimalField(_("in stock"), default=Decimal("0"), **QTY)
    is_active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    objects = ProductQuerySet.as_manager()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["category", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="product_source_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DealQuerySet(VisibleQuerySet):
    visibility_kind = "deal"

    def open(self):
        return self.filter(stage__in=[Stage.LEAD, Stage.CONTACT, Stage.QUOTE])


class Deal(ExternalRecord, TimeStampedModel):
    title = models.CharField(_("title"), max_length=300, blank=True, default="")
    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deals",
        db_index=False,  # (client, stage) below serves it
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
        db_index=False,  # (manager, stage) below serves it
    )
    channel = models.CharField(_("channel"), max_length=32, blank=True, default=Channel.OTHER)
    # indexed by deal_received_sla_idx (its first column) below
    received_at = models.DateTimeField(_("received at"))
    need = models.TextField(_("need"), blank=True, default="")
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, default=Stage.LEAD)
    stage_changed_at = models.DateTimeField(_("in stage since"))
    lost_reason = models.CharField(_("lost reason"), max_length=300, blank=True, default="")
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Totals kept by the services from the lines (or imported when there are no lines).
    amount = models.DecimalField(_("amount"), default=Decimal("0"), **MONEY)
    cost_amount = models.DecimalField(_("cost"), default=Decimal("0"), **MONEY)
    list_amount = models.DecimalField(_("amount at list prices"), default=Decimal("0"), **MONEY)
    volume = models.DecimalField(_("volume"), default=Decimal("0"), **QTY)
    # Discipline facts kept by the services.
    next_step_at = models.DateTimeField(_("next step due"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    quote_sent_at = models.DateTimeField(_("quote sent"), null=True, blank=True)
    # Working seconds from arrival to the first contact and to the quote, on the company's
    # calendar: written by ``discipline.worktime.refresh_response_times`` whenever one of the
    # moments (or the working hours) changes, so that the SLA numbers are plain aggregates.
    first_contact_work_seconds = models.PositiveIntegerField(null=True, blank=True, editable=False)
    quote_work_seconds = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # The day the deal became fully paid (it has invoices and all are paid): the latest
    # invoice's ``paid_on``; written by ``receivables.services.deals_paid_on_refresh``.
    paid_on = models.DateField(_("fully paid on"), null=True, blank=True, editable=False)
    # The first moment the deal reached contact, quote and won (or a later stage), from its
    # stage history (``choices.REACHED``); written by ``services.deals_stage_moments_refresh``.
    contact_reached_at = models.DateTimeField(null=True, blank=True, editable=False)
    quote_reached_at = models.DateTimeField(null=True, blank=True, editable=False)
    won_reached_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Promised delivery, if any (confirmed by stock or supplier).
    promised_date = models.DateField(_("promised delivery date"), null=True, blank=True)
    # Flags raised on import or sync instead of refusing (rule code -> message).
    flags = models.JSONField(_("flags"), default=dict, blank=True)
    copied_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="copies",
        db_index=False,  # deal_copied_from_idx below: only the copies
    )
    history = HistoricalRecords(
        # nothing filters the history by these; their indexes would only slow imports
        no_db_index=["client", "manager", "received_at", "copied_from"],
        excluded_fields=[
            "updated_at",
            "last_activity_at",
            "next_step_at",
            "first_contact_work_seconds",
            "quote_work_seconds",
            "paid_on",
            "contact_reached_at",
            "quote_reached_at",
            "won_reached_at",
        ],
    )

    objects = DealQuerySet.as_manager()

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="deal_source_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["manager", "stage"]),
            models.Index(fields=["stage", "next_step_at"]),
            models.Index(fields=["client", "stage"]),
            models.Index(fields=["stage", "-amount"]),
            models.Index(fields=["stage", "-received_at"], name="deal_stage_received_idx"),
            models.Index(fields=["stage", "closed_at"], name="deal_stage_closed_idx"),
            # The control board and the stalled count read only open deals: a small partial
            # index holding every column the stalled rule looks at (index-only scans).
            models.Index(
                fields=[
                    "manager",
                    "stage",
                    "next_step_at",
                    "last_activity_at",
                    "received_at",
                    "stage_changed_at",
                    "amount",
                ],
                include=["id"],
                condition=Q(stage__in=["lead", "contact", "quote"]),
                name="deal_open_board_idx",
            ),
            # The forecast's won deals not yet paid, by closing day.
            models.Index(
                fields=["closed_at"],
                condition=Q(stage="won", paid_on__isnull=True),
                name="deal_won_unpaid_idx",
            ),
            # SLA numbers of a period: arrivals in a date range with their response times.
            models.Index(
                fields=[
                    "received_at",
                    "manager",
                    "stage",
                    "first_contact_at",
                    "quote_sent_at",
                    "first_contact_work_seconds",
                    "quote_work_seconds",
                ],
                include=["id"],
                name="deal_received_sla_idx",
            ),
            # The cohort of a period's quotes (quote → payment): deals that first reached
            # quote (or won) in a date range, with what the conversion sums.
            models.Index(
                fields=["quote_reached_at", "manager"],
                include=["id", "amount", "paid_on"],
                condition=Q(quote_reached_at__isnull=False),
                name="deal_quote_reached_idx",
            ),
            models.Index(
                fields=["copied_from"],
                condition=Q(copied_from__isnull=False),
                name="deal_copied_from_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"#{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.stage in (Stage.LEAD, Stage.CONTACT, Stage.QUOTE)

    @property
    def gross_profit(self) -> Decimal:
        return self.amount - self.cost_amount

    @property
    def margin_pct(self) -> Decimal | None:
        from vrop.core.money import percent

        return percent(self.gross_profit, self.amount)

    @property
    def discount_pct(self) -> Decimal | None:
        from vrop.core.money import percent

        return (
            percent(self.list_amount - self.amount, self.list_amount) if self.list_amount else None
        )


class DealLine(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="deal_lines"
    )
    qty = models.DecimalField(_("quantity"), **QTY)
    price = models.DecimalField(_("price"), **MONEY)
    cost_price = models.DecimalField(_("cost price"), **MONEY)
    list_price = models.DecimalField(_("list price"), **MONEY)
    position = models.PositiveIntegerField(default=0)
    # nothing filters the lines' history by these; their indexes would only slow imports
    history = HistoricalRecords(no_db_index=["deal", "product"])

    class Meta:
        verbose_name = _("deal line")
        verbose_name_plural = _("deal lines")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.product} × {self.qty}"

    @property
    def amount(self) -> Decimal:
        return self.qty * self.price

    @property
    def cost(self) -> Decimal:
        return self.qty * self.cost_price

    @property
    def gross_profit(self) -> Decimal:
        return self.qty * (self.price - self.cost_price)

    @property
    def margin_pct(self) -> Decimal | None:
        from vrop.core.money import percent

        return percent(self.gross_profit, self.amount)

    @property
    def markup_pct(self) -> Decimal | None:
        from vrop.core.money import percent

        return percent(self.gross_profit, self.cost)

    @property
    def discount_pct(self) -> Decimal | None:
        from vrop.core.money import percent

        return percent(self.list_price - self.price, self.list_price)


class StageChange(models.Model):
    """Stage history: written only by ``deal_stage_change`` (and imports of history)."""

    deal = models.ForeignKey(
        Deal,
        on_delete=models.CASCADE,
        related_name="stage_changes",
        db_index=False,  # (deal, changed_at) below serves it
    )
    from_stage = models.CharField(_("from stage"), max_length=16, blank=True, default="")
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices)
    changed_at = models.DateTimeField(_("changed at"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # stagechange_changed_by_idx below: only the changes made by someone
    )

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["changed_at", "id"]
        indexes = [
            models.Index(fields=["deal", "changed_at"]),
            models.Index(fields=["stage", "changed_at"]),
            models.Index(
                fields=["changed_by"],
                condition=Q(changed_by__isnull=False),
                name="stagechange_changed_by_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.stage} @ {self.changed_at:%Y-%m-%d}"


class TaskQuerySet(VisibleQuerySet):
    visibility_kind = "task"

    def open(self):
        return self.filter(done_at__isnull=True)


class Task(ExternalRecord, TimeStampedModel):
    """A task; an open task with a due date on an open deal is its next step."""

    deal = models.ForeignKey(
        Deal,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tasks",
        db_index=False,  # (deal, done_at) below serves it
    )
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        db_index=False,  # (manager, done_at, due_at) below serves it
    )
    title = models.CharField(_("title"), max_length=300)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    result = models.TextField(_("result"), blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # task_created_by_idx below: only the tasks someone created
    )

    objects = TaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="task_source_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["manager", "done_at", "due_at"]),
            models.Index(fields=["deal", "done_at"]),
            # Open tasks by due date: overdue counts on the board and Today read only these.
            models.Index(
                fields=["due_at", "manager"],
                condition=Q(done_at__isnull=True),
                name="task_open_due_idx",
            ),
            models.Index(
                fields=["created_by"],
                condition=Q(created_by__isnull=False),
                name="task_created_by_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.done_at is None


class ActivityQuerySet(VisibleQuerySet):
    visibility_kind = "activity"


class Activity(ExternalRecord):
    kind = models.CharField(_("kind"), max_length=16, choices=ActivityKind.choices)
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activities",
    )
    occurred_at = models.DateTimeField(_("when"), db_index=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True, default="")
    body = models.TextField(_("text"), blank=True, default="")

    objects = ActivityQuerySet.as_manager()

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["deal", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


class RequestQuerySet(VisibleQuerySet):
    visibility_kind = "request"


class Request(ExternalRecord, TimeStampedModel):
    """An incoming request in the inbox: accepted (a deal), linked, or declined."""

    channel = models.CharField(_("channel"), max_length=32, default=Channel.OTHER)
    received_at = models.DateTimeField(_("received at"), db_index=True)
    contact_name = models.CharField(_("contact"), max_length=200, blank=True, default="")
    company_name = models.CharField(_("company"), max_length=300, blank=True, default="")
    inn = models.CharField(_("INN"), max_length=12, blank=True, default="")
    phone = models.CharField(_("phone"), max_length=50, blank=True, default="")
    email = models.EmailField(_("e-mail"), blank=True, default="")
    text = models.TextField(_("text"), blank=True, default="")
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=RequestStatus.choices,
        default=RequestStatus.NEW,
        db_index=True,
    )
    decline_reason = models.CharField(_("decline reason"), max_length=300, blank=True, default="")
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    objects = RequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="request_source_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["manager", "status"])]

    def __str__(self) -> str:
        return f"{self.get_status_display()}: {self.company_name or self.contact_name or self.pk}"
