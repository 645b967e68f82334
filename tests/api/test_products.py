"""Products over the API: everyone reads, supply and the head change."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import ProductFactory
from vrop.crm.models import Product

pytestmark = pytest.mark.django_db


def test_products_are_listed_by_category_and_name_for_any_role(api, supply, manager):
    ProductFactory(name="Лист 2 мм", category="sheet")
    ProductFactory(name="Арматура 12", category="rebar", list_price=Decimal("56000.50"))
    ProductFactory(name="Арматура 10", category="rebar")

    for user in (supply, manager):
        body = api(user).get("/products").json()
        assert [p["name"] for p in body["items"]] == ["Арматура 10", "Арматура 12", "Лист 2 мм"]
    assert api(manager).get("/products", category="sheet").json()["items"][0]["name"] == "Лист 2 мм"
    assert api(manager).get("/products", q="12").json()["items"][0]["list_price"] == "56000.50"


def test_supply_creates_a_product_with_prices_as_strings(api, supply):
    response = api(supply).post(
        "/products",
        {
            "name": "Труба 57×3,5",
            "category": "pipe",
            "unit": "m",
            "cost_price": 410.5,
            "list_price": "455.00",
            "stock_qty": "1200.250",
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body["unit"] == "m"
    assert body["cost_price"] == "410.50"
    assert body["list_price"] == "455.00"
    assert body["stock_qty"] == "1200.250"
    assert Product.objects.get().list_price == Decimal("455.00")


def test_a_manager_may_not_create_or_change_products(api, manager):
    product = ProductFactory(list_price=Decimal("56000"))

    created = api(manager).post("/products", {"name": "Уголок 50"})
    changed = api(manager).patch(f"/products/{product.pk}", {"list_price": "1"})

    assert created.status_code == changed.status_code == 403
    assert Product.objects.count() == 1
    product.refresh_from_db()
    assert product.list_price == Decimal("56000.00")


def test_patch_a_price_and_stock(api, head):
    product = ProductFactory(list_price=Decimal("56000"), stock_qty=Decimal("100"))

    response = api(head).patch(
        f"/products/{product.pk}", {"list_price": "57500", "is_active": False}
    )

    assert response.status_code == 200
    product.refresh_from_db()
    assert (product.list_price, product.stock_qty, product.is_active) == (
        Decimal("57500.00"),
        Decimal("100.000"),
        False,
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "unit": "bucket"}, "unit"),
        ({"name": "x", "list_price": "-1"}, "list_price"),
        ({"name": "x", "list_price": "1000000000"}, "list_price"),
        ({"name": "x", "cost_price": "1.001"}, "cost_price"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_product_values_are_422(api, head, payload, field):
    response = api(head).post("/products", payload)

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert Product.objects.count() == 0


def test_a_missing_product_is_404(api, head):
    response = api(head).get("/products/999999")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
