"""Price lists edited in the UI and the API (create, set prices in place, copy, apply), and
purchases that set the cost price: who may, what is refused with nothing changed."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from tests.factories import PriceListFactory, PriceListItemFactory, ProductFactory
from vrop.accounts.services import api_token_create
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.crm.models import Product
from vrop.pricing.models import PriceList, PriceListItem, Purchase
from vrop.pricing.services import (
    price_list_apply_now,
    price_list_copy,
    price_list_create,
    price_list_item_remove,
    price_list_item_set,
    price_lists_apply_due,
    purchase_record,
)

pytestmark = pytest.mark.django_db

MSK = dt.timezone(dt.timedelta(hours=3))
MONDAY = dt.datetime(2026, 11, 23, 10, 0, tzinfo=MSK)
TODAY = dt.date(2026, 11, 23)


def browser(user):
    client = Client()
    client.force_login(user)
    return client


def api(user):
    _token, key = api_token_create(user=user, name="test")
    return Client(headers={"Authorization": f"Bearer {key}"})


def state():
    """Everything the price list services may write."""
    return (
        list(PriceList.objects.order_by("pk").values_list("name", "effective_from", "applied_at")),
        list(
            PriceListItem.objects.order_by("pk").values_list(
                "price_list_id", "product_id", "list_price", "cost_price"
            )
        ),
        list(Product.objects.order_by("pk").values_list("list_price", "cost_price")),
        list(Purchase.objects.order_by("pk").values_list("product_id", "qty", "price")),
        PriceList.history.count(),
        PriceListItem.history.count(),
    )


@pytest.fixture
def rebar():
    return ProductFactory(name="Арматура ⌀12", list_price=D("56000"), cost_price=D("50000"))


@time_machine.travel(MONDAY, tick=False)
def test_the_head_makes_a_list_sets_prices_in_place_and_applies_it(head, rebar):
    sheet = ProductFactory(name="Лист 3 мм", list_price=D("70000"), cost_price=D("61000"))
    page = browser(head)

    response = page.post(
        reverse("price-list-list"), {"name": "Прайс 23.11", "effective_from": "2026-11-23"}
    )
    price_list = PriceList.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("price-list-detail", args=[price_list.pk])
    url = reverse("price-list-item-set", args=[price_list.pk])
    page.post(url, {"product": rebar.pk, "list_price": "57 500,00", "cost_price": "51000"})
    page.post(url, {"product": sheet.pk, "list_price": "72000", "cost_price": ""})

    row = page.post(
        url,
        {"product": rebar.pk, "list_price": "58000", "cost_price": "51500.5"},
        headers={"HX-Request": "true"},
    )

    assert row.status_code == 200
    assert f'id="pl-item-{rebar.pk}"' in row.content.decode()
    assert list(
        price_list.items.order_by("product__name").values_list(
            "product__name", "list_price", "cost_price"
        )
    ) == [("Арматура ⌀12", D("58000.00"), D("51500.50")), ("Лист 3 мм", D("72000.00"), None)]
    assert page.get(reverse("price-list-detail", args=[price_list.pk])).status_code == 200

    response = page.post(reverse("price-list-apply", args=[price_list.pk]))

    assert response.status_code == 302
    assert list(Product.objects.order_by("name").values_list("list_price", "cost_price")) == [
        (D("58000.00"), D("51500.50")),
        (D("72000.00"), D("61000.00")),  # no cost in the list: the product keeps its own
    ]
    price_list.refresh_from_db()
    assert price_list.applied_at == MONDAY
    # history: the list (created, applied) and every version of its lines, by the head
    assert PriceList.history.filter(history_user=head).count() == 2
    assert PriceListItem.history.filter(history_user=head).count() == 3


@time_machine.travel(MONDAY, tick=False)
@pytest.mark.parametrize(
    ("list_price", "cost_price", "message"),
    [
        ("0", None, "Цена прайса должна быть больше нуля."),
        ("-1", None, "Цена прайса должна быть больше нуля."),
        ("дорого", None, "«дорого» — не число."),
        ("57000", "-0.01", "Себестоимость не может быть отрицательной."),
        (None, None, "Укажите цену прайса или себестоимость."),
    ],
)
def test_a_bad_price_is_refused_in_russian_and_changes_nothing(
    head, rebar, list_price, cost_price, message
):
    price_list = PriceListFactory(effective_from=TODAY)
    PriceListItemFactory(price_list=price_list, product=rebar, list_price=D("56000"))
    before = state()

    with pytest.raises(ValidationError) as error:
        price_list_item_set(
            actor=head,
            price_list=price_list,
            product=rebar,
            list_price=list_price,
            cost_price=cost_price,
        )

    assert error.value.message == message
    assert state() == before


@time_machine.travel(MONDAY, tick=False)
def test_zero_cost_is_allowed(head, rebar):
    price_list = PriceListFactory(effective_from=TODAY)

    item = price_list_item_set(
        actor=head, price_list=price_list, product=rebar, list_price="100", cost_price="0"
    )

    assert (item.list_price, item.cost_price) == (D("100.00"), D("0.00"))


@time_machine.travel(MONDAY, tick=False)
def test_the_htmx_row_shows_the_error_and_nothing_changes(head, rebar):
    price_list = PriceListFactory(effective_from=TODAY)
    PriceListItemFactory(price_list=price_list, product=rebar, list_price=D("56000"))
    before = state()

    row = browser(head).post(
        reverse("price-list-item-set", args=[price_list.pk]),
        {"product": rebar.pk, "list_price": "0", "cost_price": ""},
        headers={"HX-Request": "true"},
    )

    assert row.status_code == 200
    assert "Цена прайса должна быть больше нуля." in row.content.decode()
    assert state() == before


@time_machine.travel(MONDAY, tick=False)
@pytest.mark.parametrize(
    ("name", "effective_from", "message"),
    [
        ("", TODAY, "Назовите прайс."),
        ("Прайс", TODAY - dt.timedelta(days=1), "Прайс не может вступить в силу задним числом."),
        ("Прайс", None, "Укажите дату, с которой действуют цены."),
    ],
)
def test_a_list_needs_a_name_and_a_date_not_in_the_past(head, name, effective_from, message):
    with pytest.raises(ValidationError) as error:
        price_list_create(actor=head, name=name, effective_from=effective_from)

    assert error.value.message == message
    assert PriceList.objects.count() == 0


@time_machine.travel(MONDAY, tick=False)
def test_the_form_shows_the_error_in_russian(head):
    response = browser(head).post(
        reverse("price-list-list"), {"name": "Прайс", "effective_from": "2026-11-22"}
    )

    assert response.status_code == 422
    assert "Прайс не может вступить в силу задним числом." in response.content.decode()
    assert PriceList.objects.count() == 0


@time_machine.travel(MONDAY, tick=False)
def test_an_applied_list_is_kept_and_a_copy_takes_effect_later(head, rebar):
    current = PriceListFactory(effective_from=TODAY)
    PriceListItemFactory(
        price_list=current, product=rebar, list_price=D("57000"), cost_price=D("50500")
    )
    price_list_apply_now(actor=head, price_list=current)
    before = state()

    with pytest.raises(ValidationError) as error:
        price_list_item_set(actor=head, price_list=current, product=rebar, list_price="1")
    assert error.value.code == "applied"
    with pytest.raises(ValidationError):
        price_list_item_remove(actor=head, price_list=current, product=rebar)
    with pytest.raises(ValidationError) as error:
        price_list_copy(actor=head, source=current, name="Копия", effective_from=TODAY)
    assert error.value.message == "Копия должна вступить в силу после 23.11.2026."
    assert state() == before

    copy = price_list_copy(
        actor=head, source=current, name="Прайс 01.12", effective_from=dt.date(2026, 12, 1)
    )
    price_list_item_set(actor=head, price_list=copy, product=rebar, list_price="59000")

    assert list(copy.items.values_list("list_price", "cost_price")) == [
        (D("59000.00"), D("50500.00"))
    ]
    with pytest.raises(ValidationError) as error:
        price_list_apply_now(actor=head, price_list=copy)
    assert error.value.message == "Прайс вступает в силу 01.12.2026 и применится в этот день сам."
    assert Product.objects.get().list_price == D("57000.00")
    assert price_lists_apply_due(today=dt.date(2026, 12, 1)) == 1
    assert Product.objects.get().list_price == D("59000.00")


@time_machine.travel(MONDAY, tick=False)
def test_an_older_list_is_not_applied_over_a_later_one(head, rebar):
    older = PriceListFactory(effective_from=dt.date(2026, 11, 20))
    PriceListItemFactory(price_list=older, product=rebar, list_price=D("55000"))
    newer = PriceListFactory(effective_from=TODAY)
    PriceListItemFactory(price_list=newer, product=rebar, list_price=D("57000"))
    price_list_apply_now(actor=head, price_list=newer)
    before = state()

    with pytest.raises(ValidationError) as error:
        price_list_apply_now(actor=head, price_list=older)

    assert error.value.code == "superseded"
    assert state() == before


@time_machine.travel(MONDAY, tick=False)
def test_supply_sets_only_cost_prices_of_lines_in_the_list(supply, rebar):
    price_list = PriceListFactory(effective_from=TODAY)
    PriceListItemFactory(
        price_list=price_list, product=rebar, list_price=D("56000"), cost_price=D("50000")
    )
    other = ProductFactory()
    before = state()

    for attempt in (
        lambda: price_list_create(actor=supply, name="Прайс", effective_from=TODAY),
        lambda: price_list_item_set(
            actor=supply, price_list=price_list, product=rebar, list_price="1"
        ),
        lambda: price_list_apply_now(actor=supply, price_list=price_list),
        lambda: price_list_item_remove(actor=supply, price_list=price_list, product=rebar),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    with pytest.raises(ValidationError) as error:
        price_list_item_set(actor=supply, price_list=price_list, product=other, cost_price="9")
    assert error.value.message == "Новой строке прайса нужна цена прайса."
    assert state() == before

    item = price_list_item_set(
        actor=supply, price_list=price_list, product=rebar, cost_price="50250"
    )

    assert (item.list_price, item.cost_price) == (D("56000.00"), D("50250.00"))


@time_machine.travel(MONDAY, tick=False)
def test_a_manager_sees_no_price_lists(manager, rebar):
    price_list = PriceListFactory(effective_from=TODAY)
    page = browser(manager)

    assert page.get(reverse("price-list-list")).status_code == 403
    assert page.get(reverse("price-list-detail", args=[price_list.pk])).status_code == 403
    assert page.get(reverse("purchase-list")).status_code == 403
    with pytest.raises(PermissionDenied):
        price_list_item_set(actor=manager, price_list=price_list, product=rebar, cost_price="1")


# --- purchases ------------------------------------------------------------------------------


@time_machine.travel(MONDAY, tick=False)
def test_the_latest_purchase_sets_the_cost_price(supply, rebar):
    purchase_record(
        actor=supply, product=rebar, qty="20", price="51000", received_on=dt.date(2026, 11, 20)
    )
    assert Product.objects.get().cost_price == D("51000.00")

    # an earlier receipt recorded afterwards does not move the cost price back
    purchase_record(
        actor=supply, product=rebar, qty="5", price="49000", received_on=dt.date(2026, 11, 18)
    )
    assert Product.objects.get().cost_price == D("51000.00")

    purchase_record(
        actor=supply,
        product=rebar,
        qty="10.5",
        price="52 300,00",
        received_on=TODAY,
        supplier="ООО «Северсталь»",
    )
    assert Product.objects.get().cost_price == D("52300.00")
    assert Purchase.history.filter(history_user=supply).count() == 3


@time_machine.travel(MONDAY, tick=False)
def test_a_purchase_and_a_price_list_the_later_date_wins_and_the_purchase_on_a_tie(head, rebar):
    later_list = PriceListFactory(effective_from=dt.date(2026, 11, 22))
    PriceListItemFactory(
        price_list=later_list, product=rebar, list_price=D("57000"), cost_price=D("50800")
    )
    price_list_apply_now(actor=head, price_list=later_list)
    assert Product.objects.get().cost_price == D("50800.00")

    # received before the list took effect: the list's cost stays
    purchase_record(
        actor=head, product=rebar, qty="1", price="49900", received_on=dt.date(2026, 11, 21)
    )
    assert Product.objects.get().cost_price == D("50800.00")

    # received today; a list taking effect today is applied after it: the purchase stays
    purchase_record(actor=head, product=rebar, qty="1", price="51200", received_on=TODAY)
    same_day = PriceListFactory(effective_from=TODAY)
    PriceListItemFactory(
        price_list=same_day, product=rebar, list_price=D("58000"), cost_price=D("50000")
    )
    price_list_apply_now(actor=head, price_list=same_day)

    assert list(Product.objects.values_list("list_price", "cost_price")) == [
        (D("58000.00"), D("51200.00"))
    ]


@time_machine.travel(MONDAY, tick=False)
@pytest.mark.parametrize(
    ("qty", "price", "received_on", "message"),
    [
        ("0", "51000", TODAY, "Количество должно быть больше нуля."),
        ("1", "0", TODAY, "Цена прайса должна быть больше нуля."),
        ("1", "51000", TODAY + dt.timedelta(days=1), "Товар не может прийти в будущем."),
        ("1", "51000", None, "Укажите день, когда пришёл товар."),
    ],
)
def test_a_bad_purchase_is_refused_and_changes_nothing(
    supply, rebar, qty, price, received_on, message
):
    before = state()

    with pytest.raises(ValidationError) as error:
        purchase_record(actor=supply, product=rebar, qty=qty, price=price, received_on=received_on)

    assert error.value.message == message
    assert state() == before


def test_a_manager_records_no_purchases(manager, rebar):
    with pytest.raises(PermissionDenied):
        purchase_record(actor=manager, product=rebar, qty="1", price="1", received_on=TODAY)
    assert Purchase.objects.count() == 0


@time_machine.travel(MONDAY, tick=False)
def test_the_purchases_page_records_one(supply, rebar):
    page = browser(supply)

    response = page.post(
        reverse("purchase-list"),
        {"product": rebar.pk, "qty": "3", "price": "50500", "received_on": "2026-11-23"},
    )

    assert response.status_code == 302
    assert Product.objects.get().cost_price == D("50500.00")
    bad = page.post(
        reverse("purchase-list"),
        {"product": rebar.pk, "qty": "3", "price": "50500", "received_on": "2026-11-24"},
    )
    assert bad.status_code == 422
    assert "Товар не может прийти в будущем." in bad.content.decode()
    assert Purchase.objects.count() == 1


# --- API ------------------------------------------------------------------------------------


@time_machine.travel(MONDAY, tick=False)
def test_the_api_creates_sets_copies_and_applies(owner, rebar):
    client = api(owner)

    created = client.post(
        "/api/v1/price-lists",
        {"name": "Прайс API", "effective_from": "2026-11-23"},
        content_type="application/json",
    )
    assert created.status_code == 201
    list_id = created.json()["id"]
    line = client.put(
        f"/api/v1/price-lists/{list_id}/items/{rebar.pk}",
        {"list_price": "57000", "cost_price": "50100"},
        content_type="application/json",
    )
    assert line.status_code == 200
    assert line.json() == {
        "product_id": rebar.pk,
        "product": "Арматура ⌀12",
        "list_price": "57000.00",
        "cost_price": "50100.00",
    }
    applied = client.post(f"/api/v1/price-lists/{list_id}/apply")
    assert applied.status_code == 200
    assert applied.json()["products_changed"] == 1
    assert list(Product.objects.values_list("list_price", "cost_price")) == [
        (D("57000.00"), D("50100.00"))
    ]
    copy = client.post(
        f"/api/v1/price-lists/{list_id}/copy",
        {"name": "Прайс 01.12", "effective_from": "2026-12-01"},
        content_type="application/json",
    )
    assert copy.status_code == 201
    assert [(x["list_price"], x["cost_price"]) for x in copy.json()["lines"]] == [
        ("57000.00", "50100.00")
    ]
    listed = client.get("/api/v1/price-lists").json()
    assert [(x["name"], x["items"]) for x in listed["items"]] == [
        ("Прайс 01.12", 1),
        ("Прайс API", 1),
    ]


@time_machine.travel(MONDAY, tick=False)
def test_the_api_refuses_in_russian_and_changes_nothing(owner, supply, rebar):
    price_list = PriceListFactory(effective_from=TODAY)
    PriceListItemFactory(price_list=price_list, product=rebar, list_price=D("56000"))
    before = state()

    zero = api(owner).put(
        f"/api/v1/price-lists/{price_list.pk}/items/{rebar.pk}",
        {"list_price": "0"},
        content_type="application/json",
    )
    past = api(owner).post(
        "/api/v1/price-lists",
        {"name": "Прайс", "effective_from": "2026-11-01"},
        content_type="application/json",
    )
    by_supply = api(supply).put(
        f"/api/v1/price-lists/{price_list.pk}/items/{rebar.pk}",
        {"list_price": "60000"},
        content_type="application/json",
    )
    future = api(supply).post(
        "/api/v1/purchases",
        {"product_id": rebar.pk, "qty": "1", "price": "1", "received_on": "2026-11-30"},
        content_type="application/json",
    )

    assert (zero.status_code, past.status_code, by_supply.status_code, future.status_code) == (
        422,
        422,
        403,
        422,
    )
    assert zero.json()["detail"] == "Цена прайса должна быть больше нуля."
    assert past.json()["detail"] == "Прайс не может вступить в силу задним числом."
    assert future.json()["detail"] == "Товар не может прийти в будущем."
    assert state() == before
