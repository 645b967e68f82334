"""Ageing, the overdue list, exposure, days to payment, DSO and payment discipline against
hand-computed examples (docs/receivables.md)."""

import datetime as dt
from decimal import Decimal as D

import pytest

from tests.factories import (
    ClientFactory,
    DealFactory,
    InvoiceFactory,
    ManagerFactory,
    OverdueActionFactory,
)
from vrop.crm.choices import Stage
from vrop.receivables.selectors import (
    bucket_for,
    client_exposure,
    client_payment_discipline,
    days_to_payment,
    dso,
    overdue_list,
    receivables_ageing,
)
from vrop.receivables.services import payment_record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

TODAY = dt.date(2026, 11, 23)


def invoice(client, *, due_on, amount, paid="0", issued_on=None, number=None, **fields):
    deal = DealFactory(client=client, manager=client.manager, stage=Stage.WON)
    extra = {"number": number} if number else {}
    return InvoiceFactory(
        deal=deal,
        client=client,
        manager=client.manager,
        issued_on=issued_on or due_on - dt.timedelta(days=14),
        due_on=due_on,
        amount=D(amount),
        paid_amount=D(paid),
        **extra,
        **fields,
    )


@pytest.fixture
def book():
    """Ten invoices on 23.11.2026: A–G overdue, H–I not yet due, J paid."""
    manager_a, manager_b = ManagerFactory(last_name="Антонов"), ManagerFactory(last_name="Борисов")
    first = ClientFactory(name="Альфа", manager=manager_a)
    second = ClientFactory(name="Бета", manager=manager_b)
    third = ClientFactory(name="Гамма", manager=manager_b)
    rows = {
        "A": invoice(first, due_on=dt.date(2026, 11, 22), amount="1000", paid="200"),  # 1 day
        "B": invoice(first, due_on=dt.date(2026, 11, 16), amount="500"),  # 7 days
        "C": invoice(second, due_on=dt.date(2026, 11, 15), amount="300"),  # 8 days
        "D": invoice(second, due_on=dt.date(2026, 10, 24), amount="200"),  # 30 days
        "E": invoice(second, due_on=dt.date(2026, 10, 23), amount="150"),  # 31 days
        "F": invoice(first, due_on=dt.date(2026, 9, 24), amount="100"),  # 60 days
        "G": invoice(first, due_on=dt.date(2026, 9, 23), amount="50"),  # 61 days
        "H": invoice(third, due_on=TODAY, amount="70"),  # due today: not overdue
        "I": invoice(
            third, issued_on=dt.date(2026, 11, 20), due_on=dt.date(2026, 12, 10), amount="30"
        ),
        "J": invoice(
            first,
            due_on=dt.date(2026, 10, 1),
            amount="999",
            paid="999",
            paid_on=dt.date(2026, 10, 2),
        ),
    }
    return {"managers": (manager_a, manager_b), "clients": (first, second, third), **rows}


def test_buckets_by_days_overdue():
    assert [bucket_for(d) for d in (0, 1, 7, 8, 30, 31, 60, 61)] == [
        "current",
        "1-7",
        "1-7",
        "8-30",
        "8-30",
        "31-60",
        "31-60",
        "60+",
    ]


def test_ageing_of_the_whole_company(book, owner):
    ageing = receivables_ageing(viewer=owner, at=TODAY)

    assert ageing.buckets == {
        "1-7": D("1300"),
        "8-30": D("500"),
        "31-60": D("250"),
        "60+": D("50"),
    }
    assert (ageing.total, ageing.current, ageing.count) == (D("2100"), D("100"), 7)
    assert ageing.receivables == D("2200")


def test_ageing_by_client_and_by_manager(book, head):
    by_client = receivables_ageing(viewer=head, at=TODAY, group_by="client")
    by_manager = receivables_ageing(viewer=head, at=TODAY, group_by="manager")

    assert [(row.name, row.total, row.count) for row in by_client] == [
        ("Альфа", D("1450"), 4),
        ("Бета", D("650"), 3),
    ]
    assert by_client[0].buckets == {
        "1-7": D("1300"),
        "8-30": D("0"),
        "31-60": D("100"),
        "60+": D("50"),
    }
    manager_a, manager_b = book["managers"]
    assert [(row.id, row.total) for row in by_manager] == [
        (manager_a.pk, D("1450")),
        (manager_b.pk, D("650")),
    ]


