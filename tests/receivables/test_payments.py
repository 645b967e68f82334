"""Payments: partial, over-payment, refund, money before the invoice, advances."""

import datetime as dt
from decimal import Decimal as D

import pytest

from tests.factories import ClientFactory, DealFactory, InvoiceFactory
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.crm.choices import Stage
from vrop.receivables.models import Invoice, Payment
from vrop.receivables.services import (
    invoice_create,
    payment_allocate,
    payment_record,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def open_invoice(client, *, amount="1000.00", due_on=dt.date(2026, 11, 30), number=None):
    deal = DealFactory(client=client, manager=client.manager, stage=Stage.WON)
    extra = {"number": number} if number else {}
    return InvoiceFactory(
        deal=deal,
        client=client,
        issued_on=dt.date(2026, 11, 16),
        due_on=due_on,
        amount=D(amount),
        **extra,
    )


def state(invoice):
    invoice.refresh_from_db()
    return invoice.paid_amount, invoice.paid_on


def test_partial_payments_then_full(finance):
    item = open_invoice(ClientFactory())
    payment_record(actor=finance, invoice=item, paid_on=dt.date(2026, 11, 18), amount=D("400"))
    assert state(item) == (D("400.00"), None)
    payment_record(actor=finance, invoice=item, paid_on=dt.date(2026, 11, 20), amount=D("600"))
    assert state(item) == (D("1000.00"), dt.date(2026, 11, 20))


def test_over_payment_pays_the_next_invoice_and_leaves_an_advance(finance):
    client = ClientFactory()
    first = open_invoice(client, amount="1000.00", due_on=dt.date(2026, 11, 25))
    second = open_invoice(client, amount="500.00", due_on=dt.date(2026, 11, 20))

    payments = payment_allocate(
        actor=finance,
        client=client,
        invoice=first,
        paid_on=dt.date(2026, 11, 21),
        amount=D("1700.00"),
        source="bank",
        external_id="p1",
    )

    assert [(p.invoice_id, p.amount, p.external_id) for p in payments] == [
        (first.pk, D("1000.00"), "p1"),
        (second.pk, D("500.00"), "p1/1"),
        (None, D("200.00"), "p1/2"),
    ]
    assert state(first) == (D("1000.00"), dt.date(2026, 11, 21))
    assert state(second) == (D("500.00"), dt.date(2026, 11, 21))
    assert sum(p.amount for p in Payment.objects.filter(client=client)) == D("1700.00")


def test_an_advance_pays_the_next_invoice_when_it_is_issued(finance, manager):
    client = ClientFactory(manager=manager)
    payment_record(
        actor=finance, invoice=None, client=client, paid_on=dt.date(2026, 11, 10), amount=D("300")
    )
    payment_record(
        actor=finance, invoice=None, client=client, paid_on=dt.date(2026, 11, 12), amount=D("900")
    )
    deal = DealFactory(client=client, manager=manager, stage=Stage.WON)

    item = invoice_create(
        actor=finance, deal=deal, number="А-1", issued_on=dt.date(2026, 11, 23), amount=D("1000")
    )

    # paid in advance: fully paid on the invoice date, not before it
    assert state(item) == (D("1000.00"), dt.date(2026, 11, 23))
    advance = Payment.objects.get(client=client, invoice__isnull=True)
    assert advance.amount == D("200.00")
    assert sorted(Payment.objects.filter(invoice=item).values_list("amount", flat=True)) == [
        D("300.00"),
        D("700.00"),
    ]


def test_a_payment_dated_before_the_invoice(finance):
    item = open_invoice(ClientFactory())
    payment_record(actor=finance, invoice=item, paid_on=dt.date(2026, 11, 10), amount=D("1000"))
    assert state(item) == (D("1000.00"), dt.date(2026, 11, 16))  # the invoice date


def test_a_refund_reopens_the_invoice(finance):
    item = open_invoice(ClientFactory())
    payment_record(actor=finance, invoice=item, paid_on=dt.date(2026, 11, 18), amount=D("1000"))
    payment_record(actor=finance, invoice=item, paid_on=dt.date(2026, 11, 19), amount=D("-250"))
    assert state(item) == (D("750.00"), None)


def test_a_refund_larger_than_paid_is_refused_and_nothing_changes(finance):
    item = open_invoice(ClientFactory())
    payment_record(actor=finance, invoice=item, paid_on=dt.date(2026, 11, 18), amount=D("100"))
    with pytest.raises(ValidationError) as error:
        payment_record(
            actor=finance, invoice=item, paid_on=dt.date(2026, 11, 19), amount=D("-100.01")
        )
    assert error.value.field == "amount"
    assert state(item) == (D("100.00"), None)
    assert Payment.objects.count() == 1


def test_a_manager_does_not_record_payments(manager):
    item = open_invoice(ClientFactory(manager=manager))
    with pytest.raises(PermissionDenied):
        payment_allocate(
            actor=manager,
            client=item.client,
            invoice=item,
            paid_on=dt.date(2026, 11, 18),
            amount=D("1"),
        )
    assert Payment.objects.count() == 0
    assert Invoice.objects.get(pk=item.pk).paid_amount == D("0")


def test_payments_in_bulk_leave_invoices_as_one_by_one_would(finance):
    from vrop.receivables.services import payments_record_bulk

    client = ClientFactory()
    one_by_one, in_bulk = open_invoice(client), open_invoice(client)
    parts = [(dt.date(2026, 11, 20), D("300")), (dt.date(2026, 11, 18), D("700"))]
    for day, amount in parts:
        payment_record(actor=finance, invoice=one_by_one, paid_on=day, amount=amount)

    payments_record_bulk(
        actor=finance,
        payments=[
            Payment(invoice=in_bulk, client=client, paid_on=day, amount=amount)
            for day, amount in parts
        ],
    )

    assert state(in_bulk) == state(one_by_one) == (D("1000.00"), dt.date(2026, 11, 20))
    with pytest.raises(ValidationError):
        payments_record_bulk(
            actor=finance,
            payments=[Payment(invoice=in_bulk, paid_on=dt.date(2026, 11, 21), amount=D("-1"))],
        )
    assert Payment.objects.filter(invoice=in_bulk).count() == 2
