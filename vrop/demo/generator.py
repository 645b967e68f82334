"""The demo company: ``generate_demo``, ``demo_exists``, ``print_logins``, ``reset_demo_data``.

Deterministic: every random draw comes from ``random.Random`` seeded with the seed and
the part being drawn (``"1:deals:3"`` is manager 3's year), so the same seed and the
same ``today`` give the same data, and the managers of a larger scale do not change the
draws of the first ones. The demo's "now" is noon of ``today`` in Moscow (the start of
the next working day when today is a day off): everything before it has happened.

Rows go in with bulk inserts (``vrop.demo.writer``), not through the services, with
every denormalised field as the services keep it: deal totals are the sums of the lines,
``next_step_at`` the earliest due date of the open tasks, stage history for every
transition, invoices' ``paid_amount``/``paid_on`` from their payments, shipments from the
deal totals. The rules are not run: the demo shows a department as it is, with its
breaches (deals without a next step, slow answers, deep discounts, overdue debt).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, date, datetime, time, timedelta

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from vrop.accounts.models import Team, User
from vrop.callaudit.models import Call
from vrop.core.models import CompanySettings
from vrop.core.policy import company_settings
from vrop.core.validators import make_inn
from vrop.crm.models import (
    Activity,
    Client,
    Contact,
    Deal,
    DealLine,
    Product,
    Request,
    StageChange,
    Task,
)
from vrop.demo import catalog
from vrop.demo.behaviours import BEHAVIOURS, PLAN_FACTOR, RAMP_PLAN
from vrop.demo.simulation import (
    ACTIVITY_FIELDS,
    CALL_FIELDS,
    DEAL_FIELDS,
    INVOICE_FIELDS,
    LINE_FIELDS,
    PAYMENT_FIELDS,
    REQUEST_FIELDS,
    SEASON,
    SHIPMENT_FIELDS,
    STAGE_FIELDS,
    TASK_FIELDS,
    ClientInfo,
    ManagerInfo,
    ManagerSimulation,
    Prices,
    Shared,
)
from vrop.demo.timeline import MOSCOW, Timeline
from vrop.demo.writer import BulkWriter, DeferredKeys
from vrop.planning.models import Plan
from vrop.receivables.models import Invoice, Payment, Shipment

CLIENTS_PER_MANAGER = 25
INBOX_PER_SCALE = 12
# One precomputed hash for every demo login (a fixed salt keeps the data deterministic).
PASSWORD_SALT = "vropdemo2026"

ROLE_EMAILS = {
    "owner": f"owner@{catalog.EMAIL_DOMAIN}",
    "head": f"head@{catalog.EMAIL_DOMAIN}",
    "finance": f"finance@{catalog.EMAIL_DOMAIN}",
    "supply": f"supply@{catalog.EMAIL_DOMAIN}",
}


def manager_email(index: int) -> str:
    return f"manager{index + 1}@{catalog.EMAIL_DOMAIN}"


def demo_exists() -> bool:
    return User.objects.filter(email=ROLE_EMAILS["owner"]).exists()


# --- reset ------------------------------------------------------------------------------


# Kept by a reset: the company's policy and derived reference tables.
KEEP_ON_RESET = {"core.CompanySettings", "discipline.WorkingDay"}


def _business_models() -> list:
    """Every table of the project's apps (and the admin log and sessions), but the
    company settings and reference tables."""
    models = []
    for config in apps.get_app_configs():
        if config.name.startswith("vrop.") or config.label in ("admin", "sessions"):
            for model in config.get_models(include_auto_created=True):
                if model._meta.label not in KEEP_ON_RESET and model._meta.managed:
                    models.append(model)
    return models


def reset_demo_data() -> None:
    """Delete all business data and all users (the company settings row stays)."""
    tables = [model._meta.db_table for model in _business_models()]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
            # Checks deferred by earlier writes of an enclosing transaction would block
            # TRUNCATE: run them now, and defer again after.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            # Foreign keys are deferred to the commit, by which time every table is empty.
            for table in tables:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")


# --- generation -------------------------------------------------------------------------


def generate_demo(
    *,
    seed: int = 1,
    scale: int = 1,
    reset: bool = False,
    today: date | None = None,
    months: int = 12,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Create the demo company with ``months`` of history up to ``today``; return counts.

    ``scale`` multiplies managers and clients (8 managers and 200 clients per unit: about
    20 000 deals a year; 50 gives about a million). ``months`` shortens the history for
    tests.
    """
    if scale < 1:
        raise ValueError("scale must be 1 or more")
    if months < 1:
        raise ValueError("months must be 1 or more")
    today = today or timezone.localdate()
    if reset:
        reset_demo_data()
    elif demo_exists():
        raise RuntimeError("The demo company exists already: generate it with reset=True.")
    say = progress or (lambda message: None)
    # SQLite checks every foreign key of every row; the generator's rows point at rows it
    # wrote itself, so outside a caller's transaction the checks are switched off for the
    # load (they cannot be switched inside one, where they stay on, as in the tests).
    unchecked = connection.vendor == "sqlite" and not connection.in_atomic_block
    if unchecked:
        connection.disable_constraint_checking()
    try:
        result = _generate(seed, scale, today, months, say)
    finally:
        if unchecked:
            connection.enable_constraint_checking()
    if unchecked:
        # Fresh statistics for SQLite's planner (PostgreSQL's are taken by the bulk load):
        # without them the overdue-task count scans the whole task index.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return result


