"""Deals over the API: lines and next step in one call, rules as 409, scoping as 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import ClientFactory, DealFactory, DealLineFactory, ProductFactory, TaskFactory
from vrop.crm.models import Deal, DealLine, StageChange, Task

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=MSK)
TOMORROW = "2026-11-24T11:00:00+03:00"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def steel():
    return ProductFactory(
        name="Арматура А500С ⌀12", cost_price=Decimal("50000"), list_price=Decimal("56000")
    )


def _open_deal(manager, **kwargs):
    deal = DealFactory(client=ClientFactory(manager=manager, name="ООО «Сталь»"), **kwargs)
    TaskFactory(deal=deal, due_at=NOW + dt.timedelta(days=1))
    return deal


def test_create_a_deal_with_lines_and_next_step(api, manager, steel):
    client = ClientFactory(manager=manager)

    response = api(manager).post(
        "/deals",
        {
            "client_id": client.pk,
            "title": "Арматура на объект",
            "channel": "phone",
            "lines": [{"product_id": steel.pk, "qty": "2.5", "price": "55000"}],
            "next_step": {"title": "Отправить КП", "due_at": TOMORROW},
        },
    )

    assert response.status_code == 201
    body = response.json()
    deal = Deal.objects.get()
    assert body["id"] == deal.pk
    assert body["manager_id"] == manager.pk
    assert body["client_name"] == client.name
    assert (body["amount"], body["cost_amount"], body["gross_profit"]) == (
        "137500.00",
        "125000.00",
        "12500.00",
    )
    assert (body["margin_pct"], body["list_amount"], body["discount_pct"]) == (
        "9.09",
        "140000.00",
        "1.79",
    )
    assert body["volume"] == "2.500"
    assert body["next_step_at"] == "2026-11-24T08:00:00Z"
    assert body["lines"] == [
        {
            "id": DealLine.objects.get().pk,
            "product_id": steel.pk,
            "product_name": "Арматура А500С ⌀12",
            "qty": "2.500",
            "price": "55000.00",
            "cost_price": "50000.00",
            "list_price": "56000.00",
            "amount": "137500.00",
            "gross_profit": "12500.00",
            "margin_pct": "9.09",
            "discount_pct": "1.79",
        }
    ]
    assert list(Task.objects.values_list("title", "deal_id")) == [("Отправить КП", deal.pk)]
    assert list(StageChange.objects.values_list("stage", flat=True)) == ["lead"]


def test_a_naive_due_date_is_moscow_time(api, manager):
    client = ClientFactory(manager=manager)

    response = api(manager).post(
        "/deals",
        {"client_id": client.pk, "next_step": {"title": "Звонок", "due_at": "2026-11-24T11:00:00"}},
    )

    assert response.status_code == 201
    assert Task.objects.get().due_at == dt.datetime(2026, 11, 24, 11, 0, tzinfo=MSK)


def test_an_open_deal_without_next_step_is_409_and_nothing_is_written(api, manager, steel):
    client = ClientFactory(manager=manager)

    response = api(manager).post(
        "/deals",
        {"client_id": client.pk, "lines": [{"product_id": steel.pk, "qty": 1}]},
        language="en",
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "An open deal needs a next step: add a task with a due date.",
        "code": "no_next_step",
    }
    assert (Deal.objects.count(), DealLine.objects.count(), StageChange.objects.count()) == (
        0,
        0,
        0,
    )


def test_a_client_the_manager_cannot_see_is_a_bad_value(api, manager, other_manager):
    theirs = ClientFactory(manager=other_manager)

    response = api(manager).post(
        "/deals", {"client_id": theirs.pk, "next_step": {"due_at": TOMORROW}}
    )

    assert response.status_code == 422
    assert response.json()["field"] == "client_id"
    assert Deal.objects.count() == 0


def test_a_manager_may_not_create_a_deal_for_someone_else(api, manager, other_manager):
    response = api(manager).post(
        "/deals", {"manager_id": other_manager.pk, "next_step": {"due_at": TOMORROW}}
    )

    assert response.status_code == 403
    assert Deal.objects.count() == 0


def test_finance_reads_deals_but_may_not_create_them(api, finance, manager):
    deal = _open_deal(manager)

    assert api(finance).get(f"/deals/{deal.pk}").status_code == 200
    response = api(finance).post("/deals", {"next_step": {"due_at": TOMORROW}})

    assert response.status_code == 403
    assert Deal.objects.count() == 1


def test_list_filters_and_scopes(api, manager, other_manager, head):
    won = DealFactory(
        client=ClientFactory(manager=manager, name="ООО «Прокат»"), stage="won", title="Выиграна"
    )
    open_deal = _open_deal(manager, title="В работе")
    theirs = _open_deal(other_manager, title="Чужая")

    mine = api(manager).get("/deals").json()["items"]
    only_open = api(manager).get("/deals", is_open="true").json()["items"]
    only_won = api(head).get("/deals", stage="won").json()["items"]
    by_client = api(head).get("/deals", client=theirs.client_id).json()["items"]
    by_id = api(head).get("/deals", q=str(open_deal.pk)).json()["items"]

    assert {d["id"] for d in mine} == {won.pk, open_deal.pk}
    assert [d["id"] for d in only_open] == [open_deal.pk]
    assert [d["id"] for d in only_won] == [won.pk]
    assert [d["id"] for d in by_client] == [theirs.pk]
    assert [d["id"] for d in by_id] == [open_deal.pk]


def test_the_list_reads_one_page_in_one_query(api, head, django_assert_num_queries):
    for _ in range(3):
        DealLineFactory(deal=_open_deal(head))
    client = api(head)
    client.get("/me")

    with django_assert_num_queries(2):  # the token, the page with clients and managers
        response = client.get("/deals", limit=2)

    assert len(response.json()["items"]) == 2
    second = client.client.get(response.json()["next"], headers=client.headers)
    assert [d["id"] for d in response.json()["items"] + second.json()["items"]] == list(
        Deal.objects.order_by("-received_at", "-id").values_list("pk", flat=True)
    )
    assert second.json()["next"] is None


def test_someone_elses_deal_is_404_for_every_verb(api, manager, other_manager, steel):
    theirs = _open_deal(other_manager, title="Чужая")
    client = api(manager)
    path = f"/deals/{theirs.pk}"

    answers = [
        client.get(path),
        client.patch(path, {"title": "Моя"}),
        client.put(f"{path}/lines", {"lines": [{"product_id": steel.pk, "qty": 1}]}),
        client.post(f"{path}/stage", {"stage": "contact"}),
        client.post(f"{path}/copy", {"next_step": {"due_at": TOMORROW}}),
    ]

    assert [a.status_code for a in answers] == [404] * 5
    theirs.refresh_from_db()
    assert (theirs.title, theirs.stage, Deal.objects.count(), DealLine.objects.count()) == (
        "Чужая",
        "lead",
        1,
        0,
    )


def test_patch_a_deal(api, manager):
    deal = _open_deal(manager, title="Было")

    response = api(manager).patch(
        f"/deals/{deal.pk}", {"title": "Стало", "promised_date": "2026-12-01", "need": "10 т"}
    )

    assert response.status_code == 200
    deal.refresh_from_db()
    assert (deal.title, deal.promised_date, deal.need) == ("Стало", dt.date(2026, 12, 1), "10 т")
    assert response.json()["promised_date"] == "2026-12-01"


def test_a_manager_may_not_reassign_a_deal(api, manager, other_manager):
    deal = _open_deal(manager)

    response = api(manager).patch(f"/deals/{deal.pk}", {"manager_id": other_manager.pk})

    assert response.status_code == 403
    deal.refresh_from_db()
    assert deal.manager == manager


def test_the_head_reassigns_a_deal(api, head, manager, other_manager):
    deal = _open_deal(manager)

    response = api(head).patch(f"/deals/{deal.pk}", {"manager_id": other_manager.pk})

    assert response.status_code == 200
    assert response.json()["manager_id"] == other_manager.pk


def test_put_lines_replaces_them_and_recomputes_totals(api, manager, steel):
    deal = _open_deal(manager)
    DealLineFactory(deal=deal, qty=Decimal("1"))
    sheet = ProductFactory(cost_price=Decimal("70000"), list_price=Decimal("80000"))

    response = api(manager).put(
        f"/deals/{deal.pk}/lines",
        {"lines": [{"product_id": steel.pk, "qty": "3"}, {"product_id": sheet.pk, "qty": "0.5"}]},
    )

    assert response.status_code == 200
    body = response.json()
    assert [(line["product_id"], line["qty"]) for line in body["lines"]] == [
        (steel.pk, "3.000"),
        (sheet.pk, "0.500"),
    ]
    assert (body["amount"], body["cost_amount"], body["volume"]) == (
        "208000.00",
        "185000.00",
        "3.500",
    )
    assert DealLine.objects.filter(deal=deal).count() == 2


def test_lines_with_an_unknown_product_are_422_and_the_old_lines_stay(api, manager):
    deal = _open_deal(manager)
    line = DealLineFactory(deal=deal)

    response = api(manager).put(
        f"/deals/{deal.pk}/lines", {"lines": [{"product_id": 999999, "qty": 1}]}
    )

    assert response.status_code == 422
    assert response.json()["field"] == "lines.0.product_id"
    assert list(DealLine.objects.values_list("pk", flat=True)) == [line.pk]


def test_stage_change_writes_history(api, manager):
    deal = _open_deal(manager)

    response = api(manager).post(f"/deals/{deal.pk}/stage", {"stage": "contact"})

    assert response.status_code == 200
    assert response.json()["stage"] == "contact"
    assert list(StageChange.objects.filter(deal=deal).values_list("from_stage", "stage")) == [
        ("lead", "contact")
    ]


def test_lost_needs_a_reason(api, manager):
    deal = _open_deal(manager)

    refused = api(manager).post(f"/deals/{deal.pk}/stage", {"stage": "lost"})
    accepted = api(manager).post(
        f"/deals/{deal.pk}/stage", {"stage": "lost", "lost_reason": "Дорого"}
    )

    assert refused.status_code == 422
    assert refused.json()["field"] == "lost_reason"
    assert accepted.status_code == 200
    assert accepted.json()["lost_reason"] == "Дорого"
    assert StageChange.objects.filter(deal=deal).count() == 1


def test_an_unknown_stage_is_422(api, manager):
    deal = _open_deal(manager)

    response = api(manager).post(f"/deals/{deal.pk}/stage", {"stage": "paid"})

    assert response.status_code == 422
    assert response.json()["field"] == "stage"


def test_copy_makes_a_repeat_deal_with_the_same_lines(api, manager, steel):
    deal = _open_deal(manager, title="Заказ")
    DealLineFactory(deal=deal, product=steel, qty=Decimal("4"), price=Decimal("55000"))

    response = api(manager).post(f"/deals/{deal.pk}/copy", {"next_step": {"due_at": TOMORROW}})

    assert response.status_code == 201
    body = response.json()
    assert body["id"] != deal.pk
    assert (body["copied_from_id"], body["channel"], body["title"]) == (deal.pk, "repeat", "Заказ")
    assert [(line["product_id"], line["qty"], line["price"]) for line in body["lines"]] == [
        (steel.pk, "4.000", "55000.00")
    ]


def test_copy_without_next_step_is_409(api, manager):
    deal = _open_deal(manager)

    response = api(manager).post(f"/deals/{deal.pk}/copy", {})

    assert response.status_code == 409
    assert response.json()["code"] == "no_next_step"
    assert Deal.objects.count() == 1


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/deals/0", 422),
        (f"/deals/{2**63}", 422),
        ("/deals/abc", 422),
        ("/deals?limit=0", 422),
        ("/deals?limit=201", 422),
        (f"/deals?offset={2**40}", 422),
        ("/deals?stage=paid", 422),
        ("/deals?q=a%00b", 422),
    ],
)
def test_out_of_range_parameters_are_422(api, head, path, status):
    response = api(head).client.get("/api/v1" + path, headers=api(head).headers)

    assert response.status_code == status
