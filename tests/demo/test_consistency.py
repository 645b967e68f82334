"""Every denormalised field of the demo is what the services would have written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import authenticate
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.test import RequestFactory

from tests.demo.conftest import TODAY
from vrop.accounts.models import Team, User
from vrop.callaudit.models import Call
from vrop.core.calendar import is_working_day
from vrop.core.policy import company_settings
from vrop.core.validators import is_valid_inn
from vrop.crm.choices import REACHED
from vrop.crm.models import Client, Deal, DealLine, Product, Request, StageChange, Task
from vrop.crm.services import LineInput, deal_create
from vrop.planning.models import Plan
from vrop.receivables.models import Invoice, Payment, Shipment

pytestmark = pytest.mark.django_db
MONEY = DecimalField(max_digits=18, decimal_places=2)
MOSCOW = ZoneInfo("Europe/Moscow")
TOLERANCE = Decimal("0.005")


def _line_sum(expression):
    return Subquery(
        DealLine.objects.filter(deal=OuterRef("pk"))
        .values("deal")
        .annotate(total=Sum(ExpressionWrapper(expression, output_field=MONEY)))
        .values("total")
    )


def test_people_company_and_catalogue(demo):
    assert demo["deal"] == Deal.objects.count()
    assert sorted(User.objects.values_list("role", flat=True)) == sorted(
        ["owner", "head", "finance", "supply"] + ["manager"] * 8
    )
    assert list(Team.objects.annotate(n=Count("members")).values_list("n", flat=True)) == [4, 4]
    assert Client.objects.count() == 200
    assert Product.objects.count() == 62
    assert set(Product.objects.values_list("category", flat=True)) == {
        "Арматура",
        "Лист",
        "Труба",
        "Уголок",
        "Швеллер",
        "Балка",
    }
    settings_row = company_settings()
    assert settings_row.name == "ООО «СтальТрейд»"
    assert is_valid_inn(settings_row.inn)
    assert settings_row.address and settings_row.bank_details
    assert all(is_valid_inn(inn) for inn in Client.objects.values_list("inn", flat=True))
    assert Client.objects.values("inn").distinct().count() == 200


@pytest.mark.parametrize("email", ["owner@demo.vrop", "head@demo.vrop", "manager3@demo.vrop"])
def test_demo_logins_work_with_the_password(demo, email):
    request = RequestFactory().post("/login/")
    user = authenticate(request=request, username=email, password="demo12345")
    assert user is not None and user.email == email
    assert authenticate(request=request, username=email, password="wrong") is None


def test_deal_totals_are_the_sums_of_the_lines(demo):
    deals = Deal.objects.annotate(
        line_amount=_line_sum(F("qty") * F("price")),
        line_cost=_line_sum(F("qty") * F("cost_price")),
        line_list=_line_sum(F("qty") * F("list_price")),
        line_volume=_line_sum(F("qty")),
    )
    assert deals.filter(line_amount__isnull=True).count() == 0
    mismatched = deals.filter(
        Q(amount__gt=F("line_amount") + TOLERANCE)
        | Q(amount__lt=F("line_amount") - TOLERANCE)
        | Q(cost_amount__gt=F("line_cost") + TOLERANCE)
        | Q(cost_amount__lt=F("line_cost") - TOLERANCE)
        | Q(list_amount__gt=F("line_list") + TOLERANCE)
        | Q(list_amount__lt=F("line_list") - TOLERANCE)
        | Q(volume__gt=F("line_volume") + TOLERANCE)
        | Q(volume__lt=F("line_volume") - TOLERANCE)
    )
    assert mismatched.count() == 0
    total = Deal.objects.aggregate(s=Sum("amount"))["s"]
    lines = DealLine.objects.aggregate(
        s=Sum(ExpressionWrapper(F("qty") * F("price"), output_field=MONEY))
    )["s"]
    assert abs(total - lines) < Decimal("1")


def test_stage_history_matches_the_deals(demo):
    last = StageChange.objects.filter(deal=OuterRef("pk")).order_by("-changed_at", "-id")
    deals = Deal.objects.annotate(
        last_stage=Subquery(last.values("stage")[:1]),
        last_at=Subquery(last.values("changed_at")[:1]),
        first_stage=Subquery(
            StageChange.objects.filter(deal=OuterRef("pk"))
            .order_by("changed_at", "id")
            .values("stage")[:1]
        ),
    )
    assert deals.exclude(last_stage=F("stage")).count() == 0
    assert deals.exclude(last_at=F("stage_changed_at")).count() == 0
    assert deals.exclude(first_stage="lead").count() == 0
    first_at = StageChange.objects.filter(deal=OuterRef("pk"), stage="lead").values("changed_at")
    assert Deal.objects.exclude(received_at=Subquery(first_at[:1])).count() == 0
    closed = Deal.objects.filter(stage__in=["won", "lost"])
    assert closed.exclude(closed_at=F("stage_changed_at")).count() == 0
    assert Deal.objects.open().filter(closed_at__isnull=False).count() == 0
    assert Deal.objects.filter(stage="lost", lost_reason="").count() == 0
    assert Deal.objects.exclude(stage="lost").exclude(lost_reason="").count() == 0
    # Stage set by fact: a quote stage (and a win) has its quote, a contact its first contact.
    assert Deal.objects.filter(stage__in=["quote", "won"], quote_sent_at__isnull=True).count() == 0
    assert Deal.objects.filter(stage="contact", first_contact_at__isnull=True).count() == 0
    assert Deal.objects.filter(first_contact_at__lt=F("received_at")).count() == 0
    assert Deal.objects.filter(quote_sent_at__lt=F("first_contact_at")).count() == 0
    reached_quote = StageChange.objects.filter(deal=OuterRef("pk"), stage="quote")
    assert Deal.objects.filter(stage="won").exclude(Exists(reached_quote)).count() == 0
    # The moments each deal first reached contact, quote and won are those of its history.
    for field, stages in REACHED.items():
        first = (
            StageChange.objects.filter(deal=OuterRef("pk"), stage__in=stages)
            .order_by("changed_at")
            .values("changed_at")[:1]
        )
        deals = Deal.objects.annotate(first=Subquery(first))
        assert deals.filter(**{f"{field}__isnull": True}, first__isnull=False).count() == 0
        assert (
            deals.filter(**{f"{field}__isnull": False}).exclude(**{field: F("first")}).count() == 0
        )
    assert Deal.objects.filter(stage="won", won_reached_at__isnull=True).count() == 0


def test_next_step_is_the_earliest_open_task(demo):
    earliest = (
        Task.objects.filter(deal=OuterRef("pk"), done_at__isnull=True)
        .values("deal")
        .annotate(due=Min("due_at"))
        .values("due")
    )
    deals = Deal.objects.annotate(open_due=Subquery(earliest))
    assert deals.filter(next_step_at__isnull=True, open_due__isnull=False).count() == 0
    assert deals.filter(next_step_at__isnull=False).exclude(next_step_at=F("open_due")).count() == 0
    closed_with_open_task = Task.objects.filter(
        done_at__isnull=True, deal__stage__in=["won", "lost"]
    )
    assert closed_with_open_task.count() == 0
    assert Deal.objects.open().filter(next_step_at__isnull=False).count() > 0
    latest = Deal.objects.aggregate(at=Max("last_activity_at"))["at"]
    assert latest <= dt.datetime(2026, 11, 23, 12, 0, tzinfo=MOSCOW)


def test_invoices_payments_and_shipments_agree(demo):
    paid = Invoice.objects.annotate(
        paid_total=Coalesce(Sum("payments__amount"), Decimal("0"), output_field=MONEY),
        last_payment=Max("payments__paid_on"),
    )
    assert (
        paid.filter(
            Q(paid_amount__gt=F("paid_total") + TOLERANCE)
            | Q(paid_amount__lt=F("paid_total") - TOLERANCE)
        ).count()
        == 0
    )
    assert paid.filter(paid_on__isnull=False).exclude(paid_on=F("last_payment")).count() == 0
    assert paid.filter(paid_on__isnull=False).exclude(paid_amount=F("amount")).count() == 0
    assert Invoice.objects.filter(paid_on__isnull=True, paid_amount__gte=F("amount")).count() == 0
    assert Invoice.objects.exclude(deal__stage="won").count() == 0
    assert Invoice.objects.exclude(client=F("deal__client")).count() == 0
    assert Invoice.objects.exclude(manager=F("deal__manager")).count() == 0
    assert Invoice.objects.exclude(amount=F("deal__amount")).count() == 0
    assert Invoice.objects.filter(due_on__lt=F("issued_on")).count() == 0
    assert Invoice.objects.values("number").distinct().count() == Invoice.objects.count()
    assert Payment.objects.filter(paid_on__gt=TODAY).count() == 0
    assert Payment.objects.exclude(client=F("invoice__client")).count() == 0
    assert Shipment.objects.exclude(deal__stage="won").count() == 0
    assert Shipment.objects.filter(shipped_on__gt=TODAY).count() == 0
    for field in ("client", "manager"):
        assert Shipment.objects.exclude(**{field: F(f"deal__{field}")}).count() == 0
    assert Shipment.objects.exclude(amount=F("deal__amount")).count() == 0
    assert Shipment.objects.exclude(cost=F("deal__cost_amount")).count() == 0
    assert Shipment.objects.exclude(volume=F("deal__volume")).count() == 0
    assert Shipment.objects.filter(is_deferred=True, client__payment_terms_days=0).count() == 0
    # Prepayment clients get their goods only after paying.
    unpaid_prepaid = Shipment.objects.filter(client__payment_terms_days=0).filter(
        ~Exists(
            Payment.objects.filter(
                invoice__deal=OuterRef("deal"), paid_on__lte=OuterRef("shipped_on")
            )
        )
    )
    assert unpaid_prepaid.count() == 0
    stopped = Client.objects.filter(credit_status="stop")
    overdue_long = Invoice.objects.filter(
        paid_on__isnull=True, due_on__lt=TODAY - dt.timedelta(days=30)
    )
    assert set(stopped.values_list("pk", flat=True)) == set(
        overdue_long.values_list("client_id", flat=True)
    )


def test_requests_arrive_in_working_hours_on_working_days(demo):
    moments = list(Deal.objects.values_list("received_at", flat=True))
    assert len(moments) == demo["deal"]
    for moment in moments:
        local = moment.astimezone(MOSCOW)
        assert is_working_day(local.date()), local
        assert dt.time(9, 0) <= local.time() < dt.time(18, 0), local
    channels = set(Deal.objects.values_list("channel", flat=True))
    assert {"phone", "email", "website", "messenger", "repeat"} <= channels
    accepted = Request.objects.filter(status="accepted")
    assert accepted.count() == demo["deal"]
    assert accepted.exclude(received_at=F("deal__received_at")).count() == 0
    assert Request.objects.filter(status="declined").exclude(decline_reason="").count() > 0


def test_the_inbox_has_new_requests_of_today(demo):
    inbox = Request.objects.filter(status="new")
    assert inbox.count() == 12
    days = {
        moment.astimezone(MOSCOW).date() for moment in inbox.values_list("received_at", flat=True)
    }
    assert days == {TODAY}
    assert inbox.filter(manager__isnull=True).count() == 8
    assert inbox.filter(deal__isnull=False).count() == 0


def test_monthly_plans_per_manager_and_company(demo):
    managers = User.objects.filter(role="manager")
    months = [dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)]
    assert sorted(set(Plan.objects.values_list("period_start", flat=True))) == months
    for manager in managers:
        assert Plan.objects.filter(manager=manager).count() == 3 * len(months)
    for month in months:
        for metric in ("gross_profit", "revenue", "volume"):
            plans = Plan.objects.filter(period_start=month, metric=metric)
            company = plans.get(manager__isnull=True, team__isnull=True)
            total = plans.filter(manager__isnull=False).aggregate(s=Sum("target"))["s"]
            assert company.target == total
            assert company.target > 0
            assert company.period_end == (month + dt.timedelta(days=32)).replace(
                day=1
            ) - dt.timedelta(days=1)


def test_calls_have_russian_transcripts_with_timed_segments(demo):
    calls = list(Call.objects.all())
    assert len(calls) == demo["call"] > 50
    for call in calls:
        segments = call.transcript
        assert {s["speaker"] for s in segments} == {"manager", "client"}
        starts = [s["start"] for s in segments]
        assert starts == sorted(starts)
        assert all(0 <= s["start"] < s["end"] for s in segments)
        assert call.duration_s >= segments[-1]["end"]
        assert all(s["text"].strip() for s in segments)
        assert call.deal.manager_id == call.manager_id
        assert call.started_at == call.deal.first_contact_at


def test_the_services_keep_working_on_the_demo(demo, frozen):
    """Ids given by the bulk load leave the sequences past them (PostgreSQL)."""
    manager = User.objects.get(email="manager6@demo.vrop")
    client = Client.objects.filter(manager=manager).order_by("pk").first()
    product = Product.objects.order_by("pk").first()
    deal = deal_create(
        actor=manager,
        client=client,
        lines=[LineInput(product=product, qty=Decimal("2"))],
        next_step_title="Позвонить",
        next_step_due_at=frozen + dt.timedelta(days=1),
    )
    assert deal.pk > Deal.objects.exclude(pk=deal.pk).aggregate(m=Max("pk"))["m"]
    assert deal.amount == product.list_price * 2
    task = Task.objects.get(deal=deal)
    assert task.pk > Task.objects.exclude(pk=task.pk).aggregate(m=Max("pk"))["m"]


def test_the_head_has_set_up_distribution_and_next_weeks_price_list(demo):
    from vrop.discipline.models import DistributionRule
    from vrop.pricing.models import PriceList

    rule = DistributionRule.objects.get()
    assert rule.members.count() >= 4
    price_list = PriceList.objects.get()
    assert price_list.applied_at is None and price_list.items.count() == 62
