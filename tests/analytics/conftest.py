"""A small hand-computed company for the KPI tests (November 2026, today Friday 20.11).

Numbers every test relies on (computed by hand, see each test):

shipments in November: A 03.11 100 000/90 000, A 20.11 50 000/40 000,
B 10.11 200 000/185 000; outside: B 31.10 999/0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests import factories
from vrop.crm.choices import Stage
from vrop.crm.models import Deal
from vrop.discipline.worktime import refresh_response_times
from vrop.receivables.services import payment_record

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=MSK)


def at(day: int, hour: int = 12, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=MSK)


def d(day: int, month: int = 11, year: int = 2026) -> dt.date:
    return dt.date(year, month, day)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def deal_for(manager, *, stage=Stage.LEAD, amount="0", received=None, **kwargs):
    client = kwargs.pop("client", None) or factories.ClientFactory(manager=manager)
    received = received or at(1)
    return factories.DealFactory(
        client=client,
        manager=manager,
        stage=stage,
        amount=Decimal(amount),
        received_at=received,
        stage_changed_at=kwargs.pop("stage_changed_at", received),
        **kwargs,
    )


def move(deal, stage, when, from_stage=""):
    return factories.StageChangeFactory(
        deal=deal, stage=stage, changed_at=when, from_stage=from_stage
    )


def pay(invoice, amount, day):
    return payment_record(actor=None, invoice=invoice, paid_on=day, amount=Decimal(amount))


@dataclass
class Company:
    team: object
    a: object
    b: object
    d1: object
    d2: object
    d3: object
    d4: object
    d5: object


@pytest.fixture
def company(db, frozen, owner):
    team = factories.TeamFactory(name="Продажи")
    a = factories.ManagerFactory(team=team)
    b = factories.ManagerFactory(team=team)
    # Shipments
    for manager, day, amount, cost in (
        (a, d(3), "100000", "90000"),
        (a, d(20), "50000", "40000"),
        (b, d(10), "200000", "185000"),
        (b, d(31, 10), "999", "0"),
    ):
        factories.ShipmentFactory(
            deal=deal_for(manager, stage=Stage.WON),
            manager=manager,
            shipped_on=day,
            amount=Decimal(amount),
            cost=Decimal(cost),
        )
    # Quote cohort of November
    d1 = deal_for(a, stage=Stage.WON, amount="100000", received=at(2))
    move(d1, Stage.LEAD, at(2))
    move(d1, Stage.QUOTE, at(5), "lead")
    move(d1, Stage.WON, at(9), "quote")
    inv1 = factories.InvoiceFactory(deal=d1, issued_on=d(5), due_on=d(12), amount=Decimal("100000"))
    pay(inv1, "100000", d(12))  # 7 days to payment

    d2 = deal_for(a, stage=Stage.WON, amount="300000", received=at(3))
    move(d2, Stage.QUOTE, at(6), "lead")
    inv2a = factories.InvoiceFactory(
        deal=d2, issued_on=d(6), due_on=d(10), amount=Decimal("100000")
    )
    pay(inv2a, "100000", d(16))  # 10 days
    inv2b = factories.InvoiceFactory(
        deal=d2, issued_on=d(6), due_on=d(10), amount=Decimal("200000")
    )
    pay(inv2b, "50000", d(15))  # 150 000 overdue 10 days

    d3 = deal_for(b, stage=Stage.WON, amount="50000", received=at(20, month=10))
    move(d3, Stage.LEAD, at(20, month=10))
    move(d3, Stage.WON, at(9), "lead")

    d4 = deal_for(
        b,
        stage=Stage.QUOTE,
        amount="70000",
        received=at(20, month=10),
        stage_changed_at=at(18),
        next_step_at=at(23),
        last_activity_at=at(19),
    )
    move(d4, Stage.QUOTE, at(28, month=10), "lead")
    move(d4, Stage.CONTACT, at(2), "quote")
    move(d4, Stage.QUOTE, at(18), "contact")
    factories.TaskFactory(deal=d4, due_at=at(23))  # a next step: not stalled

    # Request SLA (15 working minutes to the first contact): d1 on time (10 min), d2 late
    # (60 min), d5 still waiting a day later: late.
    d5 = deal_for(a, stage=Stage.LEAD, amount="25000", received=at(19))  # no next step
    d1.first_contact_at = at(2) + dt.timedelta(minutes=10)
    d1.save(update_fields=["first_contact_at"])
    d2.first_contact_at = at(3, 13)
    d2.save(update_fields=["first_contact_at"])
    refresh_response_times(Deal.objects.filter(pk__in=[d1.pk, d2.pk]))  # as the services do

    old = factories.InvoiceFactory(
        deal=deal_for(b, stage=Stage.WON),
        issued_on=d(1, 10),
        due_on=d(15, 10),
        amount=Decimal("40000"),
    )
    pay(old, "40000", d(2))  # 32 days
    factories.InvoiceFactory(
        deal=deal_for(b, stage=Stage.WON), issued_on=d(10), due_on=d(17), amount=Decimal("30000")
    )  # 3 days overdue
    factories.InvoiceFactory(
        deal=deal_for(a, stage=Stage.WON),
        issued_on=d(1, 8),
        due_on=d(1, 9),
        amount=Decimal("10000"),
    )  # 80 days overdue
    return Company(team=team, a=a, b=b, d1=d1, d2=d2, d3=d3, d4=d4, d5=d5)
