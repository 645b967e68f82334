"""Reads on receivables: exposure, ageing, the overdue list, days to payment, DSO and the
payment discipline of clients. Every number is computed in SQL; every selector that
lists or sums takes the viewer and reads through ``visible_to``.

Definitions (docs/receivables.md has them with examples):

- balance of an invoice: amount − paid; an unpaid invoice has no ``paid_on``.
- overdue days at a date: calendar days from the due date to that date; an invoice is
  overdue from the day after its due date.
- ageing buckets: not yet due, 1–7, 8–30, 31–60, over 60 days overdue.
- exposure of a client: unpaid balance of its invoices + won deals not yet invoiced
  (deal amount − invoiced, not below zero) + the deal at hand − payments received and
  not yet applied to an invoice (advances).
- days to payment: from the invoice date to the date it became fully paid, for invoices
  fully paid within the period; median and mean.
- DSO for a period: receivables at the end of the period / amount invoiced in the period
  × calendar days in the period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import (
    Avg,
    Count,
    DateField,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from vrop.accounts.models import User
from vrop.core.errors import NotFound
from vrop.core.money import ZERO, round_money
from vrop.core.policy import company_settings
from vrop.crm.choices import Stage
from vrop.crm.models import Client, Deal
from vrop.receivables.choices import Bucket, DisciplineMark, OverrideStatus, PromiseStatus
from vrop.receivables.models import (
    CreditChange,
    CreditOverride,
    Invoice,
    OverdueAction,
    Payment,
    PaymentImportRow,
)
from vrop.receivables.rules import CreditFacts, CreditPolicy

MONEY_FIELD = DecimalField(max_digits=18, decimal_places=2)


class DaysBetween(Func):
    """Whole calendar days from ``start`` to ``end`` (end − start), on SQLite and PostgreSQL."""

    output_field = IntegerField()
    arg_joiner = " - "
    template = "(%(expressions)s)"

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


def _day(value: date):
    return Value(value, output_field=DateField())


def _today() -> date:
    return timezone.localdate()


def credit_policy() -> CreditPolicy:
    row = company_settings()
    return CreditPolicy(
        stop_shipment_overdue_days=row.overdue_stop_shipment_days,
        client_stop_overdue_days=row.overdue_client_stop_days,
    )


# --- exposure and credit facts ----------------------------------------------------------


def _invoiced_per_deal():
    return Coalesce(
        Subquery(
            Invoice.objects.filter(deal_id=OuterRef("pk"))
            .order_by()
            .values("deal_id")
            .annotate(total=Sum("amount"))
            .values("total"),
            output_field=MONEY_FIELD,
        ),
        Value(ZERO),
        output_field=MONEY_FIELD,
    )


def not_invoiced():
    return Greatest(
        ExpressionWrapper(F("amount") - _invoiced_per_deal(), output_field=MONEY_FIELD),
        Value(ZERO),
        output_field=MONEY_FIELD,
    )


@dataclass(frozen=True)
class Exposure:
    unpaid_invoices: Decimal
    won_not_invoiced: Decimal
    deal_at_hand: Decimal
    advances: Decimal
    credit_limit: Decimal

    @property
    def total(self) -> Decimal:
        return self.unpaid_invoices + self.won_not_invoiced + self.deal_at_hand - self.advances

    @property
    def available(self) -> Decimal:
        return self.credit_limit - self.total

    @property
    def used_pct(self) -> Decimal | None:
        from vrop.core.money import percent

        return percent(self.total, self.credit_limit) if self.credit_limit else None


def _sum_of(queryset, field: str, value) -> Coalesce:
    return Coalesce(
        Subquery(
            queryset.order_by().values(field).annotate(total=Sum(value)).values("total"),
            output_field=MONEY_FIELD,
        ),
        Value(ZERO),
        output_field=MONEY_FIELD,
    )


def exposure_parts(client: str = "pk", *, exclude_deal_id: int | None = None) -> dict:
    """The parts of a client's exposure as expressions over the outer row's ``client``
    column (``"pk"`` on clients, ``"client_id"`` on deals): unpaid invoice balances, won
    deals not invoiced (but ``exclude_deal_id``) and advances (payments without an
    invoice). The one definition of exposure; ``Exposure`` sums them."""
    owner = OuterRef(client)
    unpaid = Invoice.objects.filter(client_id=owner, paid_on__isnull=True)
    balance = ExpressionWrapper(F("amount") - F("paid_amount"), output_field=MONEY_FIELD)
    won = Deal.objects.filter(client_id=owner, stage=Stage.WON)
    if exclude_deal_id:
        won = won.exclude(pk=exclude_deal_id)
    advances = Payment.objects.filter(client_id=owner, invoice__isnull=True)
    return {
        "exposure_unpaid": _sum_of(unpaid, "client_id", balance),
        "exposure_won_not_invoiced": _sum_of(won, "client_id", not_invoiced()),
        "exposure_advances": _sum_of(advances, "client_id", F("amount")),
    }


def exposure_of(row, *, credit_limit: Decimal, at_hand: Decimal = ZERO) -> Exposure:
    """The ``Exposure`` of a row annotated with ``exposure_parts``."""
    return Exposure(
        unpaid_invoices=round_money(row.exposure_unpaid or ZERO),
        won_not_invoiced=round_money(row.exposure_won_not_invoiced or ZERO),
        deal_at_hand=round_money(at_hand or ZERO),
        advances=round_money(max(row.exposure_advances or ZERO, ZERO)),
        credit_limit=credit_limit,
    )


def exposure_by_client(client_ids, *, exclude_deal_id: int | None = None) -> dict[int, dict]:
    """Unpaid invoices, won deals not invoiced and advances per client — one query."""
    client_ids = list(client_ids)
    result = {pk: {"unpaid": ZERO, "won_not_invoiced": ZERO, "advances": ZERO} for pk in client_ids}
    if not client_ids:
        return result
    rows = Client.objects.filter(pk__in=client_ids).annotate(
        **exposure_parts("pk", exclude_deal_id=exclude_deal_id)
    )
    for row in rows.only("pk", "credit_limit"):
        exposure = exposure_of(row, credit_limit=row.credit_limit)
        result[row.pk] = {
            "unpaid": exposure.unpaid_invoices,
            "won_not_invoiced": exposure.won_not_invoiced,
            "advances": exposure.advances,
        }
    return result


def client_exposure(*, client: Client, deal: Deal | None = None) -> Exposure:
    """The client's exposure; with ``deal``, as if that deal were won (counted once)."""
    parts = exposure_by_client([client.pk], exclude_deal_id=deal.pk if deal else None)[client.pk]
    at_hand = ZERO
    if deal is not None:
        at_hand = (
            Deal.objects.filter(pk=deal.pk)
            .annotate(rest=not_invoiced())
            .values_list("rest", flat=True)
            .first()
        ) or ZERO
        at_hand = round_money(at_hand)
    return Exposure(
        unpaid_invoices=parts["unpaid"],
        won_not_invoiced=parts["won_not_invoiced"],
        deal_at_hand=at_hand,
        advances=parts["advances"],
        credit_limit=client.credit_limit,
    )


