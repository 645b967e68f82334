"""The managers' documented behaviours hold as numbers (docs/demo.md)."""

from __future__ import annotations

import re
import statistics
from decimal import Decimal

import pytest
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
)

from tests.demo.conftest import TODAY
from vrop.accounts.models import User
from vrop.callaudit.models import Call
from vrop.core.calendar import WorkingTime
from vrop.crm.models import Deal, DealLine, Task
from vrop.planning.models import Plan
from vrop.receivables.models import Invoice

pytestmark = pytest.mark.django_db
MONEY = DecimalField(max_digits=18, decimal_places=2)
FILLERS = re.compile(r"\b(ну|как бы|короче|типа|это самое)\b", re.IGNORECASE)


def by_behaviour() -> dict[str, list[User]]:
    result: dict[str, list[User]] = {}
    for user in User.objects.filter(role="manager").order_by("id"):
        result.setdefault(user.extra["demo_behaviour"], []).append(user)
    return result


def single(behaviours, code) -> User:
    (user,) = behaviours[code]
    return user


def test_every_behaviour_is_present(demo):
    behaviours = by_behaviour()
    assert {code: len(users) for code, users in behaviours.items()} == {
        "closer": 1,
        "discounter": 1,
        "slow": 1,
        "careless": 1,
        "late_payer": 1,
        "steady": 1,
        "new_hire": 2,
    }


def test_careless_manager_leaves_most_open_deals_without_a_next_step(demo):
    open_task = Task.objects.filter(deal=OuterRef("pk"), done_at__isnull=True)
    without = dict(
        Deal.objects.open()
        .exclude(Exists(open_task))
        .values_list("manager")
        .annotate(n=Count("id"))
    )
    opened = dict(Deal.objects.open().values_list("manager").annotate(n=Count("id")))
    careless = single(by_behaviour(), "careless")
    assert max(without, key=without.get) == careless.pk
    assert without[careless.pk] * 2 > opened[careless.pk]
    others = [pk for pk in opened if pk != careless.pk]
    assert all(without.get(pk, 0) * 4 < opened[pk] for pk in others)


def test_slow_manager_has_the_slowest_first_contact(demo):
    working_time = WorkingTime()
    medians = {}
    for user in User.objects.filter(role="manager"):
        delays = [
            working_time.minutes_between(received, contact)
            for received, contact in Deal.objects.filter(
                manager=user, first_contact_at__isnull=False
            ).values_list("received_at", "first_contact_at")
        ]
        medians[user.extra["demo_behaviour"] + str(user.pk)] = statistics.median(delays)
    behaviours = by_behaviour()
    slow = single(behaviours, "slow")
    closer = single(behaviours, "closer")
    slowest = max(medians, key=medians.get)
    assert slowest == f"slow{slow.pk}"
    assert medians[slowest] > 30  # twice the 15-minute SLA
    assert medians[f"closer{closer.pk}"] <= 15
    # The slow one's quotes go out late too: under a third within 2 working hours.
    quoted = Deal.objects.filter(manager=slow, quote_sent_at__isnull=False)
    on_time = sum(
        working_time.minutes_between(r, q) <= 120
        for r, q in quoted.values_list("received_at", "quote_sent_at")
    )
    assert on_time * 3 < quoted.count()


def test_over_discounter_gives_the_deepest_discounts_and_thin_margins(demo):
    discount = ExpressionWrapper(
        (F("list_price") - F("price")) * 100 / F("list_price"), output_field=MONEY
    )
    averages = dict(
        DealLine.objects.values_list("deal__manager").annotate(d=Avg(discount)).order_by()
    )
    discounter = single(by_behaviour(), "discounter")
    assert max(averages, key=averages.get) == discounter.pk
    assert averages[discounter.pk] > Decimal("3")
    under_floor = DealLine.objects.filter(cost_price__gt=F("price") * Decimal("0.92"))
    counts = dict(under_floor.values_list("deal__manager").annotate(n=Count("id")).order_by())
    assert max(counts, key=counts.get) == discounter.pk
    lines = DealLine.objects.filter(deal__manager=discounter).count()
    assert counts[discounter.pk] * 10 > lines  # "some": more than a tenth of his lines


