"""The forecast of payments (DESIGN.md "Numbers": forecast), its snapshots and accuracy.

* Each open deal (and each won deal not invoiced yet) is expected to bring
  ``probability(stage) × amount`` on ``day it entered the stage + days(stage)``, where
  the probability is, of the deals that reached that stage in the last year and are
  resolved (fully paid or lost), the share fully paid; and days(stage) the mean days
  from reaching the stage to the last payment of those paid. A date already past is
  moved to today. With fewer than ``MIN_SAMPLE`` resolved deals the defaults below hold.
* Each unpaid invoice is expected to bring its balance on its due date shifted by the
  client's mean delay (paid date − due date of its invoices paid in the last year; the
  company's mean when the client has none), not before today.
* The parts are computed in SQL grouped by day; buckets (week, month) are sums of days,
  so the forecast always equals the sum of its parts.
* The forecast can be made as of a past day (``known_through``): only what was known at
  the end of that day counts — deals received by then and not closed by then, at the
  stage they had reached and since the moment they reached it; won deals not invoiced by
  then; invoices issued by then and not paid by then, with their balance on that day;
  the stage odds and the clients' delays from the history up to then. For today it is
  the current forecast, read the same way.
* A snapshot of the company's forecast is kept each day; accuracy is the mean absolute
  percentage error (MAPE) of the snapshot made before each past week (month) against
  the payments actually received in it. Days without a snapshot (before the daily task
  ran, or before the history was imported) are reconstructed from the history with the
  forecast as known on the eve of that day, and marked so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DateTimeField,
    DecimalField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from vrop.analytics.periods import Period, Scope, day_start, period_of
from vrop.analytics.selectors.funnel import LATER, REACHED_FIELD
from vrop.analytics.selectors.kpi import fully_paid
from vrop.core.money import ZERO, percent, round_money
from vrop.crm.choices import Stage
from vrop.crm.models import Deal
from vrop.planning.models import ForecastSnapshot, ForecastSnapshotLine
from vrop.receivables.models import Invoice, Payment

MONEY_FIELD = DecimalField(max_digits=18, decimal_places=2)
STAGES = ("lead", "contact", "quote", "won")
OPEN = (Stage.LEAD, Stage.CONTACT, Stage.QUOTE)
CLOSED = (Stage.WON, Stage.LOST)
LOOKBACK_DAYS = 365
MIN_SAMPLE = 5
# Used while the history is too thin (fewer than MIN_SAMPLE resolved deals).
DEFAULT_PROBABILITY = {
    "lead": Decimal("0.10"),
    "contact": Decimal("0.20"),
    "quote": Decimal("0.40"),
    "won": Decimal("0.90"),
}
DEFAULT_DAYS = {"lead": 30, "contact": 25, "quote": 15, "won": 10}
SYSTEM = object()  # the viewer of company-wide snapshots (never from a request)


def _deals(viewer):
    return Deal.objects.all() if viewer is SYSTEM else Deal.objects.visible_to(viewer)


def _invoices(viewer):
    return Invoice.objects.all() if viewer is SYSTEM else Invoice.objects.visible_to(viewer)


@dataclass(frozen=True)
class StageOdds:
    stage: str
    probability: Decimal
    days: int
    resolved: int
    paid: int
    from_history: bool

    @property
    def label(self) -> str:
        return str(Stage(self.stage).label)


def _history_row(at: date) -> dict:
    """Per stage, of last year's deals: resolved ones that reached it, paid ones, and the
    mean days from first reaching it to the day fully paid — one aggregate.

    Only resolved deals (fully paid by ``at``, or lost by the end of ``at``) count, so
    that the rates of a past day use only what was known then. "Reached" is the funnel's:
    the deal first reached the stage or a later one (``Deal.contact_reached_at``…, kept
    from its stage history), or it is there now.
    """
    since = day_start(at - timedelta(days=LOOKBACK_DAYS))
    paid = fully_paid(at)
    lost = Q(stage=Stage.LOST) & (
        Q(closed_at__lt=day_start(at + timedelta(days=1))) | Q(closed_at__isnull=True)
    )
    resolved = Deal.objects.filter(received_at__gte=since, received_at__lt=day_start(at)).filter(
        paid | lost
    )
    aggregates = {}
    for stage in STAGES:
        field = REACHED_FIELD.get(stage)
        reached = (
            Q() if field is None else Q(stage__in=LATER[stage]) | Q(**{f"{field}__isnull": False})
        )
        aggregates[f"n_resolved_{stage}"] = Count("pk", filter=reached)
        aggregates[f"n_paid_{stage}"] = Count("pk", filter=reached & paid)
        start = F("received_at" if field is None else field)
        aggregates[f"days_{stage}"] = Avg(
            ExpressionWrapper(F("paid_on") - TruncDate(start), output_field=DurationField()),
            filter=reached & paid,
        )
    return resolved.aggregate(**aggregates)


def stage_odds(*, at: date, fresh: bool = False) -> dict[str, StageOdds]:
    """Probability of payment and days to payment per stage, from last year's history.

    Company-wide statistics (not narrowed to a viewer: they are rates, not records).
    They change by the day, so the rates kept in the day's forecast snapshot are read
    back (one small query); without a snapshot, or with ``fresh``, ``_history_row``
    computes them in one query.
    """
    if not fresh:
        kept = _odds_from_snapshot(at)
        if kept is not None:
            return kept
    row = _history_row(at)
    odds = {}
    for stage in STAGES:
        resolved_count = row[f"n_resolved_{stage}"] or 0
        paid_count = row[f"n_paid_{stage}"] or 0
        days = row[f"days_{stage}"]
        if resolved_count >= MIN_SAMPLE:
            probability = (Decimal(paid_count) / Decimal(resolved_count)).quantize(
                Decimal("0.0001")
            )
            mean_days = (
                round(days.total_seconds() / 86400)
                if isinstance(days, timedelta)
                else DEFAULT_DAYS[stage]
            )
            odds[stage] = StageOdds(
                stage, probability, max(mean_days, 0), resolved_count, paid_count, True
            )
        else:
            odds[stage] = StageOdds(
                stage,
                DEFAULT_PROBABILITY[stage],
                DEFAULT_DAYS[stage],
                resolved_count,
                paid_count,
                False,
            )
    return odds


def _odds_from_snapshot(at: date) -> dict[str, StageOdds] | None:
    params = ForecastSnapshot.objects.filter(made_on=at).values_list("params", flat=True).first()
    try:
        return {
            stage: StageOdds(
                stage,
                Decimal(params[stage]["probability"]),
                int(params[stage]["days"]),
                int(params[stage]["resolved"]),
                int(params[stage]["paid"]),
                bool(params[stage]["from_history"]),
            )
            for stage in STAGES
        }
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


def odds_params(odds: dict[str, StageOdds]) -> dict:
    """The rates as kept in a snapshot."""
    return {
        stage: {
            "probability": str(o.probability),
            "days": o.days,
            "resolved": o.resolved,
            "paid": o.paid,
            "from_history": o.from_history,
        }
        for stage, o in odds.items()
    }


def client_delays(*, at: date, client_ids) -> tuple[dict[int, int], int]:
    """({client id: mean days paid after the due date}, the company's mean) — two queries."""
    since = at - timedelta(days=LOOKBACK_DAYS)
    delay = ExpressionWrapper(F("paid_on") - F("due_on"), output_field=DurationField())
    paid = Invoice.objects.filter(paid_on__gte=since, paid_on__lte=at)

    def days(value) -> int:
        return round(value.total_seconds() / 86400) if isinstance(value, timedelta) else 0

    company = days(paid.aggregate(mean=Avg(delay))["mean"])
    rows = (
        paid.filter(client_id__in=client_ids)
        .values("client_id")
        .annotate(mean=Avg(delay))
        .order_by()
    )
    return {row["client_id"]: days(row["mean"]) for row in rows}, company


@dataclass
class ForecastBucket:
    start: date
    end: date
    deals: Decimal = ZERO
    invoices: Decimal = ZERO
    by_stage: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return self.deals + self.invoices


@dataclass
class Forecast:
    at: date
    horizon: Period
    days: dict[tuple[str, date], Decimal]  # (kind, expected_on) -> expected amount
    odds: dict[str, StageOdds]
    open_amount: dict[str, Decimal]  # amount of the deals per stage, before probability
    invoices_unpaid: Decimal

    @property
    def total(self) -> Decimal:
        return round_money(sum(self.days.values(), ZERO))

    @property
    def defaults_used(self) -> bool:
        """Some stage has too little history and uses the default rate."""
        return any(not odds.from_history for odds in self.odds.values())

    def part(self, kind: str) -> Decimal:
        return round_money(sum((v for (k, _d), v in self.days.items() if k == kind), ZERO))

    def between(self, start: date, end: date) -> Decimal:
        return round_money(
            sum((v for (_k, day), v in self.days.items() if start <= day <= end), ZERO)
        )

    def buckets(self, by: str = "week") -> list[ForecastBucket]:
        result: dict[date, ForecastBucket] = {}
        for (kind, day), value in sorted(self.days.items(), key=lambda item: item[0][1]):
            period = period_of(by, day)
            bucket = result.setdefault(period.start, ForecastBucket(period.start, period.end))
            if kind == "invoice":
                bucket.invoices += value
            else:
                bucket.deals += value
                bucket.by_stage[kind] = bucket.by_stage.get(kind, ZERO) + value
        for bucket in result.values():
            bucket.deals = round_money(bucket.deals)
            bucket.invoices = round_money(bucket.invoices)
            bucket.by_stage = {k: round_money(v) for k, v in bucket.by_stage.items()}
        return [result[key] for key in sorted(result)]


def _stage_on(cutoff) -> tuple[Q, Case, Case]:
    """The deal's stage and the moment it entered it as they were just before ``cutoff``.

    A deal not moved since (open and in its stage since before, or closed before) was in
    its current stage since ``stage_changed_at``. A deal moved after (its stage changed, or
    it was won or lost, at or after the cutoff) was at the furthest stage it had reached by
    then (``Deal.<stage>_reached_at``, decision 0009) since it reached it — a lead since it
    arrived. (A deal sent back a stage and moved again after the cutoff is taken at the
    furthest stage it had reached: the one case the kept moments cannot tell apart.)
    """
    moved = Q(stage__in=OPEN, stage_changed_at__gte=cutoff) | Q(
        stage__in=CLOSED, closed_at__gte=cutoff
    )
    steps = (
        (Stage.WON, "won_reached_at"),
        (Stage.QUOTE, "quote_reached_at"),
        (Stage.CONTACT, "contact_reached_at"),
    )
    stage = Case(
        *(When(moved & Q(**{f"{field}__lt": cutoff}), then=Value(step)) for step, field in steps),
        When(moved, then=Value(Stage.LEAD)),
        default=F("stage"),
        output_field=CharField(),
    )
    entered = Case(
        *(When(moved & Q(**{f"{field}__lt": cutoff}), then=F(field)) for _step, field in steps),
        When(moved, then=F("received_at")),
        default=F("stage_changed_at"),
        output_field=DateTimeField(),
    )
    return moved, stage, entered


def forecast(
    *,
    viewer,
    at: date | None = None,
    horizon_days: int = 92,
    scope: Scope | None = None,
    fresh: bool = False,
    known_through: date | None = None,
) -> Forecast:
    """The forecast of payments from ``at`` to ``at + horizon_days`` (six queries).

    ``known_through`` (``at`` by default) is the last day whose facts count: for a day
    before today only what was known at its end is read (seven queries) — the deals, their
    stages, the invoices and their balances, the stage odds and the clients' delays as they
    were then. A snapshot reconstructed for the morning of ``at`` takes the day before.
    """
    at = at or timezone.localdate()
    known = known_through or at
    past = known < timezone.localdate()
    cutoff = day_start(known + timedelta(days=1))  # the first moment not known
    scope = scope or Scope()
    horizon = Period(at, at + timedelta(days=horizon_days - 1), "custom")
    odds = stage_odds(at=known, fresh=fresh)
    days: dict[tuple[str, date], Decimal] = defaultdict(lambda: ZERO)
    open_amount: dict[str, Decimal] = defaultdict(lambda: ZERO)

    # Deals: open ones, and won ones without any invoice yet, grouped by stage and day.
    since = day_start(known - timedelta(days=LOOKBACK_DAYS))
    has_invoice = Invoice.objects.filter(deal_id=OuterRef("pk"))
    deals = _deals(viewer).filter(**scope.filter("manager"))
    if past:
        has_invoice = has_invoice.filter(issued_on__lte=known)
        moved, stage_then, entered_then = _stage_on(cutoff)
        deals = (
            # What can have been open or won-not-invoiced then, one index range per branch
            # (a deal closed before the cutoff was received before it)…
            deals.filter(
                Q(stage__in=OPEN, received_at__lt=cutoff)
                | Q(stage__in=CLOSED, closed_at__gte=cutoff, received_at__lt=cutoff)
                | Q(stage=Stage.WON, closed_at__gte=since, closed_at__lt=cutoff)
                & (Q(paid_on__isnull=True) | Q(paid_on__gt=known))
            )
            .annotate(stage_then=stage_then, entered_then=entered_then)
            # …and what was.
            .filter(
                Q(stage_then__in=OPEN)
                | Q(stage_then=Stage.WON, closed_at__gte=since) & ~Q(Exists(has_invoice))
            )
        )
        columns = {"kind": F("stage_then"), "entered_on": TruncDate("entered_then")}
    else:
        deals = deals.filter(
            Q(stage__in=OPEN)
            | Q(
                stage=Stage.WON,
                # Implied by "no invoice" (a deal without invoices is not paid); stated so
                # that a partial index of unpaid won deals can serve this branch.
                paid_on__isnull=True,
                closed_at__gte=since,
            )
            & ~Q(Exists(has_invoice))
        )
        columns = {"kind": F("stage"), "entered_on": TruncDate("stage_changed_at")}
    rows = deals.values(**columns).annotate(sum_amount=Sum("amount")).order_by()
    for row in rows:
        stage, amount = row["kind"], row["sum_amount"] or ZERO
        stage_odds_row = odds[stage]
        expected = max(row["entered_on"] + timedelta(days=stage_odds_row.days), at)
        open_amount[stage] += amount
        if expected <= horizon.end:
            days[(stage, expected)] += amount * stage_odds_row.probability

    # Unpaid invoices at their expected dates from the client's payment history.
    balance = ExpressionWrapper(F("amount") - F("paid_amount"), output_field=MONEY_FIELD)
    unpaid = _invoices(viewer).filter(**scope.filter("manager"))
    if past:
        unpaid = unpaid.filter(issued_on__lte=known).filter(
            Q(paid_on__isnull=True) | Q(paid_on__gt=known)
        )
    else:
        unpaid = unpaid.filter(paid_on__isnull=True)
    balances: dict[tuple[int | None, date], Decimal] = defaultdict(lambda: ZERO)
    for row in unpaid.values("client_id", "due_on").annotate(balance_due=Sum(balance)).order_by():
        balances[(row["client_id"], row["due_on"])] += row["balance_due"] or ZERO
    if past:
        # The balance then: today's balance and what has been paid since.
        for row in (
            Payment.objects.filter(invoice__in=unpaid.values("pk"), paid_on__gt=known)
            .values("invoice__client_id", "invoice__due_on")
            .annotate(later=Sum("amount"))
            .order_by()
        ):
            key = (row["invoice__client_id"], row["invoice__due_on"])
            balances[key] += row["later"] or ZERO
    delays, company_delay = client_delays(
        at=known, client_ids=unpaid.values("client_id").distinct()
    )
    invoices_unpaid = ZERO
    for (client_id, due_on), amount in balances.items():
        invoices_unpaid += amount
        delay = delays.get(client_id, company_delay)
        expected = max(due_on + timedelta(days=delay), at)
        if expected <= horizon.end:
            days[("invoice", expected)] += amount
    return Forecast(
        at=at,
        horizon=horizon,
        days={key: round_money(value) for key, value in days.items()},
        odds=odds,
        open_amount={k: round_money(v) for k, v in open_amount.items()},
        invoices_unpaid=round_money(invoices_unpaid),
    )


# --- the probable month ------------------------------------------------------------------


@dataclass(frozen=True)
class Probable:
    period: Period
    received: Decimal
    expected: Decimal

    @property
    def total(self) -> Decimal:
        return self.received + self.expected


def probable_receipts(*, viewer, forecast_: Forecast, kind: str = "month") -> Probable:
    """Payments received so far in the period + the forecast for the rest of it."""
    period = period_of(kind, forecast_.at)
    payments = (
        Payment.objects.all() if viewer is SYSTEM else Payment.objects.visible_to(viewer)
    ).filter(paid_on__gte=period.start, paid_on__lt=forecast_.at)
    received = payments.aggregate(total=Sum("amount"))["total"] or ZERO
    return Probable(
        period=period,
        received=round_money(received),
        expected=forecast_.between(forecast_.at, period.end),
    )


# --- accuracy --------------------------------------------------------------------------------


@dataclass
class AccuracyRow:
    period: Period
    made_on: date | None
    forecast: Decimal | None
    actual: Decimal
    reconstructed: bool = False  # the snapshot was rebuilt from the history, not taken live

    @property
    def error_pct(self) -> Decimal | None:
        """Absolute percentage error; undefined when nothing was paid or no snapshot."""
        if self.forecast is None or not self.actual:
            return None
        return percent(abs(self.actual - self.forecast), abs(self.actual))


@dataclass
class Accuracy:
    by: str
    rows: list[AccuracyRow]

    @property
    def reconstructed(self) -> bool:
        """Some of its snapshots were reconstructed from the history."""
        return any(row.reconstructed for row in self.rows)

    @property
    def mape(self) -> Decimal | None:
        errors = [row.error_pct for row in self.rows if row.error_pct is not None]
        if not errors:
            return None
        return (sum(errors, ZERO) / len(errors)).quantize(Decimal("0.01"))


def forecast_accuracy(*, at: date | None = None, by: str = "week", count: int = 8) -> Accuracy:
    """MAPE of the last ``count`` complete weeks (months) before ``at``: for each, the
    snapshot made on its first day (or the latest one up to a week (month) before it)
    against the payments received in it; a snapshot reconstructed from the history is
    marked. Three queries."""
    at = at or timezone.localdate()
    periods: list[Period] = []
    current = period_of(by, at)
    for _ in range(count):
        current = period_of(by, current.start - timedelta(days=1))
        periods.append(current)
    periods.reverse()
    if not periods:
        return Accuracy(by=by, rows=[])
    reach = timedelta(days=7 if by == "week" else 31)
    first, last = periods[0], periods[-1]
    snapshots = list(
        ForecastSnapshot.objects.filter(
            made_on__gte=first.start - reach, made_on__lte=last.start
        ).values_list("made_on", "pk", "reconstructed")
    )
    chosen: dict[Period, tuple[date, int, bool]] = {}
    for period in periods:
        candidates = [s for s in snapshots if period.start - reach <= s[0] <= period.start]
        if candidates:
            chosen[period] = max(candidates)
    sums: dict[tuple[int, date], Decimal] = {}
    if chosen:
        for row in (
            ForecastSnapshotLine.objects.filter(
                snapshot_id__in=[pk for _d, pk, _r in chosen.values()],
                expected_on__gte=first.start,
                expected_on__lte=last.end,
            )
            .values("snapshot_id", "expected_on")
            .annotate(total=Sum("amount"))
            .order_by()
        ):
            sums[(row["snapshot_id"], row["expected_on"])] = row["total"]
    actual_by_day = dict(
        Payment.objects.filter(paid_on__gte=first.start, paid_on__lte=last.end)
        .values("paid_on")
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("paid_on", "total")
    )
    rows = []
    for period in periods:
        actual = sum(
            (v for day, v in actual_by_day.items() if period.start <= day <= period.end), ZERO
        )
        snapshot = chosen.get(period)
        predicted = None
        if snapshot is not None:
            predicted = sum(
                (
                    v
                    for (pk, day), v in sums.items()
                    if pk == snapshot[1] and period.start <= day <= period.end
                ),
                ZERO,
            )
        rows.append(
            AccuracyRow(
                period=period,
                made_on=snapshot[0] if snapshot else None,
                forecast=round_money(predicted) if predicted is not None else None,
                actual=round_money(actual),
                reconstructed=snapshot[2] if snapshot else False,
            )
        )
    return Accuracy(by=by, rows=rows)
