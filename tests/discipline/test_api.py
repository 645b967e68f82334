"""/api/v1/requests (with the public website form), /deals/stalled, /today, /board,
/sla, /alerts, snooze and next step: the same services and selectors as the pages."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client as WebClient

from tests.factories import (
    AlertFactory,
    DealFactory,
    HeadFactory,
    ManagerFactory,
    RequestFactory,
    TaskFactory,
    WebFormFactory,
)
from vrop.crm.choices import RequestStatus, Stage
from vrop.crm.models import Deal, Request
from vrop.discipline.models import Assignment, Snooze
from vrop.discipline.selectors import stalled_deals

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=MSK)


@pytest.fixture(autouse=True)
def frozen():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield


def post_form(key, body, address="203.0.113.7"):
    return WebClient().post(
        f"/api/v1/requests/form/{key}",
        data=body,
        content_type="application/json",
        REMOTE_ADDR=address,
    )


def test_website_form_registers_a_request_without_login():
    form = WebFormFactory(name="Сайт: прайс")
    response = post_form(
        form.key, {"name": "Анна", "phone": "+79001234567", "text": "Нужен лист 3 мм"}
    )
    assert response.status_code == 201
    request = Request.objects.get(pk=response.json()["id"])
    assert (request.channel, request.received_at, request.source) == ("website", NOW, "webform")
    assert (request.contact_name, request.text, request.extra) == (
        "Анна",
        "Нужен лист 3 мм",
        {"form": "Сайт: прайс"},
    )


def test_unknown_form_key_is_404_in_russian_and_writes_nothing():
    WebFormFactory(is_active=False, key="old-key-000000000000")
    for key in ("nope", "old-key-000000000000"):
        response = post_form(key, {"phone": "+79001234567"})
        assert response.status_code == 404
        assert response.json() == {
            "detail": "Такой формы нет. Проверьте ключ формы на сайте.",
            "code": "unknown_form",
        }
    assert Request.objects.count() == 0


def test_website_form_validates_and_limits_the_rate():
    form = WebFormFactory()
    assert post_form(form.key, {"name": "Без контактов"}).status_code == 422
    assert post_form(form.key, {"phone": "x" * 51}).status_code == 422
    assert post_form(form.key, {"email": "не почта"}).status_code == 422
    # The refused post counts against the limit of 10 a minute too.
    statuses = [post_form(form.key, {"phone": f"+7900{n:07d}"}).status_code for n in range(10)]
    assert statuses == [201] * 9 + [429]
    assert post_form(form.key, {"phone": "+79000000099"}, address="198.51.100.1").status_code == 201
    assert Request.objects.count() == 10


def test_requests_list_and_decline_without_reason(api, manager, other_manager):
    mine = RequestFactory(manager=manager)
    RequestFactory(manager=other_manager)
    client = api(manager)
    listed = client.get("/requests").json()
    assert [item["id"] for item in listed["items"]] == [mine.pk]
    refused = client.post(f"/requests/{mine.pk}/decline", {"reason": ""})
    assert refused.status_code == 422
    assert refused.json()["detail"] == "Укажите причину отказа по заявке."
    assert Request.objects.get(pk=mine.pk).status == RequestStatus.NEW
    done = client.post(f"/requests/{mine.pk}/decline", {"reason": "Дубль"})
    assert (done.status_code, done.json()["status"]) == (200, "declined")


def test_accept_over_the_api(api, manager):
    request = RequestFactory(manager=manager, company_name="ООО «Металлбаза»")
    past = api(manager).post(
        f"/requests/{request.pk}/accept", {"next_step_due_at": "2026-11-17T10:00:00+03:00"}
    )
    assert past.status_code == 422
    assert past.json()["detail"] == "Следующий шаг не может быть в прошлом."
    response = api(manager).post(
        f"/requests/{request.pk}/accept",
        {"next_step_due_at": "2026-11-19T10:00:00+03:00", "next_step_title": "КП"},
    )
    assert response.status_code == 201
    deal = Deal.objects.get(pk=response.json()["deal_id"])
    assert (deal.client.name, deal.manager) == ("ООО «Металлбаза»", manager)


def test_reassign_over_the_api(api, manager, other_manager):
    head = HeadFactory()
    request = RequestFactory(manager=manager)
    gone = ManagerFactory(left_on=dt.date(2026, 1, 1))
    refused = api(head).post(f"/requests/{request.pk}/reassign", {"manager_id": gone.pk})
    assert refused.status_code == 422
    assert refused.json()["code"] == "dismissed"
    assert (
        api(manager)
        .post(f"/requests/{request.pk}/reassign", {"manager_id": other_manager.pk})
        .status_code
        == 403
    )
    moved = api(head).post(f"/requests/{request.pk}/reassign", {"manager_id": other_manager.pk})
    assert moved.json()["manager_id"] == other_manager.pk
    assert Assignment.objects.filter(request=request).count() == 1


def test_register_over_the_api_is_idempotent_for_a_source_id(api, head):
    body = {"phone": "+79001112233", "source": "bitrix24", "external_id": "L-5", "channel": "email"}
    first = api(head).post("/requests", body)
    second = api(head).post("/requests", body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]


def test_stalled_deals_endpoint_matches_the_selector(api, manager, owner):
    big = DealFactory(manager=manager, client__manager=manager, amount=Decimal("500.00"))
    DealFactory(manager=manager, client__manager=manager, amount=Decimal("300.00"))
    fine = DealFactory(manager=manager, client__manager=manager, next_step_at=NOW)
    TaskFactory(deal=fine, due_at=NOW)
    response = api(owner).get("/deals/stalled", limit=1)
    body = response.json()
    assert response.status_code == 200
    assert (body["count"], body["amount"]) == (2, "800.00")
    assert [item["id"] for item in body["items"]] == [big.pk]
    assert body["items"][0]["reasons"] == ["no_next_step"]
    assert body["next"] is not None
    selector = stalled_deals(viewer=owner)
    assert (selector.count, selector.amount) == (2, Decimal("800.00"))
    assert api(manager).get("/deals/stalled").json()["count"] == 2
    assert api(ManagerFactory()).get("/deals/stalled").json()["count"] == 0


def test_today_endpoint(api, manager):
    deal = DealFactory(
        manager=manager, client__manager=manager, need="Швеллер", amount=Decimal("1000")
    )
    TaskFactory(deal=deal, manager=manager, title="Позвонить", due_at=NOW - dt.timedelta(hours=1))
    TaskFactory(deal=deal, manager=manager, title="Счёт", due_at=NOW + dt.timedelta(hours=1))
    body = api(manager).get("/today").json()
    assert [t["title"] for t in body["overdue"]] == ["Позвонить"]
    assert [t["title"] for t in body["today"]] == ["Счёт"]
    assert body["today"][0]["need"] == "Швеллер"
    assert body["today"][0]["amount"] == "1000.00"
    assert api(manager).get("/today", manager=ManagerFactory().pk).status_code == 403


def test_board_and_sla_endpoints(api, manager, owner):
    DealFactory(
        manager=manager,
        client__manager=manager,
        stage=Stage.LEAD,
        received_at=NOW - dt.timedelta(minutes=30),
    )
    board = api(owner).get("/board").json()
    row = next(r for r in board["rows"] if r["manager_id"] == manager.pk)
    assert (row["stalled_count"], row["sla_breaches_today"]) == (1, 1)
    assert api(manager).get("/board").status_code == 403
    sla = api(owner).get("/sla", **{"from": "2026-11-18", "to": "2026-11-18"}).json()
    assert sla["first_contact"]["pending_breached"] == 1
    assert sla["requests_on_time_pct"] == "0.0"
    assert api(owner).get("/sla", **{"from": "2026-11-18", "to": "2026-11-01"}).status_code == 422


def test_alerts_follow_visibility(api, manager, other_manager, owner):
    mine = AlertFactory(deal=DealFactory(manager=manager, client__manager=manager))
    AlertFactory(deal=DealFactory(manager=other_manager, client__manager=other_manager))
    assert [a["id"] for a in api(manager).get("/alerts").json()["items"]] == [mine.pk]
    assert len(api(owner).get("/alerts").json()["items"]) == 2
    assert api(ManagerFactory(role="finance")).get("/alerts").status_code == 403


def test_snooze_and_next_step_over_the_api(api, manager):
    deal = DealFactory(manager=manager, client__manager=manager)
    client = api(manager)
    refused = client.post(f"/deals/{deal.pk}/snooze", {"reason": "Ждём оплату"})
    assert refused.status_code == 422
    assert refused.json()["detail"] == "Укажите дату, когда вернуться к сделке."
    assert Snooze.objects.count() == 0
    made = client.post(
        f"/deals/{deal.pk}/snooze", {"reason": "Ждём оплату", "resume_on": "2026-11-25"}
    )
    assert made.status_code == 201 and made.json()["resume_on"] == "2026-11-25"
    assert client.delete(f"/deals/{deal.pk}/snooze").status_code == 204
    past = client.post(f"/deals/{deal.pk}/next-step", {"due_at": "2026-11-01T10:00:00+03:00"})
    assert past.status_code == 422
    step = client.post(
        f"/deals/{deal.pk}/next-step", {"title": "Звонок", "due_at": "2026-11-19T10:00:00+03:00"}
    )
    assert step.status_code == 201
    assert (
        api(ManagerFactory())
        .post(f"/deals/{deal.pk}/next-step", {"due_at": "2026-11-19T10:00:00+03:00"})
        .status_code
        == 404
    )