def test_late_payers_clients_carry_the_highest_overdue_share(demo):
    overdue = Sum(
        ExpressionWrapper(F("amount") - F("paid_amount"), output_field=MONEY),
        filter=Q(paid_on__isnull=True, due_on__lt=TODAY),
    )
    rows = Invoice.objects.values("client__manager").annotate(o=overdue, t=Sum("amount"))
    share = {row["client__manager"]: (row["o"] or 0) / row["t"] for row in rows}
    late_payer = single(by_behaviour(), "late_payer")
    assert max(share, key=share.get) == late_payer.pk
    assert share[late_payer.pk] > Decimal("0.05")
    # Late paying means more days from invoice to payment (DSO), on paid invoices too.
    days = {}
    for user in User.objects.filter(role="manager"):
        paid = Invoice.objects.filter(
            manager=user, paid_on__isnull=False, client__payment_terms_days__gt=0
        )
        days[user.pk] = statistics.mean(
            (p - i).days for i, p in paid.values_list("issued_on", "paid_on")
        )
    assert max(days, key=days.get) == late_payer.pk


def test_strong_closer_wins_most_of_his_quotes(demo):
    reached_quote = Deal.objects.filter(quote_sent_at__isnull=False, stage__in=["won", "lost"])
    rates = {
        row["manager"]: row["won"] / row["n"]
        for row in reached_quote.values("manager").annotate(
            n=Count("id"), won=Count("id", filter=Q(stage="won"))
        )
    }
    closer = single(by_behaviour(), "closer")
    assert max(rates, key=rates.get) == closer.pk
    assert rates[closer.pk] > 0.4


def test_new_hires_ramp_up_with_lower_plans(demo):
    behaviours = by_behaviour()
    hires = behaviours["new_hire"]
    veterans = [user for code, users in behaviours.items() if code != "new_hire" for user in users]
    assert all((TODAY - hire.hired_on).days < 200 for hire in hires)
    assert all((TODAY - veteran.hired_on).days > 800 for veteran in veterans)
    counts = dict(Deal.objects.values_list("manager").annotate(n=Count("id")).order_by())
    assert max(counts[hire.pk] for hire in hires) < min(counts[v.pk] for v in veterans)
    plan = dict(
        Plan.objects.filter(period_start=TODAY.replace(day=1), metric="gross_profit")
        .exclude(manager__isnull=True)
        .values_list("manager", "target")
    )
    veteran_average = sum(plan[v.pk] for v in veterans) / len(veterans)
    assert all(plan[hire.pk] < veteran_average for hire in hires)


def test_transcripts_differ_by_behaviour(demo):
    behaviours = by_behaviour()
    closer, slow, careless = (single(behaviours, c) for c in ("closer", "slow", "careless"))

    def manager_text(user) -> list[str]:
        return [
            " ".join(s["text"] for s in call.transcript if s["speaker"] == "manager")
            for call in Call.objects.filter(manager=user)
        ]

    closer_calls, slow_calls = manager_text(closer), manager_text(slow)
    assert closer_calls and slow_calls
    # The closer summarises and agrees a dated next step in every call.
    assert all("подытожим" in text and "перезвоню" in text for text in closer_calls)
    assert all("«СтальТрейд», меня зовут Алексей" in text for text in closer_calls)
    # The slow one greets with «Алло», never summarises, and speaks with filler words.
    assert all(text.startswith("Алло") and "подытожим" not in text for text in slow_calls)
    filler_rate = {}
    for user in User.objects.filter(role="manager"):
        texts = manager_text(user)
        words = sum(len(t.split()) for t in texts)
        filler_rate[user.pk] = sum(len(FILLERS.findall(t)) for t in texts) / max(1, words)
    assert max(filler_rate, key=filler_rate.get) == slow.pk
    assert filler_rate[slow.pk] > 3 * filler_rate[closer.pk]
    # «Дорого» is answered by the closer with value, left hanging by the slow one.
    for call in Call.objects.filter(manager=slow):
        segments = call.transcript
        for n, segment in enumerate(segments[:-1]):
            if segment["speaker"] == "client" and "Дорого" in segment["text"]:
                reply = segments[n + 1]["text"]
                assert "сертификат" not in reply and "скидк" not in reply
    # The careless one agrees no next step.
    assert all("как-нибудь наберу" in text for text in manager_text(careless))


def test_over_discounters_deals_wait_for_price_approval(demo):
    from vrop.pricing.models import ApprovalRequest, ApprovalStatus
    from vrop.pricing.services import deal_approval_state

    pending = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING)
    counts = dict(pending.values_list("deal__manager").annotate(n=Count("id")).order_by())
    discounter = single(by_behaviour(), "discounter")
    assert max(counts, key=counts.get) == discounter.pk
    # each request was opened by the pricing service for prices that really need it
    for approval in pending.select_related("deal")[:20]:
        decision, _approval, cleared = deal_approval_state(approval.deal)
        assert not cleared
        assert decision.role == approval.level