def test_a_manager_sees_the_ageing_of_own_clients_only(book):
    manager_a, _manager_b = book["managers"]
    assert receivables_ageing(viewer=manager_a, at=TODAY).total == D("1450")
    assert receivables_ageing(
        viewer=manager_a, at=TODAY, manager_id=book["managers"][1].pk
    ).total == D("0")


def test_ageing_at_a_past_date_counts_the_payments_made_by_then(head, finance):
    client = ClientFactory()
    late = invoice(
        client, issued_on=dt.date(2026, 10, 1), due_on=dt.date(2026, 10, 15), amount="1000"
    )
    payment_record(actor=finance, invoice=late, paid_on=dt.date(2026, 11, 5), amount=D("400"))
    payment_record(actor=finance, invoice=late, paid_on=dt.date(2026, 11, 20), amount=D("600"))

    on_10th = receivables_ageing(viewer=head, at=dt.date(2026, 11, 10))
    on_4th = receivables_ageing(viewer=head, at=dt.date(2026, 11, 4))
    today = receivables_ageing(viewer=head, at=TODAY)

    assert on_10th.buckets["8-30"] == D("600")  # 26 days overdue, 400 paid on the 5th
    assert on_4th.buckets["8-30"] == D("1000")  # 20 days
    assert (today.total, today.count) == (D("0"), 0)


def test_overdue_list_oldest_first_with_days_and_latest_action(book, head):
    OverdueActionFactory(
        invoice=book["G"],
        done_at=dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC),
        note="Старый звонок",
    )
    OverdueActionFactory(
        invoice=book["G"],
        done_at=dt.datetime(2026, 11, 21, 10, tzinfo=dt.UTC),
        promised_on=dt.date(2026, 11, 27),
        promised_amount=D("50"),
        promise_status="pending",
        next_action="Перезвонить",
        next_action_on=dt.date(2026, 11, 27),
    )

    rows = list(overdue_list(viewer=head, at=TODAY))

    assert [(row.pk, row.days_overdue, row.balance_due) for row in rows] == [
        (book["G"].pk, 61, D("50")),
        (book["F"].pk, 60, D("100")),
        (book["E"].pk, 31, D("150")),
        (book["D"].pk, 30, D("200")),
        (book["C"].pk, 8, D("300")),
        (book["B"].pk, 7, D("500")),
        (book["A"].pk, 1, D("800")),
    ]
    first = rows[0]
    assert (first.promised_on, first.promise_status, first.next_action) == (
        dt.date(2026, 11, 27),
        "pending",
        "Перезвонить",
    )
    assert rows[1].action_kind is None
    assert [r.pk for r in overdue_list(viewer=head, at=TODAY, bucket="31-60")] == [
        book["F"].pk,
        book["E"].pk,
    ]


def test_exposure_is_unpaid_plus_won_not_invoiced_plus_the_deal_minus_advances(manager, finance):
    client = ClientFactory(manager=manager, payment_terms_days=14, credit_limit=D("1000000"))
    partly = DealFactory(client=client, manager=manager, stage=Stage.WON, amount=D("300000"))
    InvoiceFactory(deal=partly, client=client, amount=D("100000"), paid_amount=D("25000"))
    DealFactory(client=client, manager=manager, stage=Stage.WON, amount=D("40000"))
    DealFactory(client=client, manager=manager, stage=Stage.LOST, amount=D("999999"))
    at_hand = DealFactory(client=client, manager=manager, stage=Stage.QUOTE, amount=D("5000"))
    payment_record(actor=finance, invoice=None, client=client, paid_on=TODAY, amount=D("1000"))

    exposure = client_exposure(client=client, deal=at_hand)

    assert (
        exposure.unpaid_invoices,
        exposure.won_not_invoiced,
        exposure.deal_at_hand,
        exposure.advances,
    ) == (D("75000.00"), D("240000.00"), D("5000.00"), D("1000.00"))
    assert exposure.total == D("319000.00")
    assert exposure.available == D("681000.00")
    # the won deal at hand is counted once: 75 000 + 40 000 + 200 000 − 1 000
    assert client_exposure(client=client, deal=partly).total == D("314000.00")


def paid_invoice(finance, client, *, issued_on, paid_on, amount="1000"):
    item = invoice(
        client, issued_on=issued_on, due_on=issued_on + dt.timedelta(days=7), amount=amount
    )
    payment_record(actor=finance, invoice=item, paid_on=paid_on, amount=D(amount))
    return item


