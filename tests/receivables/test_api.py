"""The receivables API, and the stop rules through the API's deal endpoints."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.conftest import ApiClient
from tests.factories import ClientFactory, DealFactory, InvoiceFactory, OverdueActionFactory
from tests.receivables.helpers import deferral_client, quote_deal
from vrop.crm.choices import Stage
from vrop.crm.models import Client, Deal, StageChange
from vrop.receivables.models import CreditChange, CreditOverride, OverdueAction, Payment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def overdue(client, *, due_on, amount, number):
    deal = DealFactory(client=client, manager=client.manager, stage=Stage.WON)
    return InvoiceFactory(
        deal=deal,
        client=client,
        number=number,
        issued_on=due_on - dt.timedelta(days=10),
        due_on=due_on,
        amount=D(amount),
    )


def test_receivables_with_ageing_and_overdue_actions(head, manager, other_manager):
    mine = ClientFactory(name="Альфа", manager=manager)
    theirs = ClientFactory(name="Бета", manager=other_manager)
    old = overdue(mine, due_on=dt.date(2026, 9, 1), amount="700.00", number="СЧ-1")
    overdue(theirs, due_on=dt.date(2026, 11, 20), amount="300.00", number="СЧ-2")
    OverdueActionFactory(
        invoice=old, promised_on=dt.date(2026, 11, 27), promise_status="pending", note="Обещал"
    )

    response = ApiClient(head).get("/receivables", group_by="client")

    assert response.status_code == 200
    body = response.json()
    assert body["ageing"]["buckets"] == {
        "d1_7": "300.00",
        "d8_30": "0.00",
        "d31_60": "0.00",
        "over_60": "700.00",
    }
    assert (body["ageing"]["overdue"], body["ageing"]["invoices_overdue"]) == ("1000.00", 2)
    assert [(row["name"], row["overdue"]) for row in body["by_client"]] == [
        ("Альфа", "700.00"),
        ("Бета", "300.00"),
    ]
    first = body["overdue"][0]
    assert (first["number"], first["days_overdue"], first["bucket"]) == ("СЧ-1", 83, "60+")
    assert (first["last_action"]["promised_on"], first["last_action"]["note"]) == (
        "2026-11-27",
        "Обещал",
    )
    assert body["overdue"][1]["last_action"] is None

    own = ApiClient(manager).get("/receivables").json()
    assert [row["number"] for row in own["overdue"]] == ["СЧ-1"]


def test_supply_does_not_see_receivables(supply):
    assert ApiClient(supply).get("/receivables").status_code == 403


def test_days_to_payment_and_dso(finance):
    client = ClientFactory()
    invoice = overdue(client, due_on=dt.date(2026, 11, 20), amount="1000.00", number="1")
    api = ApiClient(finance)
    from vrop.receivables.services import payment_record

    payment_record(actor=finance, invoice=invoice, paid_on=dt.date(2026, 11, 16), amount=D("1000"))

    days = api.get("/receivables/days-to-payment", **{"from": "2026-11-01", "to": "2026-11-30"})
    dso = api.get("/receivables/dso", **{"from": "2026-11-01", "to": "2026-11-30"})

    assert days.json() == {
        "date_from": "2026-11-01",
        "date_to": "2026-11-30",
        "count": 1,
        "median": "6",
        "mean": "6.0",
    }
    assert dso.json()["dso"] == "0.0"
    backwards = api.get("/receivables/dso", **{"from": "2026-11-30", "to": "2026-11-01"})
    assert backwards.status_code == 422


def test_a_deal_over_the_limit_is_refused_through_the_api_stage_endpoint(manager):
    client = deferral_client(manager, limit="559999.99")
    deal = quote_deal(manager, client)

    response = ApiClient(manager).post(f"/deals/{deal.pk}/stage", {"stage": "won"})

    assert response.status_code == 409
    assert response.json()["code"] == "credit_over_limit"
    assert Deal.objects.get(pk=deal.pk).stage == Stage.LEAD
    assert StageChange.objects.filter(deal=deal).count() == 1


def test_override_requested_and_decided_through_the_api(manager, head, owner):
    client = deferral_client(manager, limit="1000.00")
    deal = quote_deal(manager, client)

    requested = ApiClient(manager).post(
        f"/deals/{deal.pk}/credit-override", {"reason": "Оплатит по факту отгрузки"}
    )
    assert requested.status_code == 201
    override_id = requested.json()["id"]
    assert requested.json()["violations"][0]["code"] == "credit_over_limit"

    refused = ApiClient(head).post(
        f"/receivables/overrides/{override_id}/decide", {"grant": True, "reason": "Да"}
    )
    assert refused.status_code == 403
    assert CreditOverride.objects.get(pk=override_id).status == "pending"

    granted = ApiClient(owner).post(
        f"/receivables/overrides/{override_id}/decide", {"grant": True, "reason": "Беру на себя"}
    )
    assert granted.status_code == 200
    assert (granted.json()["status"], granted.json()["channel"]) == ("granted", "api")
    won = ApiClient(manager).post(f"/deals/{deal.pk}/stage", {"stage": "won"})
    assert won.status_code == 200


def test_client_credit_read_and_set(finance, manager):
    client = ClientFactory(manager=manager)
    finance_api = ApiClient(finance)

    updated = finance_api.put(
        f"/clients/{client.pk}/credit",
        {
            "payment_terms_days": 14,
            "credit_limit": "500000.00",
            "credit_status": "prepayment_only",
            "reason": "Проверка службы безопасности",
        },
    )

    assert updated.status_code == 200
    body = updated.json()
    assert (body["credit_limit"], body["credit_status"], body["set_by"]) == (
        "500000.00",
        "prepayment_only",
        str(finance),
    )
    assert body["history"][0]["reason"] == "Проверка службы безопасности"
    assert ApiClient(manager).get(f"/clients/{client.pk}/credit").json()["exposure"] == "0.00"

    refused = ApiClient(manager).put(f"/clients/{client.pk}/credit", {"credit_limit": "1"})
    assert refused.status_code == 403
    assert Client.objects.get(pk=client.pk).credit_limit == D("500000.00")
    assert CreditChange.objects.count() == 1


def test_an_action_on_a_debt(finance, manager):
    invoice = overdue(
        ClientFactory(manager=manager), due_on=dt.date(2026, 11, 1), amount="100.00", number="7"
    )
    api = ApiClient(finance)

    created = api.post(
        f"/receivables/invoices/{invoice.pk}/actions",
        {
            "kind": "call",
            "note": "Звонил",
            "promised_on": "2026-11-30",
            "next_action": "Сверка",
            "next_action_on": "2026-11-30",
        },
    )
    bad = api.post(
        f"/receivables/invoices/{invoice.pk}/actions",
        {"kind": "call", "promised_on": "2026-11-01"},
    )

    assert created.status_code == 201
    assert (created.json()["promise_status"], created.json()["promised_amount"]) == (
        "pending",
        "100.00",
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "promised_on")
    assert OverdueAction.objects.count() == 1


def test_statement_upload_and_confirmation(finance, manager):
    client = ClientFactory(manager=manager, inn="7736523556")
    invoice = overdue(client, due_on=dt.date(2026, 11, 30), amount="2340.00", number="490")
    content = (
        "Дата;Сумма;ИНН;Назначение платежа\n"
        "20.11.2026;2340,00;7736523556;Оплата счета 490\n"
        "21.11.2026;10,00;;Непонятно\n"
    ).encode()
    api = ApiClient(finance)

    loaded = api.client.post(
        "/api/v1/receivables/statements",
        {"file": SimpleUploadedFile("bank.csv", content)},
        headers=api.headers,
    )

    assert loaded.status_code == 201
    assert {k: loaded.json()[k] for k in ("rows_total", "rows_applied", "rows_unmatched")} == {
        "rows_total": 2,
        "rows_applied": 1,
        "rows_unmatched": 1,
    }
    rows = api.get(f"/receivables/statements/{loaded.json()['id']}/rows", status="unmatched")
    row_id = rows.json()["items"][0]["id"]
    confirmed = api.post(f"/receivables/statement-rows/{row_id}/confirm", {"client_id": client.pk})
    assert confirmed.json()["status"] == "applied"
    invoice.refresh_from_db()
    assert invoice.paid_on == dt.date(2026, 11, 20)
    assert Payment.objects.get(invoice__isnull=True).amount == D("10.00")
    assert (
        ApiClient(manager).post(f"/receivables/statement-rows/{row_id}/ignore", {}).status_code
        == 403
    )
