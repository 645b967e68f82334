"""The same seed and the same today give the same data; another seed other data."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import time_machine
from django.db.models import Count, Sum

from tests.demo.conftest import NOW, TODAY
from vrop.accounts.models import User
from vrop.callaudit.models import Call
from vrop.crm.models import Activity, Client, Deal, DealLine, Request, StageChange, Task
from vrop.demo.generator import demo_exists, generate_demo
from vrop.planning.models import Plan
from vrop.receivables.models import Invoice, Payment, Shipment

pytestmark = pytest.mark.django_db


def fingerprint() -> dict:
    """Counts and sums per table, and a hash of every deal's arrival, stage and amount."""
    result = {
        "users": User.objects.count(),
        "clients": Client.objects.aggregate(n=Count("id"), limit=Sum("credit_limit")),
        "deals": Deal.objects.aggregate(
            n=Count("id"), amount=Sum("amount"), cost=Sum("cost_amount"), volume=Sum("volume")
        ),
        "lines": DealLine.objects.aggregate(n=Count("id"), qty=Sum("qty"), price=Sum("price")),
        "stage_changes": StageChange.objects.count(),
        "tasks": Task.objects.aggregate(n=Count("id"), done=Count("done_at")),
        "activities": Activity.objects.count(),
        "requests": Request.objects.count(),
        "invoices": Invoice.objects.aggregate(n=Count("id"), paid=Sum("paid_amount")),
        "payments": Payment.objects.aggregate(n=Count("id"), amount=Sum("amount")),
        "shipments": Shipment.objects.aggregate(n=Count("id"), amount=Sum("amount")),
        "plans": Plan.objects.aggregate(n=Count("id"), target=Sum("target")),
        "calls": Call.objects.aggregate(n=Count("id"), seconds=Sum("duration_s")),
    }
    digest = hashlib.sha256()
    for row in Deal.objects.order_by("received_at", "title").values_list(
        "received_at", "stage", "amount", "title", "client__inn", "manager__email"
    ):
        digest.update(repr(row).encode())
    for row in Call.objects.order_by("started_at").values_list("started_at", "transcript"):
        digest.update(repr(row).encode())
    result["digest"] = digest.hexdigest()
    return result


def test_same_seed_and_day_give_the_same_data(frozen):
    generate_demo(seed=11, today=TODAY, months=1)
    first = fingerprint()
    assert first["deals"]["n"] > 1000
    generate_demo(seed=11, today=TODAY, months=1, reset=True)
    assert fingerprint() == first
    generate_demo(seed=12, today=TODAY, months=1, reset=True)
    other = fingerprint()
    assert other["digest"] != first["digest"]
    assert other["deals"] != first["deals"]


def test_a_later_today_moves_the_history(frozen):
    generate_demo(seed=11, today=TODAY, months=1)
    first = Deal.objects.order_by("received_at").values_list("received_at", flat=True).first()
    later = TODAY + dt.timedelta(days=7)
    with time_machine.travel(NOW + dt.timedelta(days=7), tick=False):
        generate_demo(seed=11, today=later, months=1, reset=True)
    moved = Deal.objects.order_by("received_at").values_list("received_at", flat=True).first()
    assert moved.date() >= dt.date(2026, 10, 1)
    assert first.date() >= dt.date(2026, 10, 1)
    latest = Deal.objects.order_by("-received_at").values_list("received_at", flat=True).first()
    assert latest.astimezone(NOW.tzinfo).date() == later


def test_generating_over_an_existing_demo_is_refused_and_changes_nothing(frozen):
    generate_demo(seed=11, today=TODAY, months=1)
    before = fingerprint()
    with pytest.raises(RuntimeError):
        generate_demo(seed=11, today=TODAY, months=1)
    assert fingerprint() == before
    assert demo_exists()


def test_scale_multiplies_managers_and_clients(frozen):
    generate_demo(seed=11, today=TODAY, months=1, scale=2)
    assert User.objects.filter(role="manager").count() == 16
    assert Client.objects.count() == 400
    teams = set(User.objects.filter(role="manager").values_list("team__name", flat=True))
    assert teams == {"Отдел продаж 1", "Отдел продаж 2"}
    assert User.objects.filter(
        email="manager16@demo.vrop", extra__demo_behaviour="new_hire"
    ).exists()