def oldest_overdue(*, client: Client, at: date | None = None) -> tuple[int, str]:
    """(days, number) of the client's oldest invoice overdue and unpaid at the end of ``at``
    (today by default); (0, "") if none."""
    at = at or _today()
    row = (
        Invoice.objects.filter(client=client, due_on__lt=at)
        .filter(Q(paid_on__isnull=True) | Q(paid_on__gt=at))
        .order_by("due_on", "id")
        .values_list("due_on", "number")
        .first()
    )
    if row is None:
        return 0, ""
    return (at - row[0]).days, row[1]


def client_credit_facts(
    *, client: Client, deal: Deal | None = None, at: date | None = None
) -> CreditFacts:
    client = Client.objects.get(pk=client.pk)
    days, number = oldest_overdue(client=client, at=at)
    return CreditFacts(
        client_name=client.name,
        payment_terms_days=client.payment_terms_days,
        credit_limit=client.credit_limit,
        credit_status=client.credit_status,
        credit_status_reason=client.credit_status_reason,
        exposure=client_exposure(client=client, deal=deal).total,
        oldest_overdue_days=days,
        oldest_overdue_number=number,
    )


def override_active(deal: Deal) -> CreditOverride | None:
    """The owner's granted override for this deal, if it still covers the deal's amount."""
    return (
        CreditOverride.objects.filter(
            deal_id=deal.pk, status=OverrideStatus.GRANTED, deal_amount__gte=deal.amount
        )
        .order_by("-decided_at")
        .first()
    )


