"""The access matrix: every role × every object endpoint, in the API and in the UI.

Each row of ``ENDPOINTS`` names an endpoint and the outcome expected for each of the
seven callers. The world is the same for every case: a manager ("manager-own") owns a
client, a deal with a line and two open tasks, and a client without deals; another
manager ("manager-other") owns nothing of it. For every case the test asserts the status
(and, for a 302, where it leads); a refusal must leave a fingerprint of the database —
row counts and a hash of every column of every model of the vrop apps — exactly as it
was; an allowed read must too; an allowed write must change it. List endpoints also
check that the object is listed for those who see it and not for manager-other.

To add an endpoint (later issues): append an ``api(...)`` or ``page(...)`` row to
``ENDPOINTS`` (or to a list you add to it) with the outcomes of ``outcome(...)``; if it
needs an object the world lacks, add the object in ``world`` (owned by manager-own).
See docs/api.md, "The access matrix".
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.factories import (
    ClientFactory,
    ContactFactory,
    DealFactory,
    DealLineFactory,
    DistributionMemberFactory,
    DistributionRuleFactory,
    FinanceFactory,
    HeadFactory,
    ManagerFactory,
    OwnerFactory,
    PriceListFactory,
    PriceListItemFactory,
    ProductFactory,
    SupplyFactory,
    TaskFactory,
    UserFactory,
)
from vrop.accounts.services import api_token_create
from vrop.core.policy import company_settings
from vrop.crm.models import Deal

pytestmark = pytest.mark.django_db

ROLES = ("owner", "head", "manager-own", "manager-other", "finance", "supply", "anonymous")
LOGIN = "login"  # a 302 to the login page
ALLOWED = {200, 201, 204, 302}
DEAL_TITLE = "Сделка матрицы доступа"
CLIENT_NAME = "ООО «Клиент матрицы»"
PRODUCT_NAME = "Швеллер матрицы"


def outcome(owner, head, own, other, finance, supply, anonymous) -> dict:
    """Expected answers, in the order of ROLES: a status code, or LOGIN."""
    return dict(zip(ROLES, (owner, head, own, other, finance, supply, anonymous), strict=True))


@dataclass(frozen=True)
class Endpoint:
    label: str
    method: str
    expect: dict
    path: str = ""  # API: "/api/v1/deals/{deal}" with world attributes in braces
    url_name: str = ""  # UI: a URL name, with ``url_kwargs`` {kwarg: world attribute}
    url_kwargs: dict = field(default_factory=dict)
    body: Callable | None = None  # world -> JSON (API) or form data (UI)
    writes: bool = False  # an allowed call changes the database
    listed: str = ""  # world attribute that an allowed list shows (hidden from manager-other)

    @property
    def is_api(self) -> bool:
        return bool(self.path)


def api(method, path, expect, *, body=None, writes=None, listed="", note=""):
    writes = method != "get" if writes is None else writes
    return Endpoint(
        f"api {method.upper()} {path}{' ' + note if note else ''}", method, expect, path=path,
        body=body, writes=writes, listed=listed,
    )  # fmt: skip


def page(method, url_name, expect, *, body=None, writes=None, listed="", **url_kwargs):
    writes = method != "get" if writes is None else writes
    return Endpoint(
        f"ui {method.upper()} {url_name}", method, expect, url_name=url_name,
        url_kwargs=url_kwargs, body=body, writes=writes, listed=listed,
    )  # fmt: skip


def _due(days: int = 2) -> str:
    return (dt.datetime.now() + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def _deal_form(world, *, edit: bool) -> dict:
    data = {
        "client": world.client.pk,
        "channel": "phone",
        "title": "Изменённая сделка" if edit else "Новая сделка",
        "need": "",
        "next_step_title": "" if edit else "Позвонить",
        "next_step_due_at": "" if edit else _due(),
        "manager": world.manager.pk,
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "1" if edit else "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-product": world.product.pk,
        "lines-0-qty": "3",
        "lines-0-price": "",
    }
    if edit:
        data["lines-0-line_id"] = world.line.pk
    return data


# fmt: off
API_ENDPOINTS = [
    api("get", "/api/v1/me", outcome(200, 200, 200, 200, 200, 200, 401)),
    api("get", "/api/v1/clients", outcome(200, 200, 200, 200, 200, 403, 401), listed="client"),
    api("post", "/api/v1/clients", outcome(201, 201, 201, 201, 403, 403, 401),
        body=lambda w: {"name": "ООО «Новый»"}),
    api("get", "/api/v1/clients/{client}", outcome(200, 200, 200, 404, 200, 403, 401)),
    api("patch", "/api/v1/clients/{client}", outcome(200, 200, 200, 404, 403, 403, 401),
        body=lambda w: {"city": "Тверь"}),
    api("patch", "/api/v1/clients/{client}", outcome(200, 200, 403, 404, 403, 403, 401),
        body=lambda w: {"credit_limit": "100000"}, note="credit"),
    api("delete", "/api/v1/clients/{empty_client}", outcome(204, 204, 204, 404, 403, 403, 401)),
    api("delete", "/api/v1/clients/{client}", outcome(409, 409, 409, 404, 403, 403, 401)),
    api("get", "/api/v1/products", outcome(200, 200, 200, 200, 200, 200, 401)),
    api("post", "/api/v1/products", outcome(201, 201, 403, 403, 403, 201, 401),
        body=lambda w: {"name": "Уголок 50×5", "list_price": "61000"}),
    api("get", "/api/v1/products/{product}", outcome(200, 200, 200, 200, 200, 200, 401)),
    api("patch", "/api/v1/products/{product}", outcome(200, 200, 403, 403, 403, 200, 401),
        body=lambda w: {"list_price": "57000"}),
    api("get", "/api/v1/deals", outcome(200, 200, 200, 200, 200, 200, 401), listed="deal"),
    api("post", "/api/v1/deals", outcome(201, 201, 201, 422, 403, 403, 401),
        body=lambda w: {"client_id": w.client.pk, "next_step": {"due_at": _due()}}),
    api("get", "/api/v1/deals/{deal}", outcome(200, 200, 200, 404, 200, 200, 401)),
    api("patch", "/api/v1/deals/{deal}", outcome(200, 200, 200, 404, 403, 403, 401),
        body=lambda w: {"title": "Новое название"}),
    api("put", "/api/v1/deals/{deal}/lines", outcome(200, 200, 200, 404, 403, 403, 401),
        body=lambda w: {"lines": [{"product_id": w.product.pk, "qty": "7"}]}),
    api("post", "/api/v1/deals/{deal}/stage", outcome(200, 200, 200, 404, 403, 403, 401),
        body=lambda w: {"stage": "contact"}),
    api("post", "/api/v1/deals/{deal}/copy", outcome(201, 201, 201, 404, 403, 403, 401),
        body=lambda w: {"next_step": {"due_at": _due()}}),
    api("get", "/api/v1/tasks", outcome(200, 200, 200, 200, 403, 403, 401), listed="task"),
    api("post", "/api/v1/tasks", outcome(201, 201, 201, 422, 201, 201, 401),
        body=lambda w: {"title": "Уточнить объём", "deal_id": w.deal.pk, "due_at": _due()}),
    api("get", "/api/v1/tasks/{task}", outcome(200, 200, 200, 404, 403, 403, 401)),
    api("post", "/api/v1/tasks/{task}/complete", outcome(200, 200, 200, 404, 404, 404, 401),
        body=lambda w: {"result": "Готово"}),
]

UI_ENDPOINTS = [
    page("get", "deal-list", outcome(200, 200, 200, 200, 200, 200, LOGIN), listed="deal"),
    page("get", "deal-detail", outcome(200, 200, 200, 404, 200, 200, LOGIN), deal_id="deal"),
    page("get", "deal-create", outcome(200, 200, 200, 200, 403, 403, LOGIN)),
    page("post", "deal-create", outcome(302, 302, 302, 422, 403, 403, LOGIN),
         body=lambda w: _deal_form(w, edit=False)),
    page("get", "deal-edit", outcome(200, 200, 200, 404, 403, 403, LOGIN), deal_id="deal"),
    page("post", "deal-edit", outcome(302, 302, 302, 404, 403, 403, LOGIN), deal_id="deal",
         body=lambda w: _deal_form(w, edit=True)),
    page("post", "deal-stage", outcome(302, 302, 302, 404, 403, 403, LOGIN), deal_id="deal",
         body=lambda w: {"stage": "contact"}),
    page("post", "deal-copy", outcome(302, 302, 302, 404, 403, 403, LOGIN), deal_id="deal",
         body=lambda w: {"title": "Позвонить", "due_at": _due()}),
    page("post", "task-create", outcome(302, 302, 302, 404, 302, 302, LOGIN), deal_id="deal",
         body=lambda w: {"title": "Уточнить объём", "due_at": _due()}),
    page("post", "task-complete", outcome(302, 302, 302, 404, 404, 404, LOGIN), task_id="task",
         body=lambda w: {"result": "Готово"}),
    page("post", "activity-create", outcome(302, 302, 302, 404, 302, 403, LOGIN),
         deal_id="deal", body=lambda w: {"kind": "call", "subject": "Звонок клиенту"}),
    page("get", "client-list", outcome(200, 200, 200, 200, 200, 403, LOGIN), listed="client"),
    page("get", "client-detail", outcome(200, 200, 200, 404, 200, 404, LOGIN),
         client_id="client"),
    page("get", "client-create", outcome(200, 200, 200, 200, 403, 403, LOGIN)),
    page("post", "client-create", outcome(302, 302, 302, 302, 403, 403, LOGIN),
         body=lambda w: {"name": "ООО «Новый»", "payment_terms_days": "0"}),
    page("get", "client-edit", outcome(200, 200, 200, 404, 403, 403, LOGIN),
         client_id="client"),
    page("post", "client-edit", outcome(302, 302, 302, 404, 403, 403, LOGIN),
         client_id="client",
         body=lambda w: {"name": CLIENT_NAME, "city": "Тверь", "payment_terms_days": "0",
                         "manager": w.manager.pk}),
    page("get", "product-list", outcome(200, 200, 200, 200, 200, 200, LOGIN),
         listed="product"),
    page("get", "product-create", outcome(200, 200, 403, 403, 403, 200, LOGIN)),
    page("get", "product-edit", outcome(200, 200, 403, 403, 403, 200, LOGIN),
         product_id="product"),
    page("post", "product-edit", outcome(302, 302, 403, 403, 403, 302, LOGIN),
         product_id="product",
         body=lambda w: {"name": PRODUCT_NAME, "unit": "t", "cost_price": "50000",
                         "list_price": "57000"}),
]
# fmt: on

# fmt: off
PRICING_ENDPOINTS = [
    api("get", "/api/v1/deals/{deal}/pricing", outcome(200, 200, 200, 404, 200, 200, 401)),
    api("get", "/api/v1/approvals", outcome(200, 200, 200, 200, 200, 200, 401)),
    api("get", "/api/v1/confirmations", outcome(200, 200, 200, 200, 200, 200, 401)),
    api("post", "/api/v1/confirmations", outcome(201, 201, 403, 403, 403, 201, 401),
        body=lambda w: {"product_id": w.product.pk, "qty": "5", "available_on": "2030-01-10",
                        "valid_until": "2030-01-05T12:00:00+03:00"}),
    api("post", "/api/v1/deals/{deal}/quotes", outcome(201, 201, 201, 404, 403, 403, 401),
        body=lambda w: {"valid_days": 5}),
    api("get", "/api/v1/reports/margin", outcome(200, 200, 403, 403, 200, 403, 401)),
    page("get", "approval-list", outcome(200, 200, 403, 403, 403, 403, LOGIN)),
    page("get", "pricing-deal-panel", outcome(200, 200, 200, 404, 200, 200, LOGIN),
         deal_id="deal"),
    page("post", "quote-issue", outcome(302, 302, 302, 404, 403, 403, LOGIN), deal_id="deal",
         body=lambda w: {"valid_days": "5"}),
    page("get", "margin-report", outcome(200, 200, 403, 403, 200, 403, LOGIN)),
    page("get", "confirmation-create", outcome(200, 200, 403, 403, 403, 200, LOGIN)),
    page("get", "price-list-import", outcome(200, 200, 403, 403, 403, 200, LOGIN)),
    # price lists edited in place (list prices: head, owner; cost prices: supply too), purchases
    api("get", "/api/v1/price-lists", outcome(200, 200, 403, 403, 403, 200, 401)),
    api("post", "/api/v1/price-lists", outcome(201, 201, 403, 403, 403, 403, 401),
        body=lambda w: {"name": "Прайс матрицы", "effective_from": "2030-01-10"}),
    api("get", "/api/v1/price-lists/{price_list}", outcome(200, 200, 403, 403, 403, 200, 401)),
    api("put", "/api/v1/price-lists/{price_list}/items/{product}",
        outcome(200, 200, 403, 403, 403, 200, 401), body=lambda w: {"cost_price": "50500"},
        note="cost"),
    api("put", "/api/v1/price-lists/{price_list}/items/{product}",
        outcome(200, 200, 403, 403, 403, 403, 401), body=lambda w: {"list_price": "57000"},
        note="list"),
    api("delete", "/api/v1/price-lists/{price_list}/items/{product}",
        outcome(204, 204, 403, 403, 403, 403, 401)),
    api("post", "/api/v1/price-lists/{price_list}/copy", outcome(201, 201, 403, 403, 403, 403, 401),
        body=lambda w: {"name": "Копия матрицы", "effective_from": "2030-02-01"}),
    api("post", "/api/v1/price-lists/{price_list}/apply",
        outcome(200, 200, 403, 403, 403, 403, 401)),
    api("get", "/api/v1/purchases", outcome(200, 200, 403, 403, 403, 200, 401)),
    api("post", "/api/v1/purchases", outcome(201, 201, 403, 403, 403, 201, 401),
        body=lambda w: {"product_id": w.product.pk, "qty": "5", "price": "50700",
                        "received_on": (dt.date.today() - dt.timedelta(days=2)).isoformat()}),
    page("get", "price-list-list", outcome(200, 200, 403, 403, 403, 200, LOGIN)),
    page("post", "price-list-list", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         body=lambda w: {"name": "Прайс матрицы", "effective_from": "2030-01-10"}),
    page("get", "price-list-detail", outcome(200, 200, 403, 403, 403, 200, LOGIN),
         price_list_id="price_list"),
    page("post", "price-list-item-set", outcome(302, 302, 403, 403, 403, 302, LOGIN),
         price_list_id="price_list",
         body=lambda w: {"product": w.product.pk, "cost_price": "50500"}),
    page("post", "price-list-item-remove", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         price_list_id="price_list", body=lambda w: {"product": w.product.pk}),
    page("post", "price-list-copy", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         price_list_id="price_list",
         body=lambda w: {"name": "Копия матрицы", "effective_from": "2030-02-01"}),
    page("post", "price-list-apply", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         price_list_id="price_list"),
    page("get", "purchase-list", outcome(200, 200, 403, 403, 403, 200, LOGIN)),
    page("post", "purchase-list", outcome(302, 302, 403, 403, 403, 302, LOGIN),
         body=lambda w: {"product": w.product.pk, "qty": "5", "price": "50700",
                         "received_on": (dt.date.today() - dt.timedelta(days=2)).isoformat()}),
]
# fmt: on

# fmt: off
DISCIPLINE_ENDPOINTS = [
    page("get", "today", outcome(200, 200, 200, 200, 200, 200, LOGIN)),
    page("get", "board", outcome(200, 200, 403, 403, 403, 403, LOGIN)),
    page("get", "inbox", outcome(200, 200, 200, 200, 200, 200, LOGIN)),
    page("get", "distribution", outcome(200, 200, 403, 403, 403, 403, LOGIN)),
    page("get", "distribution-rule", outcome(200, 200, 403, 403, 403, 403, LOGIN),
         rule_id="rule"),
    page("post", "distribution-rule-create", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         body=lambda w: {"name": "Заявки с сайта", "method": "round_robin", "is_active": "on"}),
    page("post", "distribution-rule-edit", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         rule_id="rule", body=lambda w: {"name": "Тендеры", "method": "weighted"}),
    page("post", "distribution-rule-activate", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         rule_id="rule", body=lambda w: {"is_active": "0"}),
    page("post", "distribution-rule-move", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         rule_id="rule", body=lambda w: {"direction": "up"}),
    page("post", "distribution-member-add", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         rule_id="rule", body=lambda w: {"user_id": w.users["manager-other"].pk, "weight": "2"}),
    page("post", "distribution-member-edit", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         member_id="member", body=lambda w: {"weight": "3", "shift_start": "09:00"}),
    page("post", "distribution-member-remove", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         member_id="member"),
    page("post", "distribution-cap", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         body=lambda w: {"cap": "7"}),
    page("post", "distribution-absence", outcome(302, 302, 403, 403, 403, 403, LOGIN),
         user_id="manager", body=lambda w: {"is_absent": "1"}),
]
# fmt: on

ENDPOINTS = API_ENDPOINTS + UI_ENDPOINTS + PRICING_ENDPOINTS + DISCIPLINE_ENDPOINTS


# --- the world ----------------------------------------------------------------------------


@dataclass
class World:
    users: dict
    manager: object
    client: object
    empty_client: object
    deal: object
    line: object
    task: object
    product: object
    rule: object = None  # a distribution rule with world.manager as its member
    member: object = None
    price_list: object = None  # not applied yet, effective today, one line: the product


@pytest.fixture
def world(db) -> World:
    company_settings()
    manager = ManagerFactory()
    users = {
        "owner": OwnerFactory(),
        "head": HeadFactory(),
        "manager-own": manager,
        "manager-other": ManagerFactory(),
        "finance": FinanceFactory(),
        "supply": SupplyFactory(),
        "anonymous": None,
    }
    client = ClientFactory(manager=manager, name=CLIENT_NAME)
    ContactFactory(client=client)
    empty_client = ClientFactory(manager=manager, name="ООО «Без сделок»")
    product = ProductFactory(
        name=PRODUCT_NAME, cost_price=Decimal("50000"), list_price=Decimal("56000")
    )
    deal = DealFactory(client=client, manager=manager, title=DEAL_TITLE)
    line = DealLineFactory(deal=deal, product=product, qty=Decimal("2"))
    now = dt.datetime.now(dt.UTC)
    task = TaskFactory(deal=deal, title="Отправить КП", due_at=now + dt.timedelta(days=1))
    TaskFactory(deal=deal, title="Созвониться", due_at=now + dt.timedelta(days=3))
    Deal.objects.filter(pk=deal.pk).update(next_step_at=task.due_at)
    rule = DistributionRuleFactory(name="Все заявки")
    member = DistributionMemberFactory(rule=rule, user=manager)
    price_list = PriceListFactory(name="Прайс матрицы")
    PriceListItemFactory(
        price_list=price_list, product=product, list_price=Decimal("56000"),
        cost_price=Decimal("50000"),
    )  # fmt: skip
    return World(
        users, manager, client, empty_client, deal, line, task, product, rule, member,
        price_list=price_list,
    )  # fmt: skip


def fingerprint() -> dict:
    """Row count and a hash of every column, for every model of the vrop apps."""
    result = {}
    tables = set(connection.introspection.table_names())
    for model in apps.get_models():
        if not model._meta.app_config.name.startswith("vrop."):
            continue
        if model._meta.db_table not in tables:  # a model whose migration is not written yet
            continue
        columns = [f.attname for f in model._meta.concrete_fields]
        rows = list(model._base_manager.order_by("pk").values_list(*columns))
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()
        result[model._meta.label] = (len(rows), digest)
    return result


def _caller(world: World, role: str, endpoint: Endpoint) -> tuple[Client, dict]:
    user = world.users[role]
    browser = Client()
    headers: dict = {}
    if user is None:
        return browser, headers
    if endpoint.is_api:
        _token, key = api_token_create(user=user, name="matrix")
        headers["Authorization"] = f"Bearer {key}"
        browser.get("/api/v1/me", headers=headers)  # the token's first use is recorded now
    else:
        browser.force_login(user)
    return browser, headers


def _request(browser: Client, endpoint: Endpoint, world: World, headers: dict):
    if endpoint.is_api:
        url = endpoint.path.format(**{name: getattr(world, name).pk for name in vars(world)
                                      if hasattr(getattr(world, name), "pk")})  # fmt: skip
        kwargs = {"headers": headers}
        if endpoint.body is not None:
            kwargs.update(data=endpoint.body(world), content_type="application/json")
        return getattr(browser, endpoint.method)(url, **kwargs)
    url = reverse(
        endpoint.url_name,
        kwargs={kwarg: getattr(world, name).pk for kwarg, name in endpoint.url_kwargs.items()},
    )
    data = endpoint.body(world) if endpoint.body is not None else None
    return getattr(browser, endpoint.method)(url, data=data)


def _listed_ids(response, endpoint: Endpoint) -> list:
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.label)
def test_access(world, endpoint, role):
    browser, headers = _caller(world, role, endpoint)
    before = fingerprint()

    response = _request(browser, endpoint, world, headers)

    expected = endpoint.expect[role]
    after = fingerprint()
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == expected, getattr(response, "content", b"")[:500]
    if expected == 302:
        assert not response["Location"].startswith(reverse("login"))
    if expected in ALLOWED and endpoint.writes:
        changed = sorted(label for label in after if after[label] != before.get(label))
        assert changed, "an allowed write changed nothing"
    else:
        assert after == before
    if endpoint.listed and expected == 200:
        target = getattr(world, endpoint.listed)
        shown = (
            target.pk in _listed_ids(response, endpoint)
            if endpoint.is_api
            else str(target).encode() in response.content
        )
        assert shown is (role != "manager-other" or endpoint.listed == "product")


# --- the admin is for superusers only --------------------------------------------------------


def _admin_pages() -> list[str]:
    from django.contrib import admin

    return sorted(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    )


@pytest.mark.parametrize("role", ["owner", "head", "manager", "finance", "supply"])
def test_admin_refuses_staff_who_are_not_superusers(world, role):
    from django.contrib.auth.models import Permission

    staff = UserFactory(role=role, is_staff=True)
    staff.user_permissions.set(Permission.objects.all())
    browser = Client()
    browser.force_login(staff)
    user_page = f"/admin/accounts/user/{world.manager.pk}/change/"
    before = fingerprint()

    answers = [browser.get("/admin/"), browser.get(user_page)]
    answers += [browser.get(url) for url in _admin_pages()]
    answers.append(browser.post(user_page, {"username": "x", "email": "x@example.com"}))

    assert len(answers) > 4
    assert {a.status_code for a in answers} == {302}
    assert all(a["Location"].startswith("/admin/login/") for a in answers)
    assert fingerprint() == before


def test_admin_opens_for_a_superuser(world):
    root = UserFactory(role="owner", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(root)

    answers = {url: browser.get(url).status_code for url in _admin_pages()}

    assert "/admin/accounts/user/" in answers
    assert set(answers.values()) == {200}
