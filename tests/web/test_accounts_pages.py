"""The profile page's API tokens: create (the key shown once), list, revoke; and the
client and product forms."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from tests import factories
from vrop.accounts.models import ApiToken
from vrop.accounts.services import api_token_authenticate
from vrop.crm.models import Client, Product

pytestmark = pytest.mark.django_db


def test_create_a_token_shows_the_key_once_and_it_works(client, manager):
    client.force_login(manager)

    response = client.post(reverse("token-create"), {"name": "Обмен с 1С"}, follow=True)

    key = response.context["new_key"]["key"]
    token = ApiToken.objects.get(user=manager)
    assert token.name == "Обмен с 1С"
    assert key in response.content.decode()
    assert api_token_authenticate(key) == manager
    assert key not in client.get(reverse("profile")).content.decode()
    assert token.key_hash not in response.content.decode()


def test_a_token_needs_a_name(client, manager):
    client.force_login(manager)

    response = client.post(reverse("token-create"), {"name": "  "})

    assert response.status_code == 422
    assert "Дайте токену название." in response.content.decode()
    assert ApiToken.objects.count() == 0


def test_revoke_my_token(client, manager):
    client.force_login(manager)
    client.post(reverse("token-create"), {"name": "Скрипт"})
    token = ApiToken.objects.get()

    response = client.post(reverse("token-revoke", args=[token.pk]), follow=True)

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Токен «Скрипт» отозван." in response.content.decode()


def test_cannot_revoke_someone_elses_token(client, manager, other_manager):
    client.force_login(other_manager)
    client.post(reverse("token-create"), {"name": "Чужой"})
    token = ApiToken.objects.get()
    client.force_login(manager)

    response = client.post(reverse("token-revoke", args=[token.pk]))

    token.refresh_from_db()
    assert response.status_code == 404
    assert token.revoked_at is None


def test_a_manager_creates_own_client_and_a_bad_inn_is_refused(client, manager):
    client.force_login(manager)

    refused = client.post(reverse("client-create"), {"name": "ООО «Ромашка»", "inn": "1234567890"})
    assert refused.status_code == 422
    assert "ИНН «1234567890» неверен" in refused.content.decode()
    assert Client.objects.count() == 0

    created = client.post(
        reverse("client-create"), {"name": "ООО «Ромашка»", "inn": "7707083893", "city": "Тула"}
    )
    customer = Client.objects.get()
    assert created["Location"] == reverse("client-detail", args=[customer.pk])
    assert customer.manager == manager
    assert customer.inn == "7707083893"


def test_a_manager_cannot_set_credit_terms(client, manager):
    customer = factories.ClientFactory(manager=manager, payment_terms_days=0)
    client.force_login(manager)

    form = client.get(reverse("client-edit", args=[customer.pk])).content.decode()
    client.post(
        reverse("client-edit", args=[customer.pk]),
        {"name": "Новое имя", "payment_terms_days": "30", "credit_limit": "1000000"},
    )

    customer.refresh_from_db()
    assert 'name="credit_limit"' not in form
    assert customer.name == "Новое имя"
    assert customer.payment_terms_days == 0
    assert customer.credit_limit == Decimal("0")


def test_the_head_sets_credit_terms(client, head, manager):
    customer = factories.ClientFactory(manager=manager)
    client.force_login(head)

    client.post(
        reverse("client-edit", args=[customer.pk]),
        {
            "name": customer.name,
            "inn": customer.inn,
            "manager": manager.pk,
            "payment_terms_days": "30",
            "credit_limit": "1 000 000,00",
        },
    )

    customer.refresh_from_db()
    assert customer.payment_terms_days == 30
    assert customer.credit_limit == Decimal("1000000.00")
    assert customer.manager == manager


def test_supply_edits_a_price_and_a_manager_may_not(client, supply, manager):
    product = factories.ProductFactory(list_price=Decimal("56000.00"))
    data = {
        "name": product.name,
        "category": "rebar",
        "unit": "t",
        "cost_price": "50000",
        "list_price": "58 500,50",
        "stock_qty": "12,5",
        "is_active": "on",
    }
    client.force_login(manager)
    assert client.post(reverse("product-edit", args=[product.pk]), data).status_code == 403
    product.refresh_from_db()
    assert product.list_price == Decimal("56000.00")

    client.force_login(supply)
    response = client.post(reverse("product-edit", args=[product.pk]), data)

    product.refresh_from_db()
    assert response["Location"] == reverse("product-list")
    assert product.list_price == Decimal("58500.50")
    assert product.stock_qty == Decimal("12.500")
    assert Product.objects.count() == 1


def test_product_list_shows_markup(client, manager):
    factories.ProductFactory(
        name="Швеллер 10П", cost_price=Decimal("50000.00"), list_price=Decimal("56000.00")
    )
    client.force_login(manager)

    html = client.get(reverse("product-list")).content.decode()

    assert "Швеллер 10П" in html
    assert "12,0\u00a0%" in html  # (56 000 − 50 000) / 50 000
    assert "100\u00a0т" in html