# --- ageing and the overdue list --------------------------------------------------------

BUCKET_BOUNDS = (
    (Bucket.D1_7, 1, 7),
    (Bucket.D8_30, 8, 30),
    (Bucket.D31_60, 31, 60),
    (Bucket.OVER_60, 61, None),
)


def bucket_for(days_overdue: int) -> str:
    if days_overdue <= 0:
        return Bucket.CURRENT
    for bucket, _low, high in BUCKET_BOUNDS:
        if high is None or days_overdue <= high:
            return bucket
    return Bucket.OVER_60  # pragma: no cover


def _unpaid_at(viewer: User, at: date):
    """Invoices unpaid at the end of ``at`` with their balance then, as (queryset, expr).

    Today and later read ``paid_amount``; a past date sums the payments made by then.
    """
    invoices = Invoice.objects.visible_to(viewer)
    if at >= _today():
        balance = ExpressionWrapper(F("amount") - F("paid_amount"), output_field=MONEY_FIELD)
        return invoices.filter(paid_on__isnull=True), balance
    paid_by = Coalesce(
        Subquery(
            Payment.objects.filter(invoice_id=OuterRef("pk"), paid_on__lte=at)
            .order_by()
            .values("invoice_id")
            .annotate(total=Sum("amount"))
            .values("total"),
            output_field=MONEY_FIELD,
        ),
        Value(ZERO),
        output_field=MONEY_FIELD,
    )
    balance = ExpressionWrapper(F("amount") - paid_by, output_field=MONEY_FIELD)
    return (
        invoices.filter(Q(paid_on__isnull=True) | Q(paid_on__gt=at), issued_on__lte=at),
        balance,
    )


def _bucket_sums(balance, at: date) -> dict:
    sums = {"current": Sum(balance, filter=Q(due_on__gte=at, issued_on__lte=at))}
    for index, (_bucket, low, high) in enumerate(BUCKET_BOUNDS):
        condition = Q(due_on__lte=at - timedelta(days=low))
        if high is not None:
            condition &= Q(due_on__gte=at - timedelta(days=high))
        sums[f"b{index}"] = Sum(balance, filter=condition)
    sums["count"] = Count("due_on", filter=Q(due_on__lt=at))  # index-only
    return sums


@dataclass
class Ageing:
    """Receivables at a date by bucket. ``total`` is the overdue total (DESIGN "overdue
    receivables"); ``current`` is not yet due; ``receivables`` both."""

    current: Decimal
    buckets: dict[str, Decimal]
    count: int
    id: int | None = None
    name: str = ""

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)

    @property
    def receivables(self) -> Decimal:
        return self.total + self.current

    @property
    def d1_7(self) -> Decimal:
        return self.buckets[Bucket.D1_7]

    @property
    def d8_30(self) -> Decimal:
        return self.buckets[Bucket.D8_30]

    @property
    def d31_60(self) -> Decimal:
        return self.buckets[Bucket.D31_60]

    @property
    def over_60(self) -> Decimal:
        return self.buckets[Bucket.OVER_60]

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "current": self.current,
            "buckets": dict(self.buckets),
            "overdue": self.total,
            "receivables": self.receivables,
            "invoices_overdue": self.count,
        }


def _ageing_from(row: dict) -> Ageing:
    return Ageing(
        current=row.get("current") or ZERO,
        buckets={
            str(bucket): row.get(f"b{index}") or ZERO
            for index, (bucket, _low, _high) in enumerate(BUCKET_BOUNDS)
        },
        count=row.get("count") or 0,
    )


