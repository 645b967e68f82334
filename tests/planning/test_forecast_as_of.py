"""The forecast as of a past day (only what was known at its end) and the snapshots
reconstructed with it (today is Friday 20.11.2026; the past day is Tuesday 10.11.2026)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command

from tests import factories
from tests.planning.conftest import TODAY, d, moment
from vrop.core.errors import ValidationError
from vrop.core.rulebook import FLAG
from vrop.crm.choices import Stage
from vrop.crm.services import deal_stage_change
from vrop.planning.forecast import SYSTEM, forecast, forecast_accuracy, stage_odds
from vrop.planning.models import ForecastSnapshot, ForecastSnapshotLine
from vrop.planning.services import (
    forecast_backfill_days,
    forecast_snapshot_take,
    forecast_snapshots_backfill,
)
from vrop.receivables.services import payment_record

X = dt.date(2026, 11, 10)


def _deal(client, stage, amount, received, path=(), closed=None):
    """A deal received on ``received`` that went through ``path`` ((stage, day), ...) and
    is now at ``stage``."""
    changed = path[-1][1] if path else received
    deal = factories.DealFactory(
        client=client,
        stage=stage,
        amount=Decimal(amount),
        received_at=moment(received),
        stage_changed_at=moment(changed),
        closed_at=moment(closed) if closed else None,
    )
    for step, day in path:
        factories.StageChangeFactory(deal=deal, stage=step, changed_at=moment(day))
    return deal


@pytest.fixture
def book(db, frozen):
    """Too little history for stage rates (the defaults hold: lead 10 % in 30 days,
    contact 20 % in 25, quote 40 % in 15, won 90 % in 10) and no invoice paid by 10.11
    (the company's delay then is 0 days)."""
    c = factories.ClientFactory(name="C")
    # A: at quote since 05.11, unchanged since.
    _deal(c, Stage.QUOTE, "100000", d(11, 1), [("contact", d(11, 2)), ("quote", d(11, 5))])
    # B: received after the day.
    _deal(c, Stage.LEAD, "50000", d(11, 12))
    # D: at quote on the day, won on 15.11 and invoiced on 16.11.
    deal_d = _deal(
        c,
        Stage.WON,
        "200000",
        d(11, 3),
        [("contact", d(11, 4)), ("quote", d(11, 6)), ("won", d(11, 15))],
        closed=d(11, 15),
    )
    factories.InvoiceFactory(
        deal=deal_d, issued_on=d(11, 16), due_on=d(11, 26), amount=Decimal("200000")
    )
    # E: at contact on the day, lost on 14.11.
    _deal(
        c,
        Stage.LOST,
        "30000",
        d(11, 7),
        [("contact", d(11, 8)), ("lost", d(11, 14))],
        closed=d(11, 14),
    )
    # F: lost before the day.
    _deal(c, Stage.LOST, "40000", d(11, 1), [("contact", d(11, 2)), ("lost", d(11, 5))], d(11, 5))
    # G: won on 07.11, invoiced only on 12.11.
    deal_g = _deal(c, Stage.WON, "60000", d(11, 6), [("won", d(11, 7))], closed=d(11, 7))
    factories.InvoiceFactory(
        deal=deal_g, issued_on=d(11, 12), due_on=d(11, 22), amount=Decimal("60000")
    )
    # H: at contact on the day, moved on to quote on 15.11.
    _deal(c, Stage.QUOTE, "10000", d(11, 3), [("contact", d(11, 9)), ("quote", d(11, 15))])
    # I: issued 01.11, due 09.11; 30 000 paid on 05.11, the other 60 000 on 13.11.
    invoice = factories.InvoiceFactory(
        deal__client=c,
        deal__received_at=moment(d(10, 20)),
        deal__stage_changed_at=moment(d(10, 25)),
        deal__closed_at=moment(d(10, 25)),
        client=c,
        issued_on=d(11, 1),
        due_on=d(11, 9),
        amount=Decimal("90000"),
    )
    payment_record(actor=None, invoice=invoice, paid_on=d(11, 5), amount=Decimal("30000"))
    payment_record(actor=None, invoice=invoice, paid_on=d(11, 13), amount=Decimal("60000"))
    return c


def test_the_forecast_of_a_past_day_reads_only_what_was_known_then(
    book, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        result = forecast(viewer=SYSTEM, at=X, fresh=True)

    assert {s: (o.probability, o.days, o.from_history) for s, o in result.odds.items()} == {
        "lead": (Decimal("0.10"), 30, False),
        "contact": (Decimal("0.20"), 25, False),
        "quote": (Decimal("0.40"), 15, False),
        "won": (Decimal("0.90"), 10, False),
    }
    assert result.days == {
        ("invoice", d(11, 10)): Decimal("60000.00"),  # I: 90 000 − 30 000 paid by then
        ("won", d(11, 17)): Decimal("54000.00"),  # G: not invoiced yet; 60 000 × 0.9, 7.11 + 10
        ("quote", d(11, 20)): Decimal("40000.00"),  # A: 100 000 × 0.4, 5.11 + 15
        ("quote", d(11, 21)): Decimal("80000.00"),  # D: still at quote; 6.11 + 15
        ("contact", d(12, 3)): Decimal("6000.00"),  # E: not lost yet; 30 000 × 0.2, 8.11 + 25
        ("contact", d(12, 4)): Decimal("2000.00"),  # H: at contact since 9.11
    }
    # B (received later), F (lost before) and the invoices of D and G (issued later) are out.
    assert result.open_amount == {
        "quote": Decimal("300000.00"),
        "contact": Decimal("40000.00"),
        "won": Decimal("60000.00"),
    }
    assert result.invoices_unpaid == Decimal("60000.00")
    assert result.total == Decimal("242000.00")


def test_today_the_forecast_is_the_current_one(book, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        result = forecast(viewer=SYSTEM, at=TODAY, fresh=True)

    assert result.open_amount == {
        "lead": Decimal("50000.00"),  # B
        "quote": Decimal("110000.00"),  # A and H
    }
    # D and G are invoiced now: their invoices are expected (company delay 4 days: I was
    # paid on 13.11, due 9.11); I is paid.
    assert result.invoices_unpaid == Decimal("260000.00")
    assert result.days[("invoice", d(11, 26))] == Decimal("60000.00")  # G: 22.11 + 4
    assert result.days[("invoice", d(11, 30))] == Decimal("200000.00")  # D: 26.11 + 4


def test_a_morning_forecast_knows_the_day_before(book):
    result = forecast(viewer=SYSTEM, at=X, fresh=True, known_through=X - dt.timedelta(days=1))

    # Nothing in the book happened on 10.11: the same forecast as at its end.
    assert result.days == forecast(viewer=SYSTEM, at=X, fresh=True).days
    early = forecast(viewer=SYSTEM, at=d(11, 5), fresh=True, known_through=d(11, 4))
    # On the morning of 05.11 the payment of that day is not known yet: all 90 000 due.
    assert early.invoices_unpaid == Decimal("90000.00")
    assert early.days[("invoice", d(11, 9))] == Decimal("90000.00")


def test_the_stage_odds_of_a_past_day_ignore_later_losses(db, frozen):
    client = factories.ClientFactory()
    for _ in range(5):  # lost on 14.11: open on 10.11
        _deal(
            client,
            Stage.LOST,
            "1000",
            d(9, 1),
            [("contact", d(9, 2)), ("lost", d(11, 14))],
            closed=d(11, 14),
        )

    then = stage_odds(at=X, fresh=True)
    now = stage_odds(at=TODAY, fresh=True)

    assert (then["lead"].resolved, then["lead"].from_history) == (0, False)
    assert (now["lead"].resolved, now["lead"].probability) == (5, Decimal("0.0000"))


def _history_deal(client, *, paid: bool, day: dt.date):
    """Received on ``day``, quoted 2 days later; paid 10 days after arrival, or lost."""
    deal = _deal(
        client,
        Stage.WON if paid else Stage.LOST,
        "1000",
        day,
        [
            ("contact", day + dt.timedelta(days=1)),
            ("quote", day + dt.timedelta(days=2)),
            ("won" if paid else "lost", day + dt.timedelta(days=4)),
        ],
        closed=day + dt.timedelta(days=4),
    )
    if paid:
        invoice = factories.InvoiceFactory(
            deal=deal,
            issued_on=day + dt.timedelta(days=4),
            due_on=day + dt.timedelta(days=8),
            amount=Decimal("1000"),
        )
        payment_record(
            actor=None, invoice=invoice, paid_on=day + dt.timedelta(days=10), amount=Decimal("1000")
        )
    return deal


def test_the_reconstruction_equals_the_forecast_made_live_that_day(db):
    """Made live on 10.11 (time frozen then), and reconstructed on 20.11 after ten more
    days of business done through the services: the same forecast."""
    with time_machine.travel(moment(X), tick=False):
        client = factories.ClientFactory()
        other = factories.ClientFactory()
        for index in range(6):
            _history_deal(client, paid=index < 4, day=d(8, 1) + dt.timedelta(days=7 * index))
        quoted = _deal(client, Stage.QUOTE, "100000", d(11, 2), [("quote", d(11, 3))])
        contacted = _deal(other, Stage.CONTACT, "40000", d(11, 4), [("contact", d(11, 6))])
        won = _deal(client, Stage.WON, "70000", d(11, 1), [("won", d(11, 9))], closed=d(11, 9))
        lead = _deal(other, Stage.LEAD, "5000", d(11, 9))
        unpaid = factories.InvoiceFactory(
            deal__client=other,
            deal__received_at=moment(d(10, 1)),
            client=other,
            issued_on=d(10, 20),
            due_on=d(11, 3),
            amount=Decimal("25000"),
        )
        payment_record(actor=None, invoice=unpaid, paid_on=d(11, 6), amount=Decimal("5000"))
        live = forecast(viewer=SYSTEM, at=X, fresh=True)

    with time_machine.travel(moment(TODAY), tick=False):
        deal_stage_change(actor=None, deal=quoted, stage=Stage.WON, at=moment(d(11, 12)), mode=FLAG)
        deal_stage_change(
            actor=None, deal=contacted, stage=Stage.QUOTE, at=moment(d(11, 11)), mode=FLAG
        )
        deal_stage_change(
            actor=None,
            deal=lead,
            stage=Stage.LOST,
            lost_reason="Дорого",
            at=moment(d(11, 13)),
            mode=FLAG,
        )
        factories.InvoiceFactory(deal=won, issued_on=d(11, 11), amount=Decimal("70000"))
        payment_record(actor=None, invoice=unpaid, paid_on=d(11, 16), amount=Decimal("20000"))
        _deal(client, Stage.QUOTE, "90000", d(11, 12), [("quote", d(11, 13))])
        reconstructed = forecast(viewer=SYSTEM, at=X, fresh=True)

    assert live.total > 0 and live.odds["quote"].from_history
    assert reconstructed.odds == live.odds
    assert reconstructed.days == live.days
    assert reconstructed.open_amount == live.open_amount
    assert reconstructed.invoices_unpaid == live.invoices_unpaid == Decimal("20000.00")


# --- reconstructed snapshots --------------------------------------------------------------


def test_the_days_a_weekly_backfill_takes():
    assert forecast_backfill_days(since=d(10, 26), until=d(11, 19), every="week") == [
        d(10, 26),
        d(11, 1),
        d(11, 2),
        d(11, 9),
        d(11, 16),
    ]
    assert len(forecast_backfill_days(since=d(11, 1), until=d(11, 7), every="day")) == 7
    with pytest.raises(ValidationError):
        forecast_backfill_days(since=d(11, 1), until=d(11, 7), every="month")


def test_backfill_takes_the_missing_days_and_keeps_the_live_ones(book):
    live = factories.ForecastSnapshotFactory(made_on=d(11, 11), total=Decimal("123"))
    factories.ForecastSnapshotLineFactory(
        snapshot=live, expected_on=d(11, 12), amount=Decimal("123")
    )

    taken = forecast_snapshots_backfill(since=d(11, 9), until=d(11, 30), every="day")

    # Up to yesterday only, and not the day taken live.
    assert taken == [d(11, 9), d(11, 10), *(d(11, day) for day in range(12, 20))]
    kept = ForecastSnapshot.objects.get(made_on=d(11, 11))
    assert (kept.reconstructed, kept.total) == (False, Decimal("123"))
    assert list(kept.lines.values_list("amount", flat=True)) == [Decimal("123")]
    morning = ForecastSnapshot.objects.get(made_on=X)
    expected = forecast(viewer=SYSTEM, at=X, fresh=True, known_through=X - dt.timedelta(days=1))
    assert morning.reconstructed
    assert morning.total == expected.total == Decimal("242000.00")
    assert sum(line.amount for line in morning.lines.all()) == morning.total
    assert morning.params["quote"]["probability"] == "0.40"


def test_backfill_again_takes_nothing(book):
    forecast_snapshots_backfill(since=d(11, 9), until=d(11, 19), every="day")
    before = list(
        ForecastSnapshotLine.objects.order_by("pk").values_list("pk", "snapshot__made_on", "amount")
    )

    assert forecast_snapshots_backfill(since=d(11, 1), until=d(11, 19), every="day") == [
        d(11, day) for day in range(1, 9)
    ]
    assert forecast_snapshots_backfill(since=d(11, 1), until=d(11, 19), every="day") == []
    after = ForecastSnapshotLine.objects.filter(snapshot__made_on__gte=d(11, 9))
    assert list(after.order_by("pk").values_list("pk", "snapshot__made_on", "amount")) == before
    assert ForecastSnapshot.objects.count() == 19


def test_a_past_day_taken_by_hand_is_reconstructed_and_never_replaces_a_live_one(book):
    live = factories.ForecastSnapshotFactory(made_on=d(11, 11), total=Decimal("123"))

    again = forecast_snapshot_take(on=d(11, 11))
    past = forecast_snapshot_take(on=d(11, 12))
    today = forecast_snapshot_take(on=TODAY)

    assert again.pk == live.pk and again.total == Decimal("123") and not again.reconstructed
    assert past.reconstructed
    assert not today.reconstructed


def test_accuracy_marks_the_reconstructed_snapshots(book):
    factories.ForecastSnapshotFactory(made_on=d(11, 9), total=Decimal("0"))
    forecast_snapshots_backfill(since=d(11, 1), until=d(11, 19), every="week")

    result = forecast_accuracy(at=TODAY, by="week", count=2)

    assert [(row.period.start, row.made_on, row.reconstructed) for row in result.rows] == [
        (d(11, 2), d(11, 2), True),
        (d(11, 9), d(11, 9), False),
    ]
    assert result.reconstructed


def test_the_backfill_command_takes_mondays_and_firsts(book):
    out = io.StringIO()

    call_command("forecast_backfill", weeks=3, stdout=out)

    # 30.10–19.11: Sunday 1.11 (a first), Mondays 2.11, 9.11, 16.11.
    assert out.getvalue().strip() == (
        "4 snapshots reconstructed from 30.10.2026 to 19.11.2026 (week)"
    )
    assert sorted(ForecastSnapshot.objects.values_list("made_on", "reconstructed")) == [
        (d(11, 1), True),
        (d(11, 2), True),
        (d(11, 9), True),
        (d(11, 16), True),
    ]
    call_command("forecast_backfill", weeks=3, stdout=out)
    assert (
        out.getvalue()
        .strip()
        .endswith("0 snapshots reconstructed from 30.10.2026 to 19.11.2026 (week)")
    )
