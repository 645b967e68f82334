"""Receivables pages, and the stop rules through the web deal form and the admin."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import (
    ClientFactory,
    DealFactory,
    InvoiceFactory,
    OverdueActionFactory,
    OwnerFactory,
)
from tests.receivables.helpers import deferral_client, quote_deal
from vrop.crm.choices import Stage
from vrop.crm.models import Client, Deal, StageChange
from vrop.receivables.models import CreditOverride, OverdueAction, Payment, Shipment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def browser(user):
    page = Browser()
    page.force_login(user)
    return page


def overdue(client, number, *, days=10, amount="1000.00"):
    deal = DealFactory(client=client, manager=client.manager, stage=Stage.WON)
    due = dt.date(2026, 11, 23) - dt.timedelta(days=days)
    return InvoiceFactory(
        deal=deal,
        client=client,
        number=number,
        issued_on=due - dt.timedelta(days=14),
        due_on=due,
        amount=D(amount),
    )


def test_receivables_page_shows_the_debts_each_role_may_see(head, manager, other_manager, supply):
    mine = overdue(ClientFactory(manager=manager), "СЧ-МОЙ", days=70)
    overdue(ClientFactory(manager=other_manager), "СЧ-ЧУЖОЙ")
    OverdueActionFactory(invoice=mine, note="Звонил главбуху")

    for_head = browser(head).get(reverse("receivables"))
    for_manager = browser(manager).get(reverse("receivables"))

    assert for_head.status_code == 200
    text = for_head.content.decode()
    assert "СЧ-МОЙ" in text and "СЧ-ЧУЖОЙ" in text and "Звонил главбуху" in text
    assert "2\xa0000,00\xa0₽" in text  # overdue total
    own = for_manager.content.decode()
    assert "СЧ-МОЙ" in own and "СЧ-ЧУЖОЙ" not in own
    assert browser(supply).get(reverse("receivables")).status_code == 403


def test_receivables_page_costs_the_same_queries_for_3_or_30_debts(head, manager):
    client = ClientFactory(manager=manager)
    for n in range(3):
        overdue(client, f"A-{n}")
    page = browser(head)
    with CaptureQueriesContext(connection) as few:
        page.get(reverse("receivables"))
    for n in range(27):
        overdue(ClientFactory(manager=manager), f"B-{n}", days=n + 1)
    with CaptureQueriesContext(connection) as many:
        response = page.get(reverse("receivables"))
    assert response.content.decode().count('href="/receivables/invoices/') == 30
    assert len(many.captured_queries) == len(few.captured_queries)


def test_an_action_is_recorded_on_the_debt_page(finance, manager):
    invoice = overdue(ClientFactory(manager=manager), "СЧ-9")
    page = browser(finance)
    url = reverse("invoice-actions", args=[invoice.pk])

    bad = page.post(url, {"kind": "call", "promised_on": "2026-11-01"})
    good = page.post(
        url,
        {
            "kind": "call",
            "note": "Обещали в пятницу",
            "promised_on": "2026-11-27",
            "next_action": "Проверить оплату",
            "next_action_on": "2026-11-30",
            "responsible": manager.pk,
        },
    )

    assert bad.status_code == 422
    assert good.status_code == 302
    action = OverdueAction.objects.get()
    assert (action.promised_on, action.responsible, action.promised_amount) == (
        dt.date(2026, 11, 27),
        manager,
        D("1000.00"),
    )
    assert "Обещали в пятницу" in page.get(url).content.decode()


def test_credit_terms_are_set_on_the_client_credit_page(finance, manager):
    client = ClientFactory(manager=manager)
    url = reverse("client-credit", args=[client.pk])
    data = {
        "payment_terms_days": "30",
        "credit_limit": "250000",
        "credit_status": "active",
        "reason": "",
    }

    assert browser(manager).post(url, data).status_code == 403
    assert Client.objects.get(pk=client.pk).payment_terms_days == 0
    assert browser(finance).post(url, data).status_code == 302
    client.refresh_from_db()
    assert (client.payment_terms_days, client.credit_limit) == (30, D("250000.00"))
    assert browser(manager).get(url).status_code == 200


def test_the_web_deal_stage_form_refuses_a_win_over_the_limit(manager):
    deal = quote_deal(manager, deferral_client(manager, limit="559999.99"))
    page = browser(manager)

    response = page.post(reverse("deal-stage", args=[deal.pk]), {"stage": "won"})

    assert response.status_code == 302
    errors = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert len(errors) == 1 and "0,01" in errors[0]
    assert Deal.objects.get(pk=deal.pk).stage == Stage.LEAD
    assert StageChange.objects.filter(deal=deal).count() == 1


def test_override_asked_on_the_web_decided_by_the_owner_only(manager, head, owner):
    deal = quote_deal(manager, deferral_client(manager, limit="1000.00"))
    check_url = reverse("deal-credit", args=[deal.pk])
    check = browser(manager).get(check_url)
    assert check.status_code == 200
    assert "559\xa0000,00\xa0₽" in check.content.decode()  # over the limit by

    asked = browser(manager).post(check_url, {"reason": "Клиент платит всегда"})
    assert asked.status_code == 302
    override = CreditOverride.objects.get()
    decide = reverse("credit-override-decide", args=[override.pk])

    browser(head).post(decide, {"decision": "grant", "reason": "Можно"})
    override.refresh_from_db()
    assert override.status == "pending"

    browser(owner).post(decide, {"decision": "grant", "reason": "Под мою ответственность"})
    override.refresh_from_db()
    assert (override.status, override.channel) == ("granted", "web")
    browser(manager).post(reverse("deal-stage", args=[deal.pk]), {"stage": "won"})
    assert Deal.objects.get(pk=deal.pk).stage == Stage.WON


def test_statement_uploaded_and_a_row_confirmed_on_the_web(finance, manager):
    client = ClientFactory(manager=manager, inn="7736523556")
    invoice = overdue(client, "777", amount="500.00")
    page = browser(finance)
    content = "Дата;Сумма;ИНН;Назначение\n20.11.2026;500,00;;Оплата\n".encode()

    loaded = page.post(reverse("statement-list"), {"file": SimpleUploadedFile("bank.csv", content)})

    assert loaded.status_code == 302
    detail = page.get(loaded["Location"]).content.decode()
    assert "Оплата" in detail
    from vrop.receivables.models import PaymentImportRow

    row = PaymentImportRow.objects.get()
    page.post(reverse("statement-row-confirm", args=[row.pk]), {"invoice_number": "777"})
    invoice.refresh_from_db()
    assert invoice.paid_on == dt.date(2026, 11, 20)
    assert browser(manager).get(reverse("statement-list")).status_code == 403


def test_the_admin_writes_nothing_that_bypasses_the_credit_rules(manager):
    admin = OwnerFactory(is_staff=True, is_superuser=True)
    deal = DealFactory(client=deferral_client(manager), manager=manager, stage=Stage.WON)
    page = browser(admin)

    assert page.get(reverse("admin:receivables_shipment_changelist")).status_code == 200
    added = page.post(
        reverse("admin:receivables_shipment_add"),
        {"deal": deal.pk, "shipped_on": "2026-11-23", "amount": "1", "cost": "1"},
    )
    assert added.status_code == 403
    assert page.get(reverse("admin:receivables_invoice_add")).status_code == 403
    assert (Shipment.objects.count(), Payment.objects.count()) == (0, 0)
