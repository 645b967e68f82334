"""Every page renders for the roles that may see it and refuses the others; objects the
viewer may not see answer 404 like missing ones; lists stay within a query budget."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import resolve, reverse

from tests import factories
from vrop.web.views import START_PAGES

pytestmark = pytest.mark.django_db

ROLES = ["owner", "head", "manager", "finance", "supply"]


@pytest.fixture
def people(owner, head, manager, finance, supply):
    return {"owner": owner, "head": head, "manager": manager, "finance": finance, "supply": supply}


@pytest.fixture
def deal(manager):
    client = factories.ClientFactory(manager=manager)
    deal = factories.DealFactory(client=client, manager=manager, title="Арматура на склад")
    factories.DealLineFactory(deal=deal)
    factories.TaskFactory(deal=deal)
    return deal


# role -> expected status, per page
LIST_PAGES = {
    "deal-list": {"owner": 200, "head": 200, "manager": 200, "finance": 200, "supply": 200},
    "client-list": {"owner": 200, "head": 200, "manager": 200, "finance": 200, "supply": 403},
    "product-list": {"owner": 200, "head": 200, "manager": 200, "finance": 200, "supply": 200},
    "deal-create": {"owner": 200, "head": 200, "manager": 200, "finance": 403, "supply": 403},
    "client-create": {"owner": 200, "head": 200, "manager": 200, "finance": 403, "supply": 403},
    "product-create": {"owner": 200, "head": 200, "manager": 403, "finance": 403, "supply": 200},
    "profile": {"owner": 200, "head": 200, "manager": 200, "finance": 200, "supply": 200},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(LIST_PAGES))
def test_pages_by_role(client, people, name, role):
    client.force_login(people[role])

    response = client.get(reverse(name))

    assert response.status_code == LIST_PAGES[name][role]


@pytest.mark.parametrize("name", [*sorted(LIST_PAGES), "home"])
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


DEAL_PAGES = {
    "deal-detail": {"owner": 200, "head": 200, "manager": 200, "finance": 200, "supply": 200},
    "deal-edit": {"owner": 200, "head": 200, "manager": 200, "finance": 403, "supply": 403},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(DEAL_PAGES))
def test_deal_pages_by_role(client, people, deal, name, role):
    client.force_login(people[role])

    response = client.get(reverse(name, args=[deal.pk]))

    assert response.status_code == DEAL_PAGES[name][role]


@pytest.mark.parametrize("name", ["deal-detail", "deal-edit"])
def test_another_managers_deal_is_not_found_like_a_missing_one(client, deal, other_manager, name):
    client.force_login(other_manager)

    foreign = client.get(reverse(name, args=[deal.pk]))
    missing = client.get(reverse(name, args=[deal.pk + 1000]))

    assert foreign.status_code == 404
    assert missing.status_code == 404


CLIENT_PAGES = {
    "client-detail": {"owner": 200, "head": 200, "manager": 200, "finance": 200, "supply": 404},
    "client-edit": {"owner": 200, "head": 200, "manager": 200, "finance": 403, "supply": 403},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(CLIENT_PAGES))
def test_client_pages_by_role(client, people, deal, name, role):
    client.force_login(people[role])

    response = client.get(reverse(name, args=[deal.client_id]))

    assert response.status_code == CLIENT_PAGES[name][role]


def test_other_managers_client_is_not_found(client, deal, other_manager):
    client.force_login(other_manager)

    assert client.get(reverse("client-detail", args=[deal.client_id])).status_code == 404
    assert client.get(reverse("client-edit", args=[deal.client_id])).status_code == 404


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 200), ("head", 200), ("supply", 200), ("manager", 403), ("finance", 403)],
)
def test_product_edit_by_role(client, people, role, status):
    product = factories.ProductFactory()
    client.force_login(people[role])

    assert client.get(reverse("product-edit", args=[product.pk])).status_code == status


def test_deal_page_shows_lines_with_gross_profit_margin_and_history(client, manager):
    product = factories.ProductFactory(
        name="Лист г/к 10 мм", cost_price=Decimal("50000.00"), list_price=Decimal("60000.00")
    )
    deal = factories.DealFactory(
        manager=manager,
        client=factories.ClientFactory(manager=manager),
        amount="114000.00",
        cost_amount="100000.00",
        list_amount="120000.00",
        volume="2",
        flags={"no_next_step": "Нет следующего шага (импорт)"},
    )
    factories.DealLineFactory(deal=deal, product=product, qty="2", price="57000.00")
    factories.StageChangeFactory(deal=deal, stage="contact", changed_by=manager)
    factories.TaskFactory(deal=deal, title="Отправить КП")
    factories.ActivityFactory(deal=deal, subject="Обсудили объём")
    invoice = factories.InvoiceFactory(deal=deal, number="СЧ-777", amount="114000.00")
    factories.PaymentFactory(invoice=invoice, amount="50000.00")
    client.force_login(manager)

    html = client.get(reverse("deal-detail", args=[deal.pk])).content.decode()

    assert "Лист г/к 10\u00a0мм" in html or "Лист г/к 10 мм" in html
    assert "2\u00a0т" in html  # quantity with its unit
    assert "114\u00a0000,00\u00a0₽" in html  # amount
    assert "14\u00a0000,00\u00a0₽" in html  # gross profit 2 × (57 000 − 50 000)
    assert "12,3\u00a0%" in html  # margin 14 000 / 114 000
    assert "5,0\u00a0%" in html  # discount (60 000 − 57 000) / 60 000
    assert "Отправить КП" in html
    assert "Обсудили объём" in html
    assert "СЧ-777" in html
    assert "50\u00a0000,00\u00a0₽" in html
    assert "Нет следующего шага (импорт)" in html
    assert "Валовая прибыль" in html
    assert "История этапов" in html


def test_deal_page_shows_only_the_invoices_the_viewer_may_see(client, manager, other_manager):
    # The deal is visible to the client's manager, its invoice only to the deal's manager.
    deal = factories.DealFactory(
        manager=other_manager, client=factories.ClientFactory(manager=manager)
    )
    factories.InvoiceFactory(deal=deal, number="СЧ-001")
    client.force_login(manager)
    hidden = client.get(reverse("deal-detail", args=[deal.pk])).content.decode()
    client.force_login(other_manager)
    shown = client.get(reverse("deal-detail", args=[deal.pk])).content.decode()

    assert "СЧ-001" not in hidden
    assert "СЧ-001" in shown


def test_client_page_shows_requisites_contacts_deals_and_invoices(client, manager):
    customer = factories.ClientFactory(
        manager=manager, name="ООО «Сталь-Маркет»", payment_terms_days=14, credit_limit="500000"
    )
    factories.ContactFactory(client=customer, name="Пётр Иванов")
    deal = factories.DealFactory(client=customer, manager=manager, title="Уголок 50×5")
    factories.InvoiceFactory(deal=deal, number="СЧ-123")
    client.force_login(manager)

    html = client.get(reverse("client-detail", args=[customer.pk])).content.decode()

    assert "ООО «Сталь-Маркет»" in html
    assert customer.inn in html
    assert "отсрочка 14 дней" in html
    assert "500\u00a0000,00\u00a0₽" in html
    assert "Пётр Иванов" in html
    assert "Уголок 50×5" in html
    assert "СЧ-123" in html


def test_home_sends_each_role_to_a_page_that_exists(client, people):
    for role, user in people.items():
        client.force_login(user)
        response = client.get(reverse("home"))
        assert response.status_code == 302, role
        assert resolve(response["Location"]).url_name != "home", role


def test_home_falls_back_to_the_deal_list(client, manager, monkeypatch):
    monkeypatch.setitem(START_PAGES, "manager", ("no-such-page",))
    client.force_login(manager)

    assert client.get(reverse("home"))["Location"] == reverse("deal-list")


def test_pages_are_russian_by_default_even_for_an_english_browser(client, manager):
    client.force_login(manager)

    html = client.get(reverse("deal-list"), HTTP_ACCEPT_LANGUAGE="en-US,en").content.decode()

    assert "Сделки" in html
    assert "Виртуальный РОП" in html


def test_language_switch_gives_english(client, manager):
    client.force_login(manager)

    client.post(reverse("set_language"), {"language": "en", "next": "/crm/deals/"})
    html = client.get(reverse("deal-list")).content.decode()

    assert '<h1 class="page-title mb-0">Deals</h1>' in html


def test_layout_has_navigation_user_role_and_vendored_assets(client, head):
    client.force_login(head)

    html = client.get(reverse("deal-list")).content.decode()

    assert 'href="/crm/clients/"' in html
    assert 'href="/crm/products/"' in html
    assert str(head) in html
    assert "РОП" in html  # the role
    assert "/static/vendor/htmx/htmx.min.js" in html
    assert "/static/vendor/bootstrap/bootstrap.min.css" in html
    assert "X-CSRFToken" in html
    # Nothing is loaded from another host (the CSRF token may contain any letters).
    assert re.findall(r'(?:src|href)="(?:https?:)?//[^"]*"', html) == []
    assert 'action="/logout/"' in html


def test_vendored_assets_are_served(client):
    for path in (
        "/static/vendor/htmx/htmx.min.js",
        "/static/vendor/bootstrap/bootstrap.min.css",
        "/static/vendor/bootstrap/bootstrap.bundle.min.js",
        "/static/vendor/echarts/echarts.min.js",
        "/static/vrop.css",
        "/static/vrop.js",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"".join(response.streaming_content if response.streaming else [response.content])


def test_login_with_email_and_logout(client):
    user = factories.ManagerFactory(email="petrov@example.com", username="petrov@example.com")

    response = client.post(
        reverse("login"), {"username": "petrov@example.com", "password": "password"}
    )
    assert response.status_code == 302
    assert client.get(reverse("deal-list")).status_code == 200

    client.post(reverse("logout"))
    assert client.get(reverse("deal-list")).status_code == 302
    assert user.pk


def test_login_refusal_is_russian(client):
    response = client.post(reverse("login"), {"username": "nobody@example.com", "password": "x"})

    assert response.status_code == 200
    assert "Пожалуйста, введите правильные" in response.content.decode()


@pytest.mark.django_db
def test_one_menu_item_is_active_the_longest_match(client, owner):
    client.force_login(owner)
    response = client.get(reverse("owner-dashboard"))
    active = [item["name"] for item in response.context["nav_items"] if item["active"]]
    assert active == ["owner-dashboard"]
    response = client.get(reverse("head-dashboard"))
    assert [item["name"] for item in response.context["nav_items"] if item["active"]] == [
        "head-dashboard"
    ]
