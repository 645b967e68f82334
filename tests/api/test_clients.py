"""Clients over the API: visibility, validation as 422 with the field, delete rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import (
    ClientFactory,
    ContactFactory,
    DealFactory,
    PaymentFactory,
    TaskFactory,
)
from vrop.core.policy import company_settings
from vrop.core.validators import make_inn
from vrop.crm.models import Client, Contact, Task

pytestmark = pytest.mark.django_db


def test_manager_lists_own_clients_by_name_with_money_as_strings(api, manager, other_manager):
    ClientFactory(manager=manager, name="Бета", credit_limit=Decimal("1500000.50"))
    ClientFactory(manager=manager, name="Альфа")
    ClientFactory(manager=other_manager, name="Чужой")

    response = api(manager).get("/clients")

    assert response.status_code == 200
    body = response.json()
    assert [item["name"] for item in body["items"]] == ["Альфа", "Бета"]
    assert body["items"][1]["credit_limit"] == "1500000.50"
    assert body["next"] is None


def test_head_sees_every_client_and_filters_by_manager_and_text(api, head, manager, other_manager):
    mine = ClientFactory(manager=manager, name="ООО «Сталь»", segment="retail")
    ClientFactory(manager=other_manager, name="ООО «Прокат»", segment="retail")

    everyone = api(head).get("/clients").json()["items"]
    by_manager = api(head).get("/clients", manager=manager.pk).json()["items"]
    by_text = api(head).get("/clients", q="Сталь").json()["items"]
    by_inn = api(head).get("/clients", q=mine.inn).json()["items"]

    assert len(everyone) == 2
    assert [c["id"] for c in by_manager] == [mine.pk]
    assert [c["id"] for c in by_text] == [mine.pk]
    assert [c["id"] for c in by_inn] == [mine.pk]


def test_pages_follow_next_without_counting(api, head, django_assert_num_queries):
    for index in range(5):
        ClientFactory(name=f"Клиент {index}")
    company_settings()
    client = api(head)
    client.get("/me")  # the token's first use is recorded once

    with django_assert_num_queries(2) as captured:  # the token, then one page (limit + 1 rows)
        first = client.get("/clients", limit=2)
    second = client.client.get(first.json()["next"], headers=client.headers)
    third = client.client.get(second.json()["next"], headers=client.headers)
    jumped = client.get("/clients", limit=2, offset=3)

    assert not any("COUNT(" in query["sql"].upper() for query in captured.captured_queries)
    assert [c["name"] for c in first.json()["items"]] == ["Клиент 0", "Клиент 1"]
    assert first.json()["next"].startswith("/api/v1/clients?limit=2&after=")
    assert [c["name"] for c in second.json()["items"]] == ["Клиент 2", "Клиент 3"]
    assert [c["name"] for c in third.json()["items"]] == ["Клиент 4"]
    assert third.json()["next"] is None
    assert [c["name"] for c in jumped.json()["items"]] == ["Клиент 3", "Клиент 4"]
    assert jumped.json()["next"] is None


@pytest.mark.parametrize("cursor", ["abc", "WzEsMiwzXQ", "WyJ4IiwgOTk5OTk5OTk5OTk5OTk5OTk5OTk5XQ"])
def test_a_cursor_that_is_not_ours_is_422(api, head, cursor):
    ClientFactory()

    response = api(head).get("/clients", after=cursor)

    assert response.status_code == 422
    assert response.json()["field"] == "after"


def test_manager_creates_a_client_of_their_own_with_contacts(api, manager):
    inn = make_inn("540100001")

    response = api(manager).post(
        "/clients",
        {
            "name": "  ООО «Металлобаза»  ",
            "inn": inn,
            "contacts": [{"name": "Иван Петров", "phone": "+79001234567"}],
        },
    )

    assert response.status_code == 201
    body = response.json()
    client = Client.objects.get()
    assert body["id"] == client.pk
    assert body["name"] == "ООО «Металлобаза»"
    assert body["manager_id"] == manager.pk
    assert (body["credit_limit"], body["payment_terms_days"]) == ("0.00", 0)
    assert [c["name"] for c in body["contacts"]] == ["Иван Петров"]
    assert client.inn == inn
    assert list(client.contacts.values_list("phone", flat=True)) == ["+79001234567"]


def test_a_bad_inn_is_422_with_the_field_and_nothing_is_written(api, manager):
    response = api(manager).post(
        "/clients", {"name": "ООО «Ошибка»", "inn": "1234567890"}, language="en"
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": "INN “1234567890” is not valid: it must have 10 or 12 digits with a correct "
        "checksum.",
        "code": "invalid",
        "field": "inn",
    }
    assert Client.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "a\x00b"}, "name"),
        ({"name": "x" * 301}, "name"),
        ({"name": "ok", "payment_terms_days": 400}, "payment_terms_days"),
        ({"name": "ok", "credit_limit": "12.345"}, "credit_limit"),
        ({"name": "ok", "credit_limit": "NaN"}, "credit_limit"),
        ({"name": "ok", "email": "not-an-email"}, "email"),
        ({"name": "ok", "manager_id": 2**63}, "manager_id"),
        ({"name": "ok", "contacts": [{"name": "x", "email": "@"}]}, "contacts.0.email"),
    ],
)
def test_values_a_database_would_refuse_are_422_not_500(api, owner, payload, field):
    response = api(owner).post("/clients", payload)

    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert response.json()["field"] == field
    assert Client.objects.count() == 0


def test_the_head_sets_credit_terms(api, head):
    response = api(head).post(
        "/clients", {"name": "ООО «Отсрочка»", "payment_terms_days": 14, "credit_limit": "250000"}
    )

    assert response.status_code == 201
    assert (response.json()["payment_terms_days"], response.json()["credit_limit"]) == (
        14,
        "250000.00",
    )


def test_a_manager_may_not_set_credit_terms_as_in_the_client_form(api, manager):
    client = ClientFactory(manager=manager, credit_limit=Decimal("0"))

    created = api(manager).post("/clients", {"name": "ООО «Отсрочка»", "credit_limit": "1"})
    changed = api(manager).patch(f"/clients/{client.pk}", {"payment_terms_days": 30})

    assert created.status_code == changed.status_code == 403
    assert Client.objects.count() == 1
    client.refresh_from_db()
    assert client.payment_terms_days == 0


def test_a_manager_may_not_give_a_client_to_someone_else(api, manager, other_manager):
    client = ClientFactory(manager=manager)

    created = api(manager).post("/clients", {"name": "ООО «Чужое»", "manager_id": other_manager.pk})
    changed = api(manager).patch(f"/clients/{client.pk}", {"manager_id": None})
    kept = api(manager).patch(f"/clients/{client.pk}", {"manager_id": manager.pk})

    assert (created.status_code, changed.status_code, kept.status_code) == (403, 403, 200)
    assert Client.objects.count() == 1
    client.refresh_from_db()
    assert client.manager == manager


def test_the_head_reassigns_a_client(api, head, manager, other_manager):
    client = ClientFactory(manager=manager)

    response = api(head).patch(f"/clients/{client.pk}", {"manager_id": other_manager.pk})

    assert response.status_code == 200
    client.refresh_from_db()
    assert client.manager == other_manager


def test_finance_may_not_create_clients(api, finance):
    response = api(finance).post("/clients", {"name": "ООО «Касса»"})

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert Client.objects.count() == 0


def test_someone_elses_client_answers_like_a_missing_one(api, manager, other_manager):
    theirs = ClientFactory(manager=other_manager)

    forbidden = api(manager).get(f"/clients/{theirs.pk}")
    missing = api(manager).get(f"/clients/{theirs.pk + 1000}")

    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.json() == missing.json()


def test_patch_changes_only_the_fields_sent(api, manager):
    client = ClientFactory(manager=manager, name="Старое", city="Тула", segment="retail")

    response = api(manager).patch(f"/clients/{client.pk}", {"name": "Новое", "city": ""})

    assert response.status_code == 200
    client.refresh_from_db()
    assert (client.name, client.city, client.segment) == ("Новое", "", "retail")
    assert response.json()["name"] == "Новое"


def test_patch_with_null_for_a_text_field_is_422_and_changes_nothing(api, manager):
    client = ClientFactory(manager=manager, email="a@b.ru")

    response = api(manager).patch(f"/clients/{client.pk}", {"email": None, "name": "Другое"})

    assert response.status_code == 422
    assert response.json()["field"] == "email"
    client.refresh_from_db()
    assert client.email == "a@b.ru"
    assert client.name != "Другое"


def test_delete_a_client_without_deals_takes_its_contacts_and_tasks(api, manager):
    client = ClientFactory(manager=manager)
    ContactFactory(client=client)
    TaskFactory(deal=None, client=client, manager=manager)

    response = api(manager).delete(f"/clients/{client.pk}")

    assert response.status_code == 204
    assert Client.objects.count() == 0
    assert Contact.objects.count() == 0
    assert Task.objects.count() == 0


def test_a_client_with_deals_is_not_deleted(api, head):
    deal = DealFactory()

    response = api(head).delete(f"/clients/{deal.client_id}", language="en")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The client has deals and cannot be deleted.",
        "code": "client_has_deals",
    }
    assert Client.objects.filter(pk=deal.client_id).exists()


def test_a_client_that_documents_refer_to_is_not_deleted(api, head):
    client = ClientFactory()
    PaymentFactory(client=client)

    response = api(head).delete(f"/clients/{client.pk}", language="en")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Documents refer to the client, so it cannot be deleted.",
        "code": "client_in_use",
    }
    assert Client.objects.filter(pk=client.pk).exists()


def test_a_manager_cannot_delete_someone_elses_client(api, manager, other_manager):
    theirs = ClientFactory(manager=other_manager)

    response = api(manager).delete(f"/clients/{theirs.pk}")

    assert response.status_code == 404
    assert Client.objects.filter(pk=theirs.pk).exists()


def test_refusals_speak_russian_by_default(api, head):
    deal = DealFactory()

    response = api(head).delete(f"/clients/{deal.client_id}")

    assert response.status_code == 409
    assert response.json()["detail"] == "У клиента есть сделки, его нельзя удалить."
