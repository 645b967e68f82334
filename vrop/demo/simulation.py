"""One manager's year, deal by deal: requests, stages, lines, tasks, activities, calls,
invoices, payments and shipments, written as rows with every denormalised field as the
services would have kept it.

A deal's life is drawn first (first contact, quote, decision, payment, shipment, each
at a moment in working time) and then cut at the demo's "now": what happened before
it is written, what would come after it is not, so that recent deals are open in the
stage they reached. Money is in tenths of a rouble (quantities in tenths of a tonne,
prices in whole roubles), so that every sum is exact.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from vrop.demo import catalog
from vrop.demo.behaviours import Behaviour
from vrop.demo.timeline import Timeline, next_working_day
from vrop.demo.transcripts import DAYS, NEXT_DAYS, TIMES, build_transcript

# Requests arrive by hour of the working day (9:00 … 17:00) with these weights.
HOUR_WEIGHTS = [6, 12, 14, 12, 7, 10, 12, 10, 7]
HOUR_CUM = [sum(HOUR_WEIGHTS[: n + 1]) for n in range(len(HOUR_WEIGHTS))]
# Construction season: fewer requests in winter (January … December).
SEASON = [0.72, 0.8, 0.95, 1.05, 1.15, 1.2, 1.2, 1.15, 1.1, 1.0, 0.95, 0.85]
# Requests per working day are this many times a behaviour's rate (about 20 000 deals a
# year at scale 1, a million at scale 50).
RATE_FACTOR = 1.2
LINES_CUM = [45, 75, 90, 100]
CHANNEL_CUM = [sum(catalog.CHANNEL_WEIGHTS[: n + 1]) for n in range(len(catalog.CHANNELS))]
CATEGORY_CUM = [
    sum(catalog.CATEGORY_WEIGHTS[: n + 1]) for n in range(len(catalog.CATEGORY_WEIGHTS))
]
CALL_SHARE = 0.25  # first calls of the last CALL_WINDOW_DAYS that were recorded
CALL_WINDOW_DAYS = 60
STUCK_WINDOW_DAYS = 45  # quoted deals older than this were decided, stuck or not


def money(tenths: int) -> str:
    """Tenths of a rouble as the neutral decimal text."""
    sign = "-" if tenths < 0 else ""
    tenths = abs(tenths)
    return f"{sign}{tenths // 10}.{tenths % 10}"


def tonnes(tenths: int) -> str:
    return f"{tenths // 10},{tenths % 10}" if tenths % 10 else str(tenths // 10)


def rub(tenths: int) -> str:
    return f"{tenths // 10:,}".replace(",", "\u00a0") + "\u00a0₽"


def poisson(rng: random.Random, lam: float) -> int:
    threshold = math.exp(-lam)
    count, product = 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


@dataclass
class ClientInfo:
    id: int
    name: str
    inn: str
    city: str
    terms: int
    size: float
    contact_name: str
    phone: str
    email: str
    weight: float = 1.0


@dataclass
class ManagerInfo:
    index: int
    id: int
    first_name: str
    behaviour: Behaviour
    hired_on: date
    team_id: int
    clients: list[ClientInfo] = field(default_factory=list)


@dataclass
class Prices:
    """Weekly list and cost prices per product (₽/t), moving with a market index."""

    product_ids: list[int]
    by_category: dict[str, list[int]]  # category -> product positions
    list_price: list[list[int]]  # [week][product position]
    cost_price: list[list[int]]
    names: list[str]
    categories: list[str]


@dataclass
class Shared:
    """What every manager's simulation reads and writes."""

    timeline: Timeline
    today: date
    start: date
    as_of: int  # the demo's "now" in working seconds
    prices: Prices
    week_of_day: list[int]  # working-day index -> week
    writer: object
    invoice_seq: int = 0
    # (manager index, "YYYY-MM") -> [revenue, gross profit, volume] in tenths
    facts: dict = field(default_factory=dict)
    client_overdue_days: dict = field(default_factory=dict)