def _generate(seed: int, scale: int, today: date, months: int, say) -> dict:
    start = _month_start(today, -months)
    settings_row = _company()
    timeline = Timeline(
        start - timedelta(days=7),
        today + timedelta(days=60),
        start=settings_row.workday_start,
        end=settings_row.workday_end,
    )
    as_of = _as_of(timeline, today)
    writer = BulkWriter()
    with transaction.atomic():
        managers, staff_ids = _people(writer, seed, scale, today)
        prices = _products(writer, seed, timeline, today)
        _clients(writer, seed, managers, start)
        writer.flush()
    say(f"{len(managers)} managers, {sum(len(m.clients) for m in managers)} clients")

    week_of_day = [(day - timeline.days[0]).days // 7 for day in timeline.days]
    shared = Shared(
        timeline=timeline,
        today=today,
        start=start,
        as_of=as_of,
        prices=prices,
        week_of_day=week_of_day,
        writer=writer,
    )
    tables = {
        "deal": writer.table(Deal, DEAL_FIELDS),
        "line": writer.table(DealLine, LINE_FIELDS),
        "stage": writer.table(StageChange, STAGE_FIELDS),
        "task": writer.table(Task, TASK_FIELDS),
        "activity": writer.table(Activity, ACTIVITY_FIELDS),
        "request": writer.table(Request, REQUEST_FIELDS),
        "invoice": writer.table(Invoice, INVOICE_FIELDS),
        "payment": writer.table(Payment, PAYMENT_FIELDS),
        "shipment": writer.table(Shipment, SHIPMENT_FIELDS),
        "call": writer.table(Call, CALL_FIELDS),
    }
    # On PostgreSQL (outside a caller's transaction) the history is loaded in one
    # transaction with the big tables' foreign keys and plain indexes put back at the end.
    bulk = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic() if bulk else nullcontext():
        with DeferredKeys(BULK_MODELS) if bulk else nullcontext():
            block = 8
            for first in range(0, len(managers), block):
                group = managers[first : first + block]
                with transaction.atomic():
                    for manager in group:
                        ManagerSimulation(shared, manager, seed, tables).run()
                    writer.flush()
                    if not bulk:
                        _deal_facts(Deal.objects.filter(manager_id__in=[m.id for m in group]))
                say(f"managers {first + 1}–{first + len(group)}: {tables['deal'].count} deals")

            with transaction.atomic():
                _inbox(writer, seed, scale, today, timeline, as_of, managers)
                _plans(writer, seed, managers, shared, start, today)
                _stop_overdue_clients(shared, settings_row.overdue_client_stop_days)
                counts = writer.finish()
                # Every deal, whatever phase wrote its history (managers, the inbox).
                _stage_moments(Deal.objects.all())
            if bulk:  # cheaper before the deals' indexes are back
                _response_times(Deal.objects.all())
        if bulk:  # once the invoices' index by deal is back
            _paid_on(Deal.objects.all())
            _margin_days(Deal.objects.all())
    result = {model_label.split(".")[1].lower(): count for model_label, count in counts.items()}
    result["approvalrequest"] = _pending_approvals(today)
    say(f"{result['approvalrequest']} price approvals waiting")
    _head_settings(today)
    # Forecast accuracy from the first day: the recent past's snapshots, reconstructed.
    from vrop.planning.services import forecast_snapshots_backfill_recent as backfill

    taken = backfill() if scale < 20 else backfill(weeks=8, days=0, months=3)  # ~3 s each
    result["forecastsnapshot"] = len(taken)
    say(f"{result['forecastsnapshot']} forecast snapshots reconstructed from the history")
    return result


def _head_settings(today: date) -> None:
    """What the head has set up, through the services: the inbound distribution in turn
    among the first team, and next week's price list (list prices up 2 %), not yet in
    force."""
    from decimal import Decimal

    from vrop.crm.models import Product
    from vrop.discipline.distribution_setup import distribution_member_add, distribution_rule_create
    from vrop.pricing.services import price_list_create, price_list_item_set

    head = User.objects.get(email=ROLE_EMAILS["head"])
    with transaction.atomic():
        rule = distribution_rule_create(actor=head, name="Входящие: по очереди")
        team = User.objects.filter(role="manager", is_active=True).order_by("team_id", "id")
        first_team = team.first().team_id if team.exists() else None
        for manager in team.filter(team_id=first_team)[:8]:
            distribution_member_add(actor=head, rule=rule, user=manager)
        price_list = price_list_create(
            actor=head,
            name=f"Прайс с {today + timedelta(days=7):%d.%m.%Y}",
            effective_from=today + timedelta(days=7),
        )
        for product in Product.objects.order_by("id"):
            price_list_item_set(
                actor=head,
                price_list=price_list,
                product=product,
                list_price=(product.list_price * Decimal("1.02")).quantize(Decimal("1")),
            )


def _response_times(deals) -> None:
    from vrop.discipline.worktime import refresh_response_times

    refresh_response_times(deals)


def _paid_on(deals) -> None:
    from vrop.receivables.services.documents import deals_paid_on_refresh

    deals_paid_on_refresh(deals.filter(pk__in=Invoice.objects.values("deal_id")))


def _margin_days(deals) -> None:
    from vrop.pricing.services import margin_days_refresh

    margin_days_refresh(deals)


def _stage_moments(deals) -> None:
    from vrop.crm.services import deals_stage_moments_refresh

    deals_stage_moments_refresh(deals)


def _deal_facts(deals) -> None:
    """The facts deals keep for the numbers, by the functions that own them (the stage
    moments are kept once for all deals at the end)."""
    _response_times(deals)
    _paid_on(deals)
    _margin_days(deals)


# The tables the history fills: loaded with their keys deferred on PostgreSQL.
BULK_MODELS = [
    Deal,
    DealLine,
    StageChange,
    Task,
    Activity,
    Request,
    Invoice,
    Payment,
    Shipment,
    Call,
]


def _pending_approvals(today: date) -> int:
    """Open deals of the last month priced beyond the manager's authority wait for approval,
    opened through the pricing service itself (so the approvals page has work to show)."""
    from django.db.models import F, Q

    from vrop.crm.models import Deal
    from vrop.pricing.models import ApprovalRequest
    from vrop.pricing.services import approval_sync

    row = CompanySettings.objects.order_by("pk").first()
    manager_share = 1 - row.discount_manager_pct / 100
    floor_share = 1 - row.min_margin_pct / 100
    since = timezone.make_aware(datetime.combine(today - timedelta(days=30), time(0, 0)))
    candidates = (
        Deal.objects.filter(stage__in=["contact", "quote"], received_at__gte=since)
        .filter(
            Q(amount__lt=F("list_amount") * manager_share)
            | Q(cost_amount__gt=F("amount") * floor_share)
        )
        .order_by("pk")
    )
    opened = 0
    for deal in candidates.iterator(chunk_size=500):
        with transaction.atomic():
            request = approval_sync(deal=deal, actor=None)
            if request is not None:
                ApprovalRequest.objects.filter(pk=request.pk).update(
                    requested_at=deal.stage_changed_at
                )
                opened += 1
    return opened


def _month_start(day: date, shift: int) -> date:
    month = day.year * 12 + day.month - 1 + shift
    return date(month // 12, month % 12 + 1, 1)


def _as_of(timeline: Timeline, today: date) -> int:
    """Noon of today in working time, or the start of the next working day on a day off."""
    if today in timeline.index:
        noon = min(3 * 3600, timeline.day_seconds)
        return timeline.at(timeline.index[today], noon)
    return timeline.at(timeline.day_index_on_or_after(today), 0)


def _company() -> CompanySettings:
    row = company_settings()
    row.name = catalog.COMPANY["name"]
    row.inn = make_inn(catalog.COMPANY["inn_prefix"])
    row.kpp = catalog.COMPANY["kpp"]
    row.address = catalog.COMPANY["address"]
    row.phone = catalog.COMPANY["phone"]
    row.bank_details = catalog.COMPANY["bank_details"]
    row.save()
    return row


def _people(writer: BulkWriter, seed: int, scale: int, today: date):
    rng = random.Random(f"{seed}:people")
    password = make_password(catalog.PASSWORD, salt=PASSWORD_SALT)
    teams = writer.table(Team, ["id", "name"])
    users = writer.table(
        User,
        [
            "id", "password", "is_superuser", "username", "first_name", "last_name", "email",
            "is_staff", "is_active", "date_joined", "role", "team", "hired_on", "phone", "extra",
        ],
    )  # fmt: skip
    count = 8 * scale
    team_ids = []
    if scale == 1:
        for name in catalog.TEAM_NAMES:
            team_ids.append(teams.next_id())
            teams.add((team_ids[-1], name))
    else:
        for number in range(scale):
            team_ids.append(teams.next_id())
            teams.add((team_ids[-1], f"Отдел продаж {number + 1}"))

    def add_user(person, email, role, *, team_id=None, hired_on=None, extra="{}", staff=False):
        user_id = users.next_id()
        hired_on = hired_on or today - timedelta(days=rng.randint(900, 2500))
        phone = f"+7 (916) {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"
        users.add(
            (
                user_id, password, 1 if staff else 0, email, person.first_name,
                catalog.surname(person.last_name, person.female), email, 1 if staff else 0, 1,
                f"{hired_on.isoformat()} 06:00:00", role, team_id, hired_on.isoformat(), phone,
                extra,
            )
        )  # fmt: skip
        return user_id, hired_on

    staff_ids = {
        "owner": add_user(catalog.OWNER, ROLE_EMAILS["owner"], "owner", staff=True)[0],
        "head": add_user(catalog.HEAD, ROLE_EMAILS["head"], "head")[0],
        "finance": add_user(catalog.FINANCE, ROLE_EMAILS["finance"], "finance")[0],
        "supply": add_user(catalog.SUPPLY, ROLE_EMAILS["supply"], "supply")[0],
    }
    managers = []
    for index in range(count):
        behaviour = BEHAVIOURS[index % 8]
        if index < 8:
            person = catalog.MANAGERS[index]
        else:
            female = rng.random() < 0.4
            first = rng.choice(catalog.FEMALE_FIRST if female else catalog.MALE_FIRST)
            person = catalog.Person(first, rng.choice(catalog.SURNAMES), female)
        team_id = (
            team_ids[0 if index in (0, 1, 2, 6) else 1] if scale == 1 else team_ids[index // 8]
        )
        hired_on = (
            today - timedelta(days=behaviour.hired_days_ago) if behaviour.hired_days_ago else None
        )
        extra = f'{{"demo_behaviour": "{behaviour.code}"}}'
        user_id, hired_on = add_user(
            person, manager_email(index), "manager", team_id=team_id, hired_on=hired_on, extra=extra
        )
        managers.append(
            ManagerInfo(
                index=index,
                id=user_id,
                first_name=person.first_name,
                behaviour=behaviour,
                hired_on=hired_on,
                team_id=team_id,
            )
        )
    return managers, staff_ids


def _products(writer: BulkWriter, seed: int, timeline: Timeline, today: date) -> Prices:
    """Products with weekly prices: a market index per category (a mean-reverting walk
    over a yearly wave); the products' current prices are those of today's week."""
    rng = random.Random(f"{seed}:prices")
    weeks = (timeline.days[-1] - timeline.days[0]).days // 7 + 1
    index_by_category = {}
    for category in catalog.CATEGORIES:
        phase = rng.uniform(0, 2 * math.pi)
        walk, series = 0.0, []
        for week in range(weeks):
            walk = walk * 0.95 + rng.gauss(0, 0.012)
            series.append(1 + walk + 0.04 * math.sin(2 * math.pi * week / 52 + phase))
        index_by_category[category] = series
    products = writer.table(
        Product,
        [
            "id", "name", "category", "unit", "cost_price", "list_price", "stock_qty",
            "created_at", "updated_at",
        ],
    )  # fmt: skip
    this_week = (today - timeline.days[0]).days // 7
    ids, names, categories = [], [], []
    by_category: dict[str, list[int]] = {c: [] for c in catalog.CATEGORIES}
    list_price = [[] for _ in range(weeks)]
    cost_price = [[] for _ in range(weeks)]
    created = f"{timeline.days[0].isoformat()} 06:00:00"
    for position, spec in enumerate(catalog.PRODUCTS):
        series = index_by_category[spec.category]
        for week in range(weeks):
            price = int(round(spec.list_price * series[week] / 10)) * 10
            list_price[week].append(price)
            cost_price[week].append(int(round(price * spec.cost_ratio_bp / 100000)) * 10)
        product_id = products.next_id()
        products.add(
            (
                product_id, spec.name, spec.category, "t",
                str(cost_price[this_week][position]), str(list_price[this_week][position]),
                str(rng.randint(20, 400)), created, created,
            )
        )  # fmt: skip
        ids.append(product_id)
        names.append(spec.name)
        categories.append(spec.category)
        by_category[spec.category].append(position)
    return Prices(
        product_ids=ids,
        by_category=by_category,
        list_price=list_price,
        cost_price=cost_price,
        names=names,
        categories=categories,
    )


def _client_names(seed: int):
    """Unique company names: root pairs, then with a city, then numbered."""
    roots = [(a + b, la + lb) for a, la in catalog.NAME_ROOTS_1 for b, lb in catalog.NAME_ROOTS_2]
    random.Random(f"{seed}:names").shuffle(roots)
    level = 0
    while True:
        for root, latin in roots:
            if level == 0:
                yield root, latin, None
            elif level <= len(catalog.CITIES):
                yield f"{root}-{catalog.CITIES[level - 1]}", f"{latin}{level}", None
            else:
                yield f"{root} {level}", f"{latin}{level}", None
        level += 1


def _clients(writer: BulkWriter, seed: int, managers: list[ManagerInfo], start: date) -> None:
    clients = writer.table(
        Client,
        [
            "id", "name", "inn", "kpp", "segment", "manager", "phone", "email", "city",
            "payment_terms_days", "credit_limit", "created_at", "updated_at",
        ],
    )  # fmt: skip
    contacts = writer.table(
        Contact, ["id", "client", "name", "position", "phone", "email", "created_at", "updated_at"]
    )
    names = _client_names(seed)
    serial = 0
    regions = {"Москва": "77", "Тула": "71", "Калуга": "40", "Рязань": "62", "Тверь": "69"}
    for manager in managers:
        rng = random.Random(f"{seed}:clients:{manager.index}")
        behaviour = manager.behaviour
        ranks = list(range(CLIENTS_PER_MANAGER))
        rng.shuffle(ranks)
        for number in range(CLIENTS_PER_MANAGER):
            serial += 1
            root, latin, _ = next(names)
            form = rng.choice(catalog.LEGAL_FORMS)
            name = f"{form} «{root}»"
            city = rng.choice(catalog.CITIES)
            region = regions.get(city, "50")
            inn = make_inn(f"{region}{(1000003 + serial * 7919) % 9000000 + 1000000:07d}")
            domain = f"{latin}.ru"
            phone = (
                f"+7 (495) {200 + serial // 10000:03d}-{serial // 100 % 100:02d}-{serial % 100:02d}"
            )
            deferral = rng.random() < behaviour.deferral_share
            terms = rng.choice(behaviour.deferral_terms) if deferral else 0
            size = min(2.5, max(0.4, rng.lognormvariate(0, 0.5)))
            limit = (
                int(rng.choice((500, 1000, 1500, 2000, 3000, 5000)) * size) * 1000
                if deferral
                else 0
            )
            created = f"{(start - timedelta(days=rng.randint(30, 900))).isoformat()} 07:00:00"
            client_id = clients.next_id()
            clients.add(
                (
                    client_id, name, inn, inn[:4] + "01001", rng.choice(catalog.SEGMENTS),
                    manager.id, phone, f"info@{domain}", city, terms, str(limit), created, created,
                )
            )  # fmt: skip
            first_contact = None
            for contact_number in range(rng.choice((1, 1, 2))):
                female = rng.random() < 0.35
                first = rng.choice(catalog.FEMALE_FIRST if female else catalog.MALE_FIRST)
                person = f"{first} {catalog.surname(rng.choice(catalog.SURNAMES), female)}"
                mobile = f"+7 (9{rng.randint(10, 99)}) {serial % 1000:03d}-{rng.randint(10, 99)}-{contact_number}{rng.randint(0, 9)}"
                email = f"{'zakupki' if contact_number == 0 else 'snab'}@{domain}"
                contacts.add(
                    (
                        contacts.next_id(), client_id, person, rng.choice(catalog.POSITIONS),
                        mobile, email, created, created,
                    )
                )  # fmt: skip
                first_contact = first_contact or (person, mobile, email)
            manager.clients.append(
                ClientInfo(
                    id=client_id,
                    name=name,
                    inn=inn,
                    city=city,
                    terms=terms,
                    size=size,
                    contact_name=first_contact[0],
                    phone=first_contact[1],
                    email=first_contact[2],
                    weight=1 / (ranks[number] + 1) ** 0.9,
                )
            )


def _inbox(writer, seed, scale, today, timeline, as_of, managers) -> None:
    """New requests of today, not yet sorted: most unassigned, some waiting on a manager."""
    rng = random.Random(f"{seed}:inbox")
    requests = writer.table(Request, REQUEST_FIELDS)
    working = today in timeline.index
    for number in range(INBOX_PER_SCALE * scale):
        if working:
            ws = timeline.at(
                timeline.index[today], rng.randrange(0, as_of % timeline.day_seconds or 1)
            )
            received = timeline.moment(ws)
        else:
            moment = datetime.combine(today, time(rng.randint(10, 16), rng.randint(0, 59)), MOSCOW)
            received = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        channel = rng.choice(("email", "website", "phone", "messenger"))
        city = rng.choice(catalog.CITIES)
        root = rng.choice(catalog.NAME_ROOTS_1)[0] + rng.choice(catalog.NAME_ROOTS_2)[0]
        company = f"ООО «{root}»" if rng.random() < 0.7 else ""
        female = rng.random() < 0.4
        first = rng.choice(catalog.FEMALE_FIRST if female else catalog.MALE_FIRST)
        text = rng.choice(catalog.INBOX_TEXTS).format(city=city)
        manager_id = assigned = None
        if number % 3 == 2:  # assigned, not yet taken: mostly the slow manager's
            slow = [m for m in managers if m.behaviour.code == "slow"]
            manager_id = rng.choice(slow or managers).id
            assigned = received
        requests.add(
            (
                requests.next_id(), channel, received, first, company, "",
                f"+7 (9{rng.randint(10, 99)}) {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}",
                "" if channel == "phone" else f"zakaz{number}@mail.ru", text, "new", "",
                manager_id, assigned, None, None, None, received, received,
            )
        )  # fmt: skip


def _plans(writer, seed, managers, shared: Shared, start: date, today: date) -> None:
    """Monthly plans per manager and for the company on gross profit, revenue and volume,
    from each manager's usual monthly fact (a closer beats the plan, the slow one falls
    short), following the season; the new hires get a share of the veterans' average
    that grows each month."""
    rng = random.Random(f"{seed}:plans")
    plans = writer.table(Plan, ["id", "period_start", "period_end", "metric", "manager", "target"])
    months = []
    month = start
    last = _month_start(today, 1)
    while month <= last:
        months.append(month)
        month = _month_start(month, 1)
    current = _month_start(today, 0)
    full = [m.strftime("%Y-%m") for m in months if m < current] or [current.strftime("%Y-%m")]
    facts = shared.facts
    season_average = sum(SEASON[int(key[5:]) - 1] for key in full) / len(full)
    bases = {}
    for manager in managers:
        if manager.behaviour.hired_days_ago:
            continue
        values = [facts.get((manager.index, key), [0, 0, 0]) for key in full]
        bases[manager.index] = [sum(v[n] for v in values) / len(values) for n in range(3)]
    company: dict = {}
    for manager in managers:
        behaviour = manager.behaviour
        block = manager.index // 8 * 8
        veterans = [bases[i] for i in range(block, block + 8) if i in bases] or list(bases.values())
        average = [sum(b[n] for b in veterans) / max(1, len(veterans)) for n in range(3)]
        for month in months:
            month_end = _month_start(month, 1) - timedelta(days=1)
            if month_end < manager.hired_on:
                continue
            if behaviour.hired_days_ago:
                months_in = (
                    (month.year - manager.hired_on.year) * 12 + month.month - manager.hired_on.month
                )
                base = [x * RAMP_PLAN[min(months_in, len(RAMP_PLAN) - 1)] for x in average]
            else:
                base = bases[manager.index]
            factor = (
                PLAN_FACTOR[behaviour.code]
                * SEASON[month.month - 1]
                / season_average
                * rng.uniform(0.97, 1.05)
            )
            # tenths of a rouble -> roubles rounded to 10 000; tenths of a tonne -> tonnes
            targets = {
                "gross_profit": int(base[1] * factor / 100000) * 10000,
                "revenue": int(base[0] * factor / 100000) * 10000,
                "volume": int(base[2] * factor / 10),
            }
            for metric, target in targets.items():
                plans.add(
                    (plans.next_id(), month.isoformat(), month_end.isoformat(), metric, manager.id, str(target))
                )  # fmt: skip
                key = (month, month_end, metric)
                company[key] = company.get(key, 0) + target
    for (month, month_end, metric), target in company.items():
        plans.add(
            (plans.next_id(), month.isoformat(), month_end.isoformat(), metric, None, str(target))
        )


def _stop_overdue_clients(shared: Shared, stop_days: int) -> None:
    """Clients with an invoice overdue longer than the company's limit are on stop."""
    ids = sorted(cid for cid, days in shared.client_overdue_days.items() if days > stop_days)
    shared.writer.flush()
    reason = f"Просрочка оплаты более {stop_days} дней"
    for first in range(0, len(ids), 500):
        Client.objects.filter(pk__in=ids[first : first + 500]).update(
            credit_status="stop", credit_status_reason=reason
        )


# --- logins -----------------------------------------------------------------------------


def print_logins() -> None:
    """Print the demo logins (all with the same password)."""
    print(f"Demo logins (password: {catalog.PASSWORD}):")
    for role, email in ROLE_EMAILS.items():
        user = User.objects.filter(email=email).first()
        if user is not None:
            print(f"  {role:<8} {email:<26} {user.get_full_name()}")
    managers = User.objects.filter(
        email__in=[manager_email(i) for i in range(8)], role="manager"
    ).order_by("id")
    for user in managers:
        behaviour = (user.extra or {}).get("demo_behaviour", "")
        print(f"  {'manager':<8} {user.email:<26} {user.get_full_name()} ({behaviour})")
    more = User.objects.filter(email__endswith=f"@{catalog.EMAIL_DOMAIN}", role="manager").count()
    if more > 8:
        print(f"  … and {more - 8} more managers: manager9@{catalog.EMAIL_DOMAIN} …")