def receivables_ageing(
    *,
    viewer: User,
    at: date | None = None,
    group_by: str | None = None,
    manager_id: int | None = None,
    client_id: int | None = None,
    limit: int | None = None,
) -> Ageing | list[Ageing]:
    """Receivables by ageing bucket at the end of ``at`` (today by default).

    Without ``group_by``: one ``Ageing`` (buckets "1-7", "8-30", "31-60", "60+";
    ``total`` overdue, ``current`` not yet due, ``count`` invoices overdue). With
    ``group_by="client"`` or ``"manager"``: a list of them with ``id`` and ``name``,
    largest overdue first (only rows with something overdue), the first ``limit`` only
    when given (sorted and cut in SQL).
    """
    at = at or _today()
    invoices, balance = _unpaid_at(viewer, at)
    if manager_id:
        invoices = invoices.filter(manager_id=manager_id)
    if client_id:
        invoices = invoices.filter(client_id=client_id)
    sums = _bucket_sums(balance, at)
    if group_by is None:
        return _ageing_from(invoices.order_by().aggregate(**sums))
    if group_by not in ("client", "manager"):
        raise ValueError(f"group_by must be None, 'client' or 'manager', not {group_by!r}")
    column = f"{group_by}_id"
    overdue = invoices.filter(due_on__lt=at)
    if limit is None:
        grouped = list(
            overdue.values(column)
            .annotate(**sums, overdue=Sum(balance))
            .order_by("-overdue", column)
        )
    else:
        # The largest first, with one sum only; then the buckets of those rows alone.
        top = list(
            overdue.values(column)
            .annotate(overdue=Sum(balance))
            .order_by("-overdue", column)
            .values_list(column, flat=True)[:limit]
        )
        chosen = Q(**{f"{column}__in": [pk for pk in top if pk is not None]})
        if None in top:
            chosen |= Q(**{f"{column}__isnull": True})
        by_id = {
            row[column]: row
            for row in overdue.filter(chosen).values(column).annotate(**sums).order_by()
        }
        grouped = [by_id[pk] for pk in top if pk in by_id]
    rows = []
    for row in grouped:
        ageing = _ageing_from(row)
        ageing.id = row[column]
        rows.append(ageing)
    ids = [row.id for row in rows if row.id is not None]
    if group_by == "client":
        names = dict(Client.objects.filter(pk__in=ids).values_list("pk", "name"))
    else:
        names = {user.pk: str(user) for user in User.objects.filter(pk__in=ids)}
    for row in rows:
        row.name = names.get(row.id, "—")
    return rows


def _latest_action(field_name: str):
    return Subquery(
        OverdueAction.objects.filter(invoice_id=OuterRef("pk"))
        .order_by("-done_at", "-id")
        .values(field_name)[:1]
    )


def overdue_list(
    *,
    viewer: User,
    at: date | None = None,
    manager_id: int | None = None,
    client_id: int | None = None,
    min_days: int = 1,
    bucket: str | None = None,
):
    """Unpaid invoices overdue at ``at`` (today), oldest first, with their latest action.

    A queryset of invoices annotated with ``balance_due``, ``days_overdue`` and
    ``action_kind``, ``action_at``, ``action_note``, ``promised_on``, ``promise_status``,
    ``next_action``, ``next_action_on``, ``responsible_id`` of the latest action. Slice
    it for a page: the partial index on unpaid due dates keeps that fast.
    """
    at = at or _today()
    invoices = Invoice.objects.visible_to(viewer).filter(
        paid_on__isnull=True, due_on__lte=at - timedelta(days=max(min_days, 1))
    )
    if bucket and bucket != Bucket.CURRENT:
        for name, low, high in BUCKET_BOUNDS:
            if name == bucket:
                invoices = invoices.filter(due_on__lte=at - timedelta(days=low))
                if high is not None:
                    invoices = invoices.filter(due_on__gte=at - timedelta(days=high))
    if manager_id:
        invoices = invoices.filter(manager_id=manager_id)
    if client_id:
        invoices = invoices.filter(client_id=client_id)
    return (
        invoices.select_related("client", "manager")
        .annotate(
            balance_due=ExpressionWrapper(F("amount") - F("paid_amount"), output_field=MONEY_FIELD),
            days_overdue=DaysBetween(_day(at), F("due_on")),
            action_kind=_latest_action("kind"),
            action_at=_latest_action("done_at"),
            action_note=_latest_action("note"),
            promised_on=_latest_action("promised_on"),
            promise_status=_latest_action("promise_status"),
            next_action=_latest_action("next_action"),
            next_action_on=_latest_action("next_action_on"),
            responsible_id=_latest_action("responsible_id"),
        )
        .order_by("due_on", "id")
    )


def overdue_action_list(*, viewer: User, invoice: Invoice):
    return (
        OverdueAction.objects.visible_to(viewer)
        .filter(invoice=invoice)
        .select_related("done_by", "responsible")
        .order_by("-done_at", "-id")
    )