def test_days_to_payment_median_and_mean(finance, head):
    client = ClientFactory()
    paid_invoice(finance, client, issued_on=dt.date(2026, 11, 1), paid_on=dt.date(2026, 11, 11))
    paid_invoice(finance, client, issued_on=dt.date(2026, 10, 20), paid_on=dt.date(2026, 11, 20))
    paid_invoice(finance, client, issued_on=dt.date(2026, 11, 10), paid_on=dt.date(2026, 11, 12))
    # paid the day before the invoice: fully paid on the invoice date, 0 days
    paid_invoice(finance, client, issued_on=dt.date(2026, 11, 15), paid_on=dt.date(2026, 11, 14))
    paid_invoice(finance, client, issued_on=dt.date(2026, 10, 1), paid_on=dt.date(2026, 10, 30))

    result = days_to_payment(
        viewer=head, date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 30)
    )

    assert (result.count, result.median, result.mean) == (4, D("6"), D("10.8"))  # 43 / 4
    odd = days_to_payment(
        viewer=head, date_from=dt.date(2026, 11, 12), date_to=dt.date(2026, 11, 30)
    )
    assert (odd.count, odd.median) == (3, D("2"))  # 0, 2, 31
    empty = days_to_payment(
        viewer=head, date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 1, 31)
    )
    assert (empty.count, empty.median, empty.mean) == (0, None, None)


def test_dso_for_the_current_and_a_past_period(finance, head):
    client = ClientFactory()
    paid_invoice(finance, client, issued_on=dt.date(2026, 11, 2), paid_on=dt.date(2026, 11, 3))
    half = invoice(
        client, issued_on=dt.date(2026, 11, 5), due_on=dt.date(2026, 11, 19), amount="2000"
    )
    payment_record(actor=finance, invoice=half, paid_on=dt.date(2026, 11, 10), amount=D("500"))
    invoice(client, issued_on=dt.date(2026, 11, 20), due_on=dt.date(2026, 12, 4), amount="3000")
    invoice(client, issued_on=dt.date(2026, 10, 10), due_on=dt.date(2026, 10, 24), amount="4000")
    paid_invoice(finance, client, issued_on=dt.date(2026, 10, 5), paid_on=dt.date(2026, 11, 2))

    november = dso(viewer=head, date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 30))
    october = dso(viewer=head, date_from=dt.date(2026, 10, 1), date_to=dt.date(2026, 10, 31))

    # November: receivables 1 500 + 3 000 + 4 000 = 8 500; invoiced 6 000; 30 days
    assert november == {
        "receivables": D("8500"),
        "invoiced": D("6000"),
        "days": 30,
        "dso": D("42.5"),
    }
    # October: on 31.10 both October invoices were unpaid: 5 000 of 5 000 over 31 days
    assert (october["receivables"], october["invoiced"], october["dso"]) == (
        D("5000"),
        D("5000"),
        D("31.0"),
    )


def test_payment_discipline_marks(finance, head):
    on_time = ClientFactory(name="Точный")
    late = ClientFactory(name="Опаздывающий")
    very_late = ClientFactory(name="Должник")
    fresh = ClientFactory(name="Новый")
    for issued, paid in (
        (dt.date(2026, 10, 1), dt.date(2026, 10, 8)),
        (dt.date(2026, 11, 1), dt.date(2026, 11, 5)),
    ):
        paid_invoice(finance, on_time, issued_on=issued, paid_on=paid)
    paid_invoice(
        finance, late, issued_on=dt.date(2026, 10, 20), paid_on=dt.date(2026, 10, 25)
    )  # on time
    paid_invoice(
        finance, late, issued_on=dt.date(2026, 10, 25), paid_on=dt.date(2026, 11, 6)
    )  # 5 late
    invoice(very_late, due_on=TODAY - dt.timedelta(days=40), amount="100")

    profiles = client_payment_discipline(viewer=head, at=TODAY)

    assert profiles[on_time.pk].mark == "A"
    assert (profiles[on_time.pk].mean_days_to_payment, profiles[on_time.pk].on_time_pct) == (
        D("5.5"),
        D("100.0"),
    )
    assert (
        profiles[late.pk].mark,
        profiles[late.pk].mean_days_late,
        profiles[late.pk].on_time_pct,
        profiles[late.pk].mean_days_to_payment,
    ) == ("B", D("2.5"), D("50.0"), D("8.5"))
    assert (profiles[very_late.pk].mark, profiles[very_late.pk].oldest_overdue_days) == ("D", 40)
    assert fresh.pk not in profiles