DEAL_FIELDS = [
    "id", "title", "client", "manager", "channel", "received_at", "need", "stage",
    "stage_changed_at", "lost_reason", "closed_at", "amount", "cost_amount", "list_amount",
    "volume", "next_step_at", "last_activity_at", "first_contact_at", "quote_sent_at",
    "created_at", "updated_at",
]  # fmt: skip
LINE_FIELDS = ["id", "deal", "product", "qty", "price", "cost_price", "list_price", "position"]
STAGE_FIELDS = ["id", "deal", "from_stage", "stage", "changed_at", "changed_by"]
TASK_FIELDS = [
    "id", "deal", "client", "manager", "title", "due_at", "done_at", "result", "created_by",
    "created_at", "updated_at",
]  # fmt: skip
ACTIVITY_FIELDS = ["id", "kind", "deal", "client", "user", "occurred_at", "subject", "body"]
REQUEST_FIELDS = [
    "id", "channel", "received_at", "contact_name", "company_name", "inn", "phone", "email",
    "text", "status", "decline_reason", "manager", "assigned_at", "client", "deal",
    "processed_at", "created_at", "updated_at",
]  # fmt: skip
INVOICE_FIELDS = [
    "id", "deal", "client", "manager", "number", "issued_on", "due_on", "amount", "paid_amount",
    "paid_on", "created_at", "updated_at",
]  # fmt: skip
PAYMENT_FIELDS = [
    "id",
    "invoice",
    "client",
    "paid_on",
    "amount",
    "payer_inn",
    "purpose",
    "created_at",
]
SHIPMENT_FIELDS = [
    "id", "deal", "client", "manager", "shipped_on", "amount", "cost", "volume", "is_deferred",
    "created_at",
]  # fmt: skip
CALL_FIELDS = [
    "id",
    "deal",
    "client",
    "manager",
    "started_at",
    "direction",
    "duration_s",
    "phone",
    "transcript",
]


def _noon_utc(day: date) -> str:
    return f"{day.isoformat()} 09:00:00"


