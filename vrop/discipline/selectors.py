"""Reads of the discipline area: stalled deals, request SLA, the control board, Today,
alerts and the inbox. Every selector takes the viewer and narrows by ``visible_to``;
numbers are computed in SQL (see ``vrop.discipline.worktime`` for working time in SQL).

``stalled_deals`` is the ONE definition of a stalled deal used by the board, the sweep,
``/api/v1/deals/stalled`` and the owner's dashboard; ``sla_stats`` gives request
processing speed (``requests_on_time_pct`` of ``/api/v1/kpi``). Both are documented in
``docs/discipline.md`` with hand-computed examples in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from math import ceil

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from vrop.accounts.choices import Role
from vrop.accounts.models import User
from vrop.core.calendar import WorkingTime
from vrop.core.errors import NotFound
from vrop.core.money import ZERO
from vrop.core.policy import company_settings, company_settings_cached
from vrop.crm.choices import OPEN_STAGES, RequestStatus, Stage
from vrop.crm.models import Deal, Request, Task
from vrop.discipline import texts
from vrop.discipline.models import Alert, DistributionMember, DistributionRule, Snooze
from vrop.discipline.rules import StalledCutoffs, stalled_filter, stalled_reasons
from vrop.discipline.worktime import working_cutoff

BEFORE_QUOTE = (Stage.LEAD, Stage.CONTACT)


def company_working_time() -> WorkingTime:
    return WorkingTime.for_company()


def _local_midnight(day: date, working_time: WorkingTime) -> datetime:
    return datetime.combine(day, time(0, 0), working_time.tz)


# --- stalled deals ----------------------------------------------------------------------


@dataclass
class StalledDeals:
    """Stalled deals at a moment: how many, for how much, and which (a queryset)."""

    at: datetime
    count: int
    amount: Decimal
    deals: QuerySet
    cutoffs: StalledCutoffs


def stalled_queryset(*, viewer, at: datetime, manager_id: int | None = None):
    cutoffs = StalledCutoffs.at_moment(at)
    deals = Deal.objects.visible_to(viewer)
    if manager_id:
        deals = deals.filter(manager_id=manager_id)
    return stalled_filter(deals, cutoffs), cutoffs


def stalled_deals(*, viewer, at: datetime | None = None, manager_id: int | None = None):
    """The stalled deals the viewer sees at ``at`` (DESIGN.md "stalled deal")."""
    at = at or timezone.now()
    deals, cutoffs = stalled_queryset(viewer=viewer, at=at, manager_id=manager_id)
    totals = deals.aggregate(count=Count("id"), amount=Sum("amount"))
    return StalledDeals(
        at=at,
        count=totals["count"] or 0,
        amount=totals["amount"] or ZERO,
        deals=deals.select_related("client", "manager").order_by("-amount", "id"),
        cutoffs=cutoffs,
    )


def with_reasons(deals, cutoffs: StalledCutoffs) -> list:
    """Deals (an iterable) with ``stalled_reasons`` set as a list of (code, text)."""
    rows = list(deals)
    for deal in rows:
        codes = stalled_reasons(
            stage=deal.stage,
            next_step_at=deal.next_step_at,
            last_activity_at=deal.last_activity_at,
            received_at=deal.received_at,
            stage_changed_at=deal.stage_changed_at,
            cutoffs=cutoffs,
        )
        deal.stalled_reasons = [(code, texts.REASON_TEXTS[code]) for code in codes]
    return rows


# --- request SLA ------------------------------------------------------------------------


def _percentile(queryset, name: str, count: int, share: float) -> int | None:
    """Nearest-rank percentile: the value at rank ceil(share × count), in SQL."""
    if count == 0:
        return None
    rank = max(ceil(share * count), 1)
    value = (
        queryset.filter(**{f"{name}__isnull": False})
        .order_by(name)
        .values_list(name, flat=True)[rank - 1 : rank]
        .first()
    )
    return None if value is None else int(value) // 60


def _share(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


MEASURES = {
    # name: (moment, stored working seconds from arrival)
    "first_contact": ("first_contact_at", "first_contact_work_seconds"),
    "quote": ("quote_sent_at", "quote_work_seconds"),
}


def _arrivals(
    *,
    viewer,
    date_from: date,
    date_to: date,
    manager_id: int | None = None,
    team_id: int | None = None,
):
    """Deals and requests still in the inbox that arrived from ``date_from`` to
    ``date_to`` (local dates, both included), as (deals, waiting requests)."""
    working_time = company_working_time()
    start = _local_midnight(date_from, working_time)
    end = _local_midnight(date_to + timedelta(days=1), working_time)
    deals = Deal.objects.visible_to(viewer).filter(received_at__gte=start, received_at__lt=end)
    waiting = Request.objects.visible_to(viewer).filter(
        status=RequestStatus.NEW, received_at__gte=start, received_at__lt=end
    )
    if manager_id:
        deals = deals.filter(manager_id=manager_id)
        waiting = waiting.filter(manager_id=manager_id)
    if team_id:
        deals = deals.filter(manager__team_id=team_id)
        waiting = waiting.filter(manager__team_id=team_id)
    return deals, waiting


def _sla_counts(
    deals, waiting, *, name: str, sla_minutes: int, waiting_stages, cutoff: datetime
) -> dict:
    """One measure of the SLA (``MEASURES``) in two queries: ``measured`` deals, those
    ``within_sla``, ``pending_breached`` (deals and requests waiting past ``cutoff``),
    ``breached`` and ``share_within_pct``."""
    moment_field, elapsed = MEASURES[name]
    totals = deals.aggregate(
        measured=Count("id", filter=Q(**{f"{elapsed}__isnull": False})),
        within=Count("id", filter=Q(**{f"{elapsed}__lte": sla_minutes * 60})),
        pending=Count(
            "id",
            filter=Q(
                **{f"{moment_field}__isnull": True},
                stage__in=waiting_stages,
                received_at__lt=cutoff,
            ),
        ),
    )
    pending = totals["pending"] + waiting.filter(received_at__lt=cutoff).count()
    count, within = totals["measured"], totals["within"]
    return {
        "measured": count,
        "within_sla": within,
        "pending_breached": pending,
        "breached": count - within + pending,
        "share_within_pct": _share(within, count + pending),
    }


def sla_stats(
    *,
    viewer,
    date_from: date,
    date_to: date,
    manager_id: int | None = None,
    at: datetime | None = None,
) -> dict:
    """Request processing speed for requests that arrived from ``date_from`` to
    ``date_to`` (local dates, both included), as seen at ``at`` (default: now).

    For the first contact and for the quote: ``measured`` deals (the moment is known)
    with the ``median_minutes`` and ``p90_minutes`` of their working minutes from
    arrival (nearest rank); ``within_sla`` of them; ``pending_breached``: open deals and
    requests still in the inbox that have waited longer than the SLA; ``breached`` =
    measured over the SLA + pending breached; ``share_within_pct`` = within_sla /
    (measured + pending_breached) × 100. Waiting ones still inside the SLA are not yet
    decided and are left out. Deals closed without the moment are left out too.
    ``requests_on_time_pct`` is the first-contact share.
    """
    at = at or timezone.now()
    policy = company_settings()
    working_time = company_working_time()
    deals, waiting = _arrivals(
        viewer=viewer, date_from=date_from, date_to=date_to, manager_id=manager_id
    )
    result: dict = {
        "date_from": date_from,
        "date_to": date_to,
        "sla_first_contact_minutes": policy.sla_first_contact_minutes,
        "sla_quote_minutes": policy.sla_quote_minutes,
    }
    measures = (
        ("first_contact", policy.sla_first_contact_minutes, OPEN_STAGES),
        ("quote", policy.sla_quote_minutes, BEFORE_QUOTE),
    )
    for name, sla_minutes, waiting_stages in measures:
        counts = _sla_counts(
            deals,
            waiting,
            name=name,
            sla_minutes=sla_minutes,
            waiting_stages=waiting_stages,
            cutoff=working_cutoff(at, sla_minutes, working_time),
        )
        elapsed = MEASURES[name][1]
        measured = deals.filter(**{f"{elapsed}__isnull": False})
        count = counts["measured"]
        result[name] = {
            **counts,
            "median_minutes": _percentile(measured, elapsed, count, 0.5),
            "p90_minutes": _percentile(measured, elapsed, count, 0.9),
        }
    result["requests_on_time_pct"] = result["first_contact"]["share_within_pct"]
    return result


def requests_on_time(
    *,
    viewer,
    date_from: date,
    date_to: date,
    manager_id: int | None = None,
    team_id: int | None = None,
    at: datetime | None = None,
) -> dict:
    """The first-contact part of ``sla_stats`` alone (its ``requests_on_time_pct`` is
    ``share_within_pct`` here) in two queries, for pages held to a query budget (the
    owner's dashboard, ``/api/v1/kpi``). The same counts as ``sla_stats(...)
    ["first_contact"]`` without the percentiles; ``team_id`` narrows to a team."""
    at = at or timezone.now()
    minutes = company_settings().sla_first_contact_minutes
    deals, waiting = _arrivals(
        viewer=viewer,
        date_from=date_from,
        date_to=date_to,
        manager_id=manager_id,
        team_id=team_id,
    )
    return _sla_counts(
        deals,
        waiting,
        name="first_contact",
        sla_minutes=minutes,
        waiting_stages=OPEN_STAGES,
        cutoff=working_cutoff(at, minutes, company_working_time()),
    )


@dataclass(frozen=True)
class _SlaLimits:
    """The SLA at one moment: the limits in working seconds (for measured deals) and the
    arrival cut-offs past which a deal or request still waiting has breached it."""

    first_seconds: int
    quote_seconds: int
    first_cutoff: datetime
    quote_cutoff: datetime

    @classmethod
    def at_moment(cls, at: datetime, working_time: WorkingTime) -> _SlaLimits:
        policy = company_settings()
        return cls(
            first_seconds=policy.sla_first_contact_minutes * 60,
            quote_seconds=policy.sla_quote_minutes * 60,
            first_cutoff=working_cutoff(at, policy.sla_first_contact_minutes, working_time),
            quote_cutoff=working_cutoff(at, policy.sla_quote_minutes, working_time),
        )


def _deal_breach_conditions(limits: _SlaLimits) -> dict[str, Q]:
    """A deal's SLA breaches, one condition each: measured over the limit, or still
    waiting past the cut-off (first contact: open deals; quote: before the quote)."""
    return {
        "first_late": Q(first_contact_work_seconds__gt=limits.first_seconds),
        "quote_late": Q(quote_work_seconds__gt=limits.quote_seconds),
        "first_waiting": Q(
            first_contact_at__isnull=True,
            stage__in=OPEN_STAGES,
            received_at__lt=limits.first_cutoff,
        ),
        "quote_waiting": Q(
            quote_sent_at__isnull=True,
            stage__in=BEFORE_QUOTE,
            received_at__lt=limits.quote_cutoff,
        ),
    }


def _deal_breaches(limits: _SlaLimits, prefix: str = "", period: Q | None = None) -> dict:
    """Aggregates of a deal query: the number of deals with each breach of the
    first-contact and quote SLA, optionally within ``period``."""
    period = period or Q()
    return {
        f"{prefix}{name}": Count("id", filter=period & condition)
        for name, condition in _deal_breach_conditions(limits).items()
    }


def deal_breach_filter(limits: _SlaLimits) -> Q:
    """Deals with at least one SLA breach (the deals behind the board's SLA numbers)."""
    result = Q()
    for condition in _deal_breach_conditions(limits).values():
        result |= condition
    return result


def _request_breaches(limits: _SlaLimits, prefix: str = "", period: Q | None = None) -> dict:
    """Aggregates of a query of requests still in the inbox: those waiting past the
    first-contact and the quote cut-offs, optionally within ``period``."""
    period = period or Q()
    return {
        f"{prefix}first": Count("id", filter=period & Q(received_at__lt=limits.first_cutoff)),
        f"{prefix}quote": Count("id", filter=period & Q(received_at__lt=limits.quote_cutoff)),
    }


_DEAL_BREACHES = ("first_late", "quote_late", "first_waiting", "quote_waiting")  # as above


def _arrived(start: datetime, end: datetime) -> Q:
    return Q(received_at__gte=start, received_at__lt=end)


def sla_breaches_by_manager(
    *, viewer, date_from: date, date_to: date, at: datetime | None = None
) -> dict[int | None, dict[str, int]]:
    """SLA breaches per manager for deals and requests that arrived in the period:
    ``{manager_id: {"first_contact": n, "quote": m}}`` (same rules as ``sla_stats``)."""
    at = at or timezone.now()
    working_time = company_working_time()
    start = _local_midnight(date_from, working_time)
    end = _local_midnight(date_to + timedelta(days=1), working_time)
    limits = _SlaLimits.at_moment(at, working_time)
    rows = (
        Deal.objects.visible_to(viewer)
        .filter(_arrived(start, end))
        .values("manager_id")
        .annotate(**_deal_breaches(limits))
        .order_by()
    )
    result: dict = {}
    for row in rows:
        result[row["manager_id"]] = {
            "first_contact": row["first_late"] + row["first_waiting"],
            "quote": row["quote_late"] + row["quote_waiting"],
        }
    requests = (
        Request.objects.visible_to(viewer)
        .filter(_arrived(start, end), status=RequestStatus.NEW)
        .values("manager_id")
        .annotate(**_request_breaches(limits))
        .order_by()
    )
    for row in requests:
        entry = result.setdefault(row["manager_id"], {"first_contact": 0, "quote": 0})
        entry["first_contact"] += row["first"]
        entry["quote"] += row["quote"]
    return result


# --- the control board ------------------------------------------------------------------


@dataclass
class BoardRow:
    manager: User | None
    stalled_count: int = 0
    stalled_amount: Decimal = ZERO
    overdue_tasks: int = 0
    sla_breaches_today: int = 0
    sla_breaches_week: int = 0
    unprocessed_requests: int = 0
    without_next_step: int = 0

    @property
    def manager_id(self) -> int | None:
        return self.manager.pk if self.manager else None

    @property
    def is_behind(self) -> bool:
        return bool(
            self.stalled_count
            or self.overdue_tasks
            or self.sla_breaches_today
            or self.unprocessed_requests
            or self.without_next_step
        )


@dataclass
class Board:
    at: datetime
    rows: list[BoardRow] = field(default_factory=list)
    totals: BoardRow | None = None


def board(*, viewer, at: datetime | None = None) -> Board:
    """The head's control board: per manager, who is behind on what, at ``at``.

    Seven queries whatever the number of managers (the company settings read once, then
    stalled deals, overdue tasks, deals without a next step, the SLA breaches of deals
    and of requests for the week and today together, and the people)."""
    with company_settings_cached():
        return _board(viewer=viewer, at=at or timezone.now())


def _board(*, viewer, at: datetime) -> Board:
    working_time = company_working_time()
    today = at.astimezone(working_time.tz).date()
    day_start = _local_midnight(today, working_time)
    day_end = _local_midnight(today + timedelta(days=1), working_time)
    week_start = _local_midnight(today - timedelta(days=today.weekday()), working_time)
    limits = _SlaLimits.at_moment(at, working_time)
    stalled, _cutoffs = stalled_queryset(viewer=viewer, at=at)
    per_manager: dict[int | None, BoardRow] = {}

    def row(manager_id) -> BoardRow:
        if manager_id not in per_manager:
            per_manager[manager_id] = BoardRow(manager=None)
        return per_manager[manager_id]

    for item in stalled.values("manager_id").annotate(n=Count("id"), s=Sum("amount")).order_by():
        entry = row(item["manager_id"])
        entry.stalled_count, entry.stalled_amount = item["n"], item["s"] or ZERO
    overdue = (
        Task.objects.visible_to(viewer)
        .filter(done_at__isnull=True, due_at__lt=at)
        .values("manager_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for item in overdue:
        row(item["manager_id"]).overdue_tasks = item["n"]
    no_step = (
        Deal.objects.visible_to(viewer)
        .filter(stage__in=OPEN_STAGES, next_step_at__isnull=True)
        .values("manager_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for item in no_step:
        row(item["manager_id"]).without_next_step = item["n"]
    # SLA breaches (the rules of ``sla_breaches_by_manager``): the week and today in one
    # pass over the week's deals, and in one pass over the requests still in the inbox.
    today_only = _arrived(day_start, day_end)
    deals = (
        Deal.objects.visible_to(viewer)
        .filter(_arrived(week_start, day_end))
        .values("manager_id")
        .annotate(**_deal_breaches(limits, "week_"), **_deal_breaches(limits, "today_", today_only))
        .order_by()
    )
    for item in deals:
        entry = row(item["manager_id"])
        for period in ("week", "today"):
            setattr(
                entry,
                f"sla_breaches_{period}",
                sum(item[f"{period}_{name}"] for name in _DEAL_BREACHES),
            )
    requests = (
        Request.objects.visible_to(viewer)
        .filter(status=RequestStatus.NEW)
        .values("manager_id")
        .annotate(
            unprocessed=Count("id"),
            **_request_breaches(limits, "week_", _arrived(week_start, day_end)),
            **_request_breaches(limits, "today_", today_only),
        )
        .order_by()
    )
    for item in requests:
        entry = row(item["manager_id"])
        entry.unprocessed_requests = item["unprocessed"]
        # A request of the week that waits is counted like its deal would be.
        entry.sla_breaches_week += item["week_first"] + item["week_quote"]
        entry.sla_breaches_today += item["today_first"] + item["today_quote"]
    sellers = User.objects.filter(
        Q(role=Role.MANAGER, is_active=True, left_on__isnull=True)
        | Q(pk__in=[pk for pk in per_manager if pk is not None])
    )
    if viewer is not None and viewer.is_manager:
        sellers = sellers.filter(pk=viewer.pk)
    for user in sellers:
        row(user.pk).manager = user
    rows = sorted(
        per_manager.values(),
        key=lambda r: (
            r.manager is None,
            -r.stalled_count,
            -r.sla_breaches_week,
            str(r.manager or ""),
        ),
    )
    totals = BoardRow(manager=None)
    for item in rows:
        for name in (
            "stalled_count",
            "stalled_amount",
            "overdue_tasks",
            "sla_breaches_today",
            "sla_breaches_week",
            "unprocessed_requests",
            "without_next_step",
        ):
            setattr(totals, name, getattr(totals, name) + getattr(item, name))
    return Board(at=at, rows=rows, totals=totals)


BOARD_KINDS = ("stalled", "no_next_step", "overdue", "sla", "sla_today")


def board_deals(*, viewer, manager_id: int | None, kind: str, at: datetime | None = None):
    """The deals behind a number of the board (click-through), at most 200."""
    at = at or timezone.now()
    deals = Deal.objects.visible_to(viewer).select_related("client", "manager")
    deals = deals.filter(manager_id=manager_id) if manager_id else deals.filter(manager=None)
    if kind == "stalled":
        deals, _cutoffs = stalled_queryset(viewer=viewer, at=at, manager_id=manager_id)
        if not manager_id:
            deals = deals.filter(manager=None)
        deals = deals.select_related("client", "manager")
    elif kind == "no_next_step":
        deals = deals.filter(stage__in=OPEN_STAGES, next_step_at__isnull=True)
    elif kind == "overdue":
        deals = deals.filter(
            tasks__done_at__isnull=True, tasks__due_at__lt=at, tasks__manager_id=manager_id
        ).distinct()
    elif kind in ("sla", "sla_today"):
        working_time = company_working_time()
        today = at.astimezone(working_time.tz).date()
        first_day = today if kind == "sla_today" else today - timedelta(days=today.weekday())
        start = _local_midnight(first_day, working_time)
        end = _local_midnight(today + timedelta(days=1), working_time)
        limits = _SlaLimits.at_moment(at, working_time)
        deals = deals.filter(_arrived(start, end)).filter(deal_breach_filter(limits))
    else:
        raise NotFound(texts.NO_SUCH_DEAL)
    return deals.order_by("-amount", "id")[:200]


# --- Today ------------------------------------------------------------------------------


@dataclass
class Today:
    at: datetime
    person: User
    overdue: list
    today: list
    requests: list
    stalled: list
    stalled_count: int
    overdue_count: int = 0
    today_count: int = 0
    requests_count: int = 0


def _tasks_with_context(tasks) -> QuerySet:
    return tasks.select_related("deal", "deal__client", "client").order_by("due_at", "id")


TODAY_ROWS = 50


def today(
    *, viewer, at: datetime | None = None, person: User | None = None, rows: int = TODAY_ROWS
) -> Today:
    """A person's day: overdue tasks first, then today's, with the client context; the
    requests waiting for them; and their stalled deals to set a next step to. At most
    ``rows`` of each list, with the full counts beside."""
    with company_settings_cached():
        return _today(viewer=viewer, at=at or timezone.now(), person=person or viewer, rows=rows)


def _today(*, viewer, at: datetime, person: User, rows: int) -> Today:
    working_time = company_working_time()
    local_day = at.astimezone(working_time.tz).date()
    day_end = _local_midnight(local_day + timedelta(days=1), working_time)
    tasks = Task.objects.visible_to(viewer).filter(manager=person, done_at__isnull=True)
    counts = tasks.filter(due_at__lt=day_end).aggregate(
        overdue=Count("id", filter=Q(due_at__lt=at)),
        today=Count("id", filter=Q(due_at__gte=at)),
    )
    overdue = list(_tasks_with_context(tasks.filter(due_at__lt=at))[:rows])
    today_tasks = list(_tasks_with_context(tasks.filter(due_at__gte=at, due_at__lt=day_end))[:rows])
    waiting = Request.objects.visible_to(viewer).filter(status=RequestStatus.NEW, manager=person)
    requests = list(waiting.order_by("received_at", "id")[: rows + 1])
    requests_count = len(requests) if len(requests) <= rows else waiting.count()
    requests = requests[:rows]
    stalled, cutoffs = stalled_queryset(viewer=viewer, at=at, manager_id=person.pk)
    stalled_count = stalled.count()
    stalled_rows = with_reasons(
        stalled.select_related("client").order_by("-amount", "id")[:rows], cutoffs
    )
    return Today(
        at=at,
        person=person,
        overdue=overdue,
        today=today_tasks,
        requests=requests,
        stalled=stalled_rows,
        stalled_count=stalled_count,
        overdue_count=counts["overdue"],
        today_count=counts["today"],
        requests_count=requests_count,
    )


# --- alerts and the inbox ---------------------------------------------------------------


def alert_list(
    *,
    viewer,
    kind: str = "",
    is_open: bool | None = True,
    manager_id: int | None = None,
) -> QuerySet[Alert]:
    alerts = Alert.objects.visible_to(viewer).select_related("deal", "request", "manager")
    if kind:
        alerts = alerts.filter(kind=kind)
    if is_open is True:
        alerts = alerts.filter(resolved_at__isnull=True)
    elif is_open is False:
        alerts = alerts.filter(resolved_at__isnull=False)
    if manager_id:
        alerts = alerts.filter(manager_id=manager_id)
    return alerts.order_by("-first_seen_at", "-id")


def request_list(
    *,
    viewer,
    status: str = RequestStatus.NEW,
    manager_id: int | None = None,
    unassigned: bool = False,
) -> QuerySet[Request]:
    requests = Request.objects.visible_to(viewer).select_related("manager", "client", "deal")
    if status:
        requests = requests.filter(status=status)
    if manager_id:
        requests = requests.filter(manager_id=manager_id)
    if unassigned:
        requests = requests.filter(manager__isnull=True)
    return requests.order_by("received_at", "id")


def request_get(*, viewer, request_id: int) -> Request:
    request = (
        Request.objects.visible_to(viewer)
        .select_related("manager", "client", "deal")
        .prefetch_related(Prefetch("assignments"))
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise NotFound(texts.NO_SUCH_REQUEST)
    return request


def deal_snooze_get(*, deal: Deal, at: datetime | None = None) -> Snooze | None:
    at = at or timezone.now()
    return (
        Snooze.objects.filter(deal=deal, ended_at__isnull=True, resume_at__gt=at)
        .order_by("-resume_at")
        .first()
    )


def sellers(*, viewer) -> QuerySet[User]:
    """People who take requests (for the reassignment choice)."""
    return User.objects.filter(
        role__in=(Role.MANAGER, Role.HEAD), is_active=True, left_on__isnull=True
    ).order_by("last_name", "first_name", "id")


# --- distribution setup -----------------------------------------------------------------


def distribution_rule_list() -> list[DistributionRule]:
    """The rules in the order they are tried, each with its members (two queries)."""
    members = DistributionMember.objects.select_related("user").order_by("id")
    return list(
        DistributionRule.objects.order_by("priority", "id").prefetch_related(
            Prefetch("members", queryset=members)
        )
    )


def distribution_rule_get(*, rule_id: int) -> DistributionRule:
    members = DistributionMember.objects.select_related("user").order_by("id")
    rule = (
        DistributionRule.objects.filter(pk=rule_id)
        .prefetch_related(Prefetch("members", queryset=members))
        .first()
    )
    if rule is None:
        raise NotFound(texts.NO_SUCH_RULE)
    return rule
