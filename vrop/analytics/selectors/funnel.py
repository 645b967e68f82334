"""The funnel lead → contact → quote → won → paid, and where the money leaks.

The cohort is the deals that arrived in the period (``received_at``). A deal has
reached a stage when its stage history shows it in that stage or a later one, or it is
there now (a deal that skipped a stage has passed it): the deal keeps the first moment
of each (``contact_reached_at``…, crm's ``deals_stage_moments_refresh``). Paid is "fully paid" as in the
conversion quote → payment: invoices exist and all were paid by ``as_of``
(``Deal.paid_on``). Cycle time is the mean number of days from arrival to first reaching
the stage (for paid: to ``Deal.paid_on``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Sum,
)
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vrop.analytics.periods import Period, Scope, datetime_range
from vrop.analytics.selectors.kpi import fully_paid
from vrop.core.money import ZERO, percent, round_money
from vrop.crm.choices import REACHED
from vrop.crm.models import Deal

STEPS = ("lead", "contact", "quote", "won", "paid")
STEP_LABELS = {
    "lead": gettext_lazy("requests"),
    "contact": gettext_lazy("contact"),
    "quote": gettext_lazy("quote"),
    "won": gettext_lazy("won"),
    "paid": gettext_lazy("paid"),
}
# The moment the deal first reached each step, kept on the deal (crm ``REACHED``).
REACHED_FIELD = {
    "contact": "contact_reached_at",
    "quote": "quote_reached_at",
    "won": "won_reached_at",
}
# Stages that mean "this stage or later" for each step.
LATER = {step: REACHED[field] for step, field in REACHED_FIELD.items()}
# Reference conversions of each step, used when there is no team to compare with
# (the company as a whole): typical of B2B trading; docs/numbers.md.
REFERENCE = {
    "contact": Decimal("90"),
    "quote": Decimal("60"),
    "won": Decimal("35"),
    "paid": Decimal("90"),
}
# Against the reference conversions, a step is judged only once the cohort has had time
# to get through it: days from the period's start to ``as_of`` (a week-old cohort has not
# had time to be paid, and comparing it with a mature rate would blame collection).
# A manager against the team compares cohorts of the same age, so there it always counts.
MATURITY_DAYS = {"won": 14, "paid": 30}
# A step leaks when its conversion is below this share of the reference…
LEAK_RATIO = Decimal("0.85")
# …and at least this many deals entered it (fewer say nothing).
MIN_DEALS = 5

DIAGNOSIS = {
    "contact": gettext_lazy(
        "Many requests, few contacts: requests are not picked up in time — the problem is "
        "the speed of response, not demand."
    ),
    "quote": gettext_lazy(
        "Many contacts, few quotes: needs are not discovered or no offer is made — the "
        "problem is qualification and need discovery."
    ),
    "won": gettext_lazy("Many quotes, few wins: the problem is closing or price, not calls."),
    "paid": gettext_lazy(
        "Deals are won but not paid: the problem is invoicing and collection, not sales."
    ),
}


@dataclass
class FunnelStep:
    step: str
    deals: int
    amount: Decimal
    conversion_pct: Decimal | None  # from the previous step
    cycle_days: Decimal | None  # mean days from arrival to reaching this step

    @property
    def label(self) -> str:
        return str(STEP_LABELS[self.step])


@dataclass
class Leak:
    step: str
    conversion_pct: Decimal | None
    reference_pct: Decimal | None
    deals_in: int
    deals_lost: int
    amount_lost: Decimal
    message: str


@dataclass
class Funnel:
    period: Period
    scope: Scope
    steps: list[FunnelStep]
    overall_pct: Decimal | None
    reference: dict[str, Decimal | None] = field(default_factory=dict)
    reference_label: str = ""
    leak: Leak | None = None
    diagnosis: str = ""

    def step(self, name: str) -> FunnelStep:
        return next(s for s in self.steps if s.step == name)

    def as_dict(self) -> dict:
        return {
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat(),
            "manager": self.scope.manager_id,
            "team": self.scope.team_id,
            "steps": [
                {
                    "step": s.step,
                    "label": s.label,
                    "deals": s.deals,
                    "amount": s.amount,
                    "conversion_pct": s.conversion_pct,
                    "reference_pct": self.reference.get(s.step),
                    "cycle_days": s.cycle_days,
                }
                for s in self.steps
            ],
            "overall_pct": self.overall_pct,
            "reference": self.reference_label,
            "diagnosis": self.diagnosis,
            "leak": None
            if self.leak is None
            else {
                "step": self.leak.step,
                "conversion_pct": self.leak.conversion_pct,
                "reference_pct": self.leak.reference_pct,
                "deals_in": self.leak.deals_in,
                "deals_lost": self.leak.deals_lost,
                "amount_lost": self.leak.amount_lost,
            },
        }


def _reached(step: str) -> Q:
    if step == "lead":
        return Q()
    return Q(stage__in=LATER[step]) | Q(**{f"{REACHED_FIELD[step]}__isnull": False})


def _cohort(*, viewer, period: Period, scope: Scope):
    start, end = datetime_range(period)
    return Deal.objects.visible_to(viewer).filter(
        received_at__gte=start, received_at__lt=end, **scope.filter("manager")
    )


def _aggregates(as_of: date) -> dict:
    """Aggregates over the cohort. Subqueries are inlined (not annotated), so that the
    aggregate runs on the deal table itself, in one pass."""
    result = {}
    for step in STEPS:
        condition = fully_paid(as_of) if step == "paid" else _reached(step)
        result[f"n_{step}"] = Count("pk", filter=condition)
        result[f"sum_{step}"] = Sum("amount", filter=condition)
    for step in LATER:
        result[f"cycle_{step}"] = Avg(
            ExpressionWrapper(
                F(REACHED_FIELD[step]) - F("received_at"), output_field=DurationField()
            )
        )
    result["cycle_paid"] = Avg(
        ExpressionWrapper(F("paid_on") - TruncDate("received_at"), output_field=DurationField()),
        filter=fully_paid(as_of),
    )
    return result


def _days(value) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds() / 86400
    return Decimal(str(value)).quantize(Decimal("0.1"))


def _steps_from_row(row: dict) -> list[FunnelStep]:
    steps = []
    previous = None
    for step in STEPS:
        count = row[f"n_{step}"] or 0
        steps.append(
            FunnelStep(
                step=step,
                deals=count,
                amount=round_money(row[f"sum_{step}"] or ZERO),
                conversion_pct=None
                if previous is None
                else percent(Decimal(count), Decimal(previous)),
                cycle_days=None if step == "lead" else _days(row[f"cycle_{step}"]),
            )
        )
        previous = count
    return steps


def _funnel_rows(*, viewer, period: Period, scope: Scope, as_of: date, group: str | None = None):
    deals = _cohort(viewer=viewer, period=period, scope=scope)
    if group is None:
        return deals.aggregate(**_aggregates(as_of))
    return deals.values(group).annotate(**_aggregates(as_of)).order_by(group)


def _diagnose(
    steps: list[FunnelStep], reference: dict[str, Decimal | None], *, age_days: int | None = None
) -> Leak | None:
    """The step furthest below its reference; ``age_days`` (the cohort's age, given when
    the reference is the fixed one) leaves out the steps it has not had time for."""
    worst: tuple[Decimal, Leak] | None = None
    for previous, step in zip(steps, steps[1:], strict=False):
        ref = reference.get(step.step)
        if ref is None or not ref or step.conversion_pct is None or previous.deals < MIN_DEALS:
            continue
        if age_days is not None and age_days < MATURITY_DAYS.get(step.step, 0):
            continue
        ratio = step.conversion_pct / ref
        if ratio >= LEAK_RATIO:
            continue
        leak = Leak(
            step=step.step,
            conversion_pct=step.conversion_pct,
            reference_pct=ref,
            deals_in=previous.deals,
            deals_lost=previous.deals - step.deals,
            amount_lost=round_money(previous.amount - step.amount),
            message=str(DIAGNOSIS[step.step]),
        )
        if worst is None or ratio < worst[0]:
            worst = (ratio, leak)
    return worst[1] if worst else None


def _diagnosis_text(leak: Leak | None, reference_label: str) -> str:
    if leak is None:
        return _("No step is far below %(reference)s: the funnel is balanced.") % {
            "reference": reference_label
        }
    from vrop.core.money import format_money, format_percent

    return _(
        "%(message)s Conversion to “%(step)s” is %(conversion)s against %(reference_pct)s "
        "(%(reference)s): %(lost)s deals for %(amount)s did not pass this step."
    ) % {
        "message": leak.message,
        "step": STEP_LABELS[leak.step],
        "conversion": format_percent(leak.conversion_pct),
        "reference_pct": format_percent(leak.reference_pct),
        "reference": reference_label,
        "lost": leak.deals_lost,
        "amount": format_money(leak.amount_lost, 0),
    }


def funnel(
    *, viewer, period: Period, scope: Scope | None = None, as_of: date | None = None
) -> Funnel:
    """Counts, amounts, conversions and cycle times of the cohort, with a diagnosis.

    A manager is compared with their team (or with everyone they may see when they have
    no team); the company and a team with the reference conversions (REFERENCE).
    Two queries for a manager, one otherwise.
    """
    scope = scope or Scope()
    as_of = as_of or timezone.localdate()
    steps = _steps_from_row(_funnel_rows(viewer=viewer, period=period, scope=scope, as_of=as_of))
    if scope.manager_id is not None:
        from vrop.accounts.models import User

        team_id = User.objects.filter(pk=scope.manager_id).values_list("team_id", flat=True).first()
        reference_scope = Scope(team_id=team_id) if team_id else Scope()
        reference_steps = _steps_from_row(
            _funnel_rows(viewer=viewer, period=period, scope=reference_scope, as_of=as_of)
        )
        reference = {s.step: s.conversion_pct for s in reference_steps}
        reference_label = _("the team") if team_id else _("the department")
    else:
        reference = dict(REFERENCE)
        reference_label = _("the reference conversions")
    age_days = None if scope.manager_id is not None else (as_of - period.start).days
    leak = _diagnose(steps, reference, age_days=age_days)
    return Funnel(
        period=period,
        scope=scope,
        steps=steps,
        overall_pct=percent(Decimal(steps[-1].deals), Decimal(steps[0].deals)),
        reference=reference,
        reference_label=reference_label,
        leak=leak,
        diagnosis=_diagnosis_text(leak, reference_label),
    )


def funnel_by_manager(
    *, viewer, period: Period, scope: Scope | None = None, as_of: date | None = None
) -> dict[int | None, list[FunnelStep]]:
    """{manager id: funnel steps} — one grouped query."""
    scope = scope or Scope()
    as_of = as_of or timezone.localdate()
    rows = _funnel_rows(viewer=viewer, period=period, scope=scope, as_of=as_of, group="manager_id")
    return {row["manager_id"]: _steps_from_row(row) for row in rows}