def invoice_get(*, viewer: User, invoice_id: int) -> Invoice:
    invoice = (
        Invoice.objects.visible_to(viewer)
        .select_related("client", "manager", "deal")
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        raise NotFound("invoice")
    return invoice


# --- days to payment, DSO, payment discipline -------------------------------------------


def median_of_counts(counts: list[tuple[int, int]]) -> Decimal | None:
    """The median of values given as (value, how many) sorted by value: the middle value,
    or the mean of the two middle ones for an even count; None when there are none."""
    total = sum(n for _value, n in counts)
    if not total:
        return None
    lower_rank, upper_rank = (total - 1) // 2, total // 2
    seen = 0
    lower = upper = None
    for value, n in counts:
        if lower is None and seen + n > lower_rank:
            lower = value
        if upper is None and seen + n > upper_rank:
            upper = value
            break
        seen += n
    return (Decimal(lower) + Decimal(upper)) / 2


@dataclass(frozen=True)
class DaysToPayment:
    count: int
    median: Decimal | None
    mean: Decimal | None


def days_to_payment(
    *,
    viewer: User,
    date_from: date,
    date_to: date,
    manager_id: int | None = None,
    client_id: int | None = None,
    team_id: int | None = None,
) -> dict:
    """Days from invoice date to full payment, for invoices fully paid in [from, to].

    Returns ``DaysToPayment(count, median, mean)`` (days; mean to 0.1; None when none).
    One query: how many invoices took each number of days, the median and the mean read
    from those counts. ``team_id`` narrows to the invoices of a team's managers.
    """
    invoices = Invoice.objects.visible_to(viewer).filter(
        paid_on__gte=date_from, paid_on__lte=date_to
    )
    if manager_id:
        invoices = invoices.filter(manager_id=manager_id)
    if client_id:
        invoices = invoices.filter(client_id=client_id)
    if team_id:
        invoices = invoices.filter(manager__team_id=team_id)
    counts = [
        (row["days"], row["n"])
        for row in invoices.annotate(days=DaysBetween(F("paid_on"), F("issued_on")))
        .values("days")
        .annotate(n=Count("pk"))
        .order_by("days")
        if row["days"] is not None
    ]
    count = sum(n for _days, n in counts)
    mean = None
    if count:
        mean = (Decimal(sum(days * n for days, n in counts)) / count).quantize(Decimal("0.1"))
    return DaysToPayment(count=count, median=median_of_counts(counts), mean=mean)


def receivables_at(*, viewer: User, at: date, manager_id: int | None = None) -> Decimal:
    """Unpaid balance of all invoices issued by the end of ``at`` (due or not)."""
    invoices, balance = _unpaid_at(viewer, at)
    invoices = invoices.filter(issued_on__lte=at)
    if manager_id:
        invoices = invoices.filter(manager_id=manager_id)
    return invoices.order_by().aggregate(total=Sum(balance))["total"] or ZERO


def dso(*, viewer: User, date_from: date, date_to: date, manager_id: int | None = None) -> dict:
    """DSO = receivables at the end of the period / invoiced in the period × days in it.

    Returns {"receivables", "invoiced", "days", "dso"} (dso to 0.1 day; None when nothing
    was invoiced in the period).
    """
    invoiced_qs = Invoice.objects.visible_to(viewer).filter(
        issued_on__gte=date_from, issued_on__lte=date_to
    )
    if manager_id:
        invoiced_qs = invoiced_qs.filter(manager_id=manager_id)
    invoiced = invoiced_qs.order_by().aggregate(total=Sum("amount"))["total"] or ZERO
    receivables = receivables_at(viewer=viewer, at=date_to, manager_id=manager_id)
    days = (date_to - date_from).days + 1
    value = None
    if invoiced:
        value = (receivables / invoiced * days).quantize(Decimal("0.1"))
    return {"receivables": receivables, "invoiced": invoiced, "days": days, "dso": value}


@dataclass
class PaymentProfile:
    client_id: int
    paid_invoices: int = 0
    mean_days_to_payment: Decimal | None = None
    mean_days_late: Decimal | None = None
    on_time_pct: Decimal | None = None
    oldest_overdue_days: int = 0
    mark: str = DisciplineMark.NEW
    extra: dict = field(default_factory=dict)

    def expected_payment_date(self, invoice: Invoice) -> date:
        """When an unpaid invoice is likely paid: its due date plus the client's mean lateness."""
        late = int((self.mean_days_late or ZERO).to_integral_value())
        return max(invoice.due_on + timedelta(days=late), _today())


def discipline_mark(
    *, paid_invoices: int, mean_days_late, on_time_pct, oldest_overdue_days: int
) -> str:
    """A: pays on time; B: slightly late; C: late; D: very late (see docs/receivables.md)."""
    if paid_invoices == 0 and oldest_overdue_days == 0:
        return DisciplineMark.NEW
    late = Decimal(mean_days_late or 0)
    if late > 30 or oldest_overdue_days > 30:
        return DisciplineMark.D
    if late > 10 or oldest_overdue_days > 10:
        return DisciplineMark.C
    if late > 3 or (on_time_pct is not None and on_time_pct < 80) or oldest_overdue_days > 3:
        return DisciplineMark.B
    return DisciplineMark.A


def client_payment_discipline(
    *,
    viewer: User,
    at: date | None = None,
    client_ids=None,
    window_days: int = 365,
) -> dict[int, PaymentProfile]:
    """How each client pays: from invoices fully paid in the ``window_days`` before ``at``.

    Mean days to payment, mean days late (a payment on or before the due date counts 0),
    share paid on time, the oldest overdue now, and a mark A–D for the forecast.
    """
    at = at or _today()
    invoices = Invoice.objects.visible_to(viewer).filter(client_id__isnull=False)
    if client_ids is not None:
        invoices = invoices.filter(client_id__in=list(client_ids))
    paid = invoices.filter(paid_on__gt=at - timedelta(days=window_days), paid_on__lte=at)
    late = Greatest(DaysBetween(F("paid_on"), F("due_on")), Value(0), output_field=IntegerField())
    profiles: dict[int, PaymentProfile] = {}
    for row in (
        paid.order_by()
        .values("client_id")
        .annotate(
            count=Count("pk"),
            mean_days=Avg(DaysBetween(F("paid_on"), F("issued_on"))),
            mean_late=Avg(late),
            on_time=Count("pk", filter=Q(paid_on__lte=F("due_on"))),
        )
    ):
        profiles[row["client_id"]] = PaymentProfile(
            client_id=row["client_id"],
            paid_invoices=row["count"],
            mean_days_to_payment=Decimal(str(row["mean_days"])).quantize(Decimal("0.1")),
            mean_days_late=Decimal(str(row["mean_late"])).quantize(Decimal("0.1")),
            on_time_pct=(Decimal(row["on_time"]) * 100 / row["count"]).quantize(Decimal("0.1")),
        )
    for row in (
        invoices.filter(paid_on__isnull=True, due_on__lt=at)
        .order_by()
        .values("client_id")
        .annotate(oldest=Min("due_on"))
    ):
        profile = profiles.setdefault(row["client_id"], PaymentProfile(client_id=row["client_id"]))
        profile.oldest_overdue_days = (at - row["oldest"]).days
    for profile in profiles.values():
        profile.mark = discipline_mark(
            paid_invoices=profile.paid_invoices,
            mean_days_late=profile.mean_days_late,
            on_time_pct=profile.on_time_pct,
            oldest_overdue_days=profile.oldest_overdue_days,
        )
    return profiles


# --- credit: clients, overrides, lists --------------------------------------------------


def client_credit_get(*, viewer: User, client_id: int) -> dict:
    """A client's terms, status with who set it and why, exposure and overdue, for a viewer."""
    client = Client.objects.visible_to(viewer).filter(pk=client_id).first()
    if client is None:
        raise NotFound("client")
    exposure = client_exposure(client=client)
    days, number = oldest_overdue(client=client)
    last_change = CreditChange.objects.filter(client=client).select_related("changed_by").first()
    return {
        "client": client,
        "exposure": exposure,
        "oldest_overdue_days": days,
        "oldest_overdue_number": number,
        "last_change": last_change,
        "history": list(
            CreditChange.objects.filter(client=client).select_related("changed_by")[:20]
        ),
    }


def near_limit_rows(clients, threshold_pct: Decimal = Decimal("90")) -> list[dict]:
    """Of ``clients``, those on deferral whose exposure is at or over ``threshold_pct`` of
    their limit, most used first."""
    clients = list(
        clients.filter(payment_terms_days__gt=0, credit_limit__gt=0).only(
            "pk", "name", "credit_limit", "manager"
        )
    )
    parts = exposure_by_client([c.pk for c in clients])
    rows = []
    for client in clients:
        part = parts[client.pk]
        total = part["unpaid"] + part["won_not_invoiced"] - part["advances"]
        used = round_money(total / client.credit_limit * 100)
        if total * 100 >= threshold_pct * client.credit_limit:
            rows.append(
                {
                    "client": client,
                    "exposure": total,
                    "limit": client.credit_limit,
                    "used_pct": used,
                    "is_over": total > client.credit_limit,
                }
            )
    rows.sort(key=lambda row: -row["used_pct"])
    return rows


def clients_near_limit(*, viewer: User, threshold_pct: Decimal = Decimal("90")) -> list[dict]:
    """Clients the viewer sees whose exposure is at or over ``threshold_pct`` of the limit."""
    return near_limit_rows(Client.objects.visible_to(viewer), threshold_pct)


def credit_override_list(*, viewer: User, status: str | None = None):
    overrides = CreditOverride.objects.visible_to(viewer).select_related(
        "deal", "client", "requested_by", "decided_by"
    )
    if status:
        overrides = overrides.filter(status=status)
    return overrides.order_by("-requested_at", "-id")


def promises_due(*, viewer: User, at: date | None = None):
    """Open promises due on or before ``at``: what finance checks today."""
    at = at or _today()
    return (
        OverdueAction.objects.visible_to(viewer)
        .filter(promise_status=PromiseStatus.PENDING, promised_on__lte=at)
        .select_related("invoice", "client", "responsible")
        .order_by("promised_on", "id")
    )


def promises_missed(*, viewer: User, since: date):
    return (
        OverdueAction.objects.visible_to(viewer)
        .filter(promise_status=PromiseStatus.MISSED, promised_on__gte=since)
        .select_related("invoice", "client", "responsible")
        .order_by("-promised_on", "-id")
    )


def payment_rows_to_confirm(*, viewer: User):
    from vrop.accounts.visibility import can
    from vrop.receivables.choices import RowStatus

    if not can(viewer, "change", "payment"):
        return PaymentImportRow.objects.none()
    return (
        PaymentImportRow.objects.filter(status__in=[RowStatus.SUGGESTED, RowStatus.UNMATCHED])
        .select_related("invoice", "client", "batch")
        .order_by("batch_id", "line_no")
    )


def receivables_digest(*, viewer: User, at: date | None = None) -> dict:
    """The daily list for finance and the owner: what is new, due, missed and at the limit."""
    at = at or _today()
    return {
        "at": at,
        "ageing": receivables_ageing(viewer=viewer, at=at),
        "new_overdue": list(
            overdue_list(viewer=viewer, at=at).filter(due_on=at - timedelta(days=1))[:50]
        ),
        "promises_due": list(promises_due(viewer=viewer, at=at)[:50]),
        "promises_missed": list(promises_missed(viewer=viewer, since=at - timedelta(days=7))[:50]),
        "near_limit": clients_near_limit(viewer=viewer)[:50],
        "overrides_pending": list(
            credit_override_list(viewer=viewer, status=OverrideStatus.PENDING)[:50]
        ),
        "rows_to_confirm": payment_rows_to_confirm(viewer=viewer).count(),
        "largest_overdue": list(
            overdue_list(viewer=viewer, at=at).order_by("-balance_due", "id")[:10]
        ),
        "worst_clients": receivables_ageing(viewer=viewer, at=at, group_by="client", limit=10),
    }


def deal_credit_check(*, viewer: User, deal_id: int) -> dict:
    """What the credit rules say about a deal now: winning it and shipping it on deferral."""
    from vrop.receivables.rules import shipment_refusals, won_refusals

    deal = Deal.objects.visible_to(viewer).select_related("client").filter(pk=deal_id).first()
    if deal is None:
        raise NotFound("deal")
    result = {
        "deal": deal,
        "facts": None,
        "won": [],
        "shipment": [],
        "override": override_active(deal),
        "overrides": list(
            CreditOverride.objects.filter(deal=deal).select_related("requested_by", "decided_by")
        ),
    }
    if deal.client_id is None:
        return result
    facts = client_credit_facts(client=deal.client, deal=deal)
    policy = credit_policy()
    result.update(
        facts=facts,
        won=won_refusals(facts, policy),
        shipment=shipment_refusals(facts, policy) if deal.client.payment_terms_days else [],
        exposure=client_exposure(client=deal.client, deal=deal),
    )
    return result