class ManagerSimulation:
    def __init__(self, shared: Shared, manager: ManagerInfo, seed: int, tables: dict):
        self.s = shared
        self.m = manager
        self.b = manager.behaviour
        self.rng = random.Random(f"{seed}:deals:{manager.index}")
        self.t = tables
        weights = [client.weight for client in manager.clients]
        self.client_cum = [sum(weights[: n + 1]) for n in range(len(weights))]
        self.counts = {"deals": 0}

    # --- the year ------------------------------------------------------------------------

    def run(self) -> None:
        s, b, rng = self.s, self.b, self.rng
        tl = s.timeline
        day_seconds = tl.day_seconds
        first = tl.day_index_on_or_after(max(s.start, self.m.hired_on))
        last = s.as_of // day_seconds
        for day_index in range(first, min(last, len(tl.days) - 1) + 1):
            day = tl.days[day_index]
            rate = b.rate * RATE_FACTOR * SEASON[day.month - 1]
            if b.ramp_days:
                days_in = (day - self.m.hired_on).days
                rate *= min(1.0, 0.35 + 0.65 * days_in / b.ramp_days)
            arrivals = sorted(self._second_of_day() for _ in range(poisson(rng, rate)))
            for second in arrivals:
                t0 = day_index * day_seconds + second
                if t0 < s.as_of:
                    self.deal(t0, day_index)

    def _second_of_day(self) -> int:
        rng = self.rng
        roll = rng.random() * HOUR_CUM[-1]
        hour = 0
        while HOUR_CUM[hour] < roll:
            hour += 1
        return hour * 3600 + rng.randrange(3600)

    def _lognormal_seconds(self, median_minutes: float, sigma: float) -> int:
        return max(30, int(60 * median_minutes * math.exp(sigma * self.rng.gauss(0.0, 1.0))))

    # --- one deal ------------------------------------------------------------------------

    def deal(self, t0: int, day_index: int) -> None:  # noqa: C901 - a deal's whole life
        s, b, m, rng, t = self.s, self.b, self.m, self.rng, self.t
        tl = s.timeline
        as_of = s.as_of
        wd = tl.day_seconds
        moment = tl.moment
        client = m.clients[_pick(rng, self.client_cum)]
        channel = catalog.CHANNELS[_pick(rng, CHANNEL_CUM)]
        deal_id = t["deal"].next_id()
        self.counts["deals"] += 1

        # Lines: products, quantities and prices of the week.
        prices = s.prices
        week = s.week_of_day[day_index]
        list_row, cost_row = prices.list_price[week], prices.cost_price[week]
        n_lines = _pick(rng, LINES_CUM) + 1
        category = catalog.CATEGORIES[_pick(rng, CATEGORY_CUM)]
        chosen: list[int] = []
        for n in range(n_lines):
            pool = prices.by_category[
                category if n == 0 or rng.random() < 0.5 else rng.choice(catalog.CATEGORIES)
            ]
            position = rng.choice(pool)
            if position not in chosen:
                chosen.append(position)
        amount = cost = list_amount = volume = 0
        need_parts = []
        lines_table = t["line"]
        for position_in_deal, position in enumerate(chosen):
            qty = max(3, min(300, int(rng.lognormvariate(math.log(28 * client.size), 0.6))))
            list_price = list_row[position]
            cost_price = cost_row[position]
            if rng.random() < b.discount_zero_share:
                price = list_price
            else:
                discount = rng.randint(*b.discount_bp)
                price = (list_price * (10000 - discount) + 50000) // 100000 * 10
            lines_table.add(
                (
                    lines_table.next_id(),
                    deal_id,
                    prices.product_ids[position],
                    money(qty),
                    str(price),
                    str(cost_price),
                    str(list_price),
                    position_in_deal,
                )
            )
            amount += qty * price
            cost += qty * cost_price
            list_amount += qty * list_price
            volume += qty
            need_parts.append(f"{prices.names[position]} — {tonnes(qty)} т")
        need = "; ".join(need_parts) + f". Доставка: {client.city}."
        title = f"{category}, {tonnes(volume)} т — {client.name}"

        # The deal's life, drawn whole, then cut at "now".
        first_contact = t0 + self._lognormal_seconds(b.first_contact_median, b.first_contact_sigma)
        contacted = rng.random() < b.p_contact
        quote_at = decision_at = lost_at = None
        quoted = won = stuck = False
        lost_reason = ""
        if contacted:
            quote_at = first_contact + self._lognormal_seconds(b.quote_median, b.quote_sigma)
            quoted = rng.random() < b.p_quote
            if quoted:
                decision_at = quote_at + int(wd * rng.lognormvariate(math.log(2.5), 0.8))
                won = rng.random() < b.p_win
                stuck = as_of - quote_at < STUCK_WINDOW_DAYS * wd and rng.random() < b.stuck_share
                if not won:
                    lost_reason = _quote_lost_reason(rng, b.code)
            else:
                lost_at = first_contact + int(wd * rng.uniform(0.2, 3))
                roll = rng.random()
                lost_reason = (
                    catalog.LOST_NO_STOCK
                    if roll < 0.4
                    else catalog.LOST_LEAD_TIME
                    if roll < 0.7
                    else catalog.LOST_PRICE
                )
        else:
            lost_at = t0 + int(wd * rng.uniform(1, 3))
            competitor_share = 0.6 if b.code == "slow" else 0.3
            lost_reason = (
                catalog.LOST_COMPETITOR
                if rng.random() < competitor_share
                else catalog.LOST_NO_ANSWER
            )
        if stuck:
            decision_at = None

        # Stage history up to now.
        transitions = [("", "lead", t0)]
        if contacted and first_contact <= as_of:
            transitions.append(("lead", "contact", first_contact))
            if quoted and quote_at <= as_of:
                transitions.append(("contact", "quote", quote_at))
                if decision_at is not None and decision_at <= as_of:
                    transitions.append(("quote", "won" if won else "lost", decision_at))
            elif lost_at is not None and lost_at <= as_of:
                transitions.append(("contact", "lost", lost_at))
        elif lost_at is not None and lost_at <= as_of:
            transitions.append(("lead", "lost", lost_at))
        stages = t["stage"]
        for from_stage, stage, at in transitions:
            stages.add((stages.next_id(), deal_id, from_stage, stage, moment(at), m.id))
        stage, stage_at = transitions[-1][1], transitions[-1][2]
        is_open = stage in ("lead", "contact", "quote")
        first_contact_at = (
            first_contact if len(transitions) > 1 and transitions[1][1] == "contact" else None
        )
        quote_sent_at = quote_at if any(tr[1] == "quote" for tr in transitions) else None

        # Tasks: one per stage reached; the one of the current stage stays open.
        tasks: list[list] = [[catalog.TASK_FIRST_CONTACT, t0, t0 + 900, None, ""]]
        if first_contact_at is not None:
            tasks[0][3], tasks[0][4] = first_contact_at, "Связался с клиентом"
            tasks.append(
                [
                    catalog.TASK_QUOTE,
                    first_contact_at,
                    max(first_contact_at + 1800, t0 + 7200),
                    None,
                    "",
                ]
            )
            if quote_sent_at is not None:
                tasks[1][3], tasks[1][4] = quote_sent_at, "КП отправлено"
                follow_up = quote_sent_at + rng.randint(1, 3) * wd
                tasks.append([catalog.TASK_DECISION, quote_sent_at, follow_up, None, ""])
                if not is_open:
                    tasks[2][3], tasks[2][4] = stage_at, "Заказ" if stage == "won" else lost_reason
            elif not is_open:
                tasks[1][3], tasks[1][4] = stage_at, lost_reason
        elif not is_open:
            tasks[0][3], tasks[0][4] = stage_at, "Не дозвонился"
        if is_open and rng.random() < b.no_next_step_share:
            tasks.pop()  # the manager closed the step and set no next one
        elif is_open and tasks[-1][3] is None and tasks[-1][2] < as_of:
            # A disciplined manager moves an overdue step forward; a careless one lets it rot.
            keeps_overdue = 0.1 + 1.2 * b.no_next_step_share
            if rng.random() >= keeps_overdue:
                tasks[-1][2] = as_of + rng.randint(1, 3) * wd - rng.randint(0, wd // 2)
        next_step_at = None
        last_activity = None
        task_table = t["task"]
        for title_, created, due, done, result in tasks:
            if done is None:
                next_step_at = due if next_step_at is None else min(next_step_at, due)
            elif last_activity is None or done > last_activity:
                last_activity = done
            task_table.add(
                (
                    task_table.next_id(),
                    deal_id,
                    client.id,
                    m.id,
                    title_,
                    moment(due),
                    moment(done) if done is not None else None,
                    result,
                    m.id,
                    moment(created),
                    moment(done if done is not None else created),
                )
            )

        # Activities and the recorded first call.
        activities = t["activity"]
        if first_contact_at is not None:
            kind = "call" if channel in catalog.CALL_CHANNELS else "email"
            activities.add(
                (activities.next_id(), kind, deal_id, client.id, m.id, moment(first_contact_at),
                 "Первый контакт по заявке", "")
            )  # fmt: skip
            last_activity = max(last_activity or 0, first_contact_at)
            if kind == "call" and as_of - t0 < CALL_WINDOW_DAYS * wd and rng.random() < CALL_SHARE:
                self._call(
                    deal_id,
                    client,
                    channel,
                    first_contact_at,
                    first_contact_at - t0,
                    chosen,
                    volume,
                    list_row,
                )
        elif not is_open:
            activities.add(
                (activities.next_id(), "note", deal_id, client.id, m.id, moment(stage_at),
                 "Не удалось связаться с клиентом", "")
            )  # fmt: skip
            last_activity = max(last_activity or 0, stage_at)
        if quote_sent_at is not None:
            activities.add(
                (activities.next_id(), "email", deal_id, client.id, m.id, moment(quote_sent_at),
                 "КП отправлено", f"КП на {rub(amount)} без НДС")
            )  # fmt: skip
            last_activity = max(last_activity, quote_sent_at)
            end = stage_at if not is_open else as_of
            if amount > 20_000_000 and rng.random() < 0.4 and end - quote_sent_at > wd:
                meeting = quote_sent_at + rng.randint(wd // 2, end - quote_sent_at - 1)
                activities.add(
                    (activities.next_id(), "meeting", deal_id, client.id, m.id, moment(meeting),
                     "Встреча с клиентом на объекте", "")
                )  # fmt: skip
                last_activity = max(last_activity, meeting)
        if stage in ("won", "lost") and first_contact_at is not None:
            subject = "Клиент подтвердил заказ" if stage == "won" else f"Отказ: {lost_reason}"
            activities.add(
                (activities.next_id(), "call", deal_id, client.id, m.id, moment(stage_at), subject, "")
            )  # fmt: skip
            last_activity = max(last_activity, stage_at)

        # The request that started it, and now and then a declined one.
        requests = t["request"]
        assigned = t0 + rng.randint(20, 120)
        requests.add(
            (requests.next_id(), channel, moment(t0), client.contact_name, client.name,
             client.inn, client.phone, client.email, need, "accepted", "", m.id, moment(assigned),
             client.id, deal_id, moment(assigned), moment(t0), moment(assigned))
        )  # fmt: skip
        if rng.random() < 0.04:
            declined_at = t0 + rng.randint(60, 1800)
            requests.add(
                (requests.next_id(), channel, moment(t0 + 30), "", "", "", "", "",
                 "Прошу прислать прайс", "declined", rng.choice(catalog.REQUEST_DECLINE_REASONS),
                 m.id, moment(t0 + 60), None, None, moment(declined_at), moment(t0 + 30),
                 moment(declined_at))
            )  # fmt: skip

        closed_at = stage_at if not is_open else None
        updated = max(stage_at, last_activity or 0)
        t["deal"].add(
            (
                deal_id,
                title[:300],
                client.id,
                m.id,
                channel,
                moment(t0),
                need,
                stage,
                moment(stage_at),
                lost_reason if stage == "lost" else "",
                moment(closed_at) if closed_at is not None else None,
                money(amount),
                money(cost),
                money(list_amount),
                money(volume),
                moment(next_step_at) if next_step_at is not None else None,
                moment(last_activity) if last_activity is not None else None,
                moment(first_contact_at) if first_contact_at is not None else None,
                moment(quote_sent_at) if quote_sent_at is not None else None,
                moment(t0),
                moment(updated),
            )
        )
        if stage == "won":
            self._money(deal_id, client, tl.day_of(stage_at), amount, cost, volume)

    # --- invoice, payments, shipment -----------------------------------------------------

    def _money(self, deal_id: int, client: ClientInfo, won_on: date, amount, cost, volume) -> None:
        s, rng, t, m = self.s, self.rng, self.t, self.m
        today = s.today
        habit = self.b.payment
        s.invoice_seq += 1
        number = f"СТ-{won_on:%y}-{s.invoice_seq:06d}"
        due_on = won_on + timedelta(days=client.terms)
        if client.terms == 0:
            pay_on = next_working_day(won_on, rng.choice((0, 0, 1, 1, 2, 3)))
        else:
            roll = rng.random()
            if roll < habit.on_time_share:
                delay = rng.randint(-5, 2)
            elif roll < habit.on_time_share + habit.mild_share:
                delay = rng.randint(*habit.mild_days)
            else:
                delay = rng.randint(*habit.late_days)
            pay_on = next_working_day(max(won_on, due_on + timedelta(days=delay)))
        parts = [(pay_on, amount)]
        if client.terms and rng.random() < 0.15:
            first_on = next_working_day(won_on + (pay_on - won_on) / 2)
            if first_on < pay_on:
                first = amount * rng.randint(30, 70) // 100
                parts = [(first_on, first), (pay_on, amount - first)]
        invoice_id = t["invoice"].next_id()
        paid = 0
        payments = t["payment"]
        for paid_on, part in parts:
            if paid_on <= today:
                payments.add(
                    (payments.next_id(), invoice_id, client.id, paid_on.isoformat(), money(part),
                     client.inn, f"Оплата по счёту № {number}", _noon_utc(paid_on))
                )  # fmt: skip
                paid += part
        fully_paid = paid == amount
        if not fully_paid and due_on < today:
            overdue = (today - due_on).days
            if overdue > s.client_overdue_days.get(client.id, 0):
                s.client_overdue_days[client.id] = overdue
        t["invoice"].add(
            (invoice_id, deal_id, client.id, m.id, number, won_on.isoformat(), due_on.isoformat(),
             money(amount), money(paid), pay_on.isoformat() if fully_paid else None,
             _noon_utc(won_on), _noon_utc(pay_on if fully_paid else won_on))
        )  # fmt: skip
        if client.terms:
            shipped_on = next_working_day(won_on, rng.choice((0, 1, 1, 2)))
        else:
            shipped_on = next_working_day(parts[0][0], rng.choice((0, 1)))
            if parts[0][0] > today:
                return
        if shipped_on > today:
            return
        shipments = t["shipment"]
        shipments.add(
            (shipments.next_id(), deal_id, client.id, m.id, shipped_on.isoformat(), money(amount),
             money(cost), money(volume), 1 if client.terms else 0, _noon_utc(shipped_on))
        )  # fmt: skip
        key = (m.index, shipped_on.strftime("%Y-%m"))
        fact = s.facts.setdefault(key, [0, 0, 0])
        fact[0] += amount
        fact[1] += amount - cost
        fact[2] += volume

    # --- a recorded call -----------------------------------------------------------------

    def _call(self, deal_id, client, channel, started, delay, chosen, volume, list_row) -> None:
        rng, t, m, prices = self.rng, self.t, self.m, self.s.prices
        position = chosen[0]
        name = prices.names[position]
        context = {
            "company": catalog.COMPANY_SHORT,
            "manager": m.first_name,
            "client": client.contact_name.split()[0],
            "client_company": client.name,
            "product": name[0].lower() + name[1:],
            "product_cap": name,
            "category_lower": prices.categories[position].lower(),
            "qty": f"{tonnes(volume)} т",
            "total": max(10, volume // 10 * 4),
            "city": client.city,
            "price": f"{list_row[position]:,} рублей за тонну".replace(",", " "),
            "discount": f"{rng.randint(5, 12)} %",
            "day": rng.choice(DAYS),
            "next_day": rng.choice(NEXT_DAYS),
            "next_time": rng.choice(TIMES),
            "quote_time": rng.choice(("13:00", "15:00", "17:00")),
        }
        segments = build_transcript(rng, self.b.call_style, context)
        direction = "in" if channel == "phone" and delay < 120 else "out"
        calls = t["call"]
        calls.add(
            (calls.next_id(), deal_id, client.id, m.id, self.s.timeline.moment(started), direction,
             int(segments[-1]["end"]) + 1, client.phone, json.dumps(segments, ensure_ascii=False))
        )  # fmt: skip


def _pick(rng: random.Random, cumulative: list) -> int:
    roll = rng.random() * cumulative[-1]
    low, high = 0, len(cumulative) - 1
    while low < high:
        middle = (low + high) // 2
        if cumulative[middle] < roll:
            low = middle + 1
        else:
            high = middle
    return low


def _quote_lost_reason(rng: random.Random, code: str) -> str:
    roll = rng.random()
    price_share = 0.2 if code == "discounter" else 0.45
    if roll < price_share:
        return catalog.LOST_PRICE
    if roll < price_share + 0.25:
        return catalog.LOST_COMPETITOR
    if roll < price_share + 0.4:
        return catalog.LOST_LEAD_TIME
    return catalog.LOST_NO_ANSWER
