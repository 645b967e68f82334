"""Tasks over the API: the next step of a deal, and the rule that keeps one."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import ClientFactory, DealFactory, TaskFactory
from vrop.crm.models import Deal, Task

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=MSK)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_task_on_a_deal_becomes_its_next_step(api, manager):
    deal = DealFactory(client=ClientFactory(manager=manager))

    response = api(manager).post(
        "/tasks",
        {"title": "Перезвонить", "deal_id": deal.pk, "due_at": "2026-11-25T09:30:00+03:00"},
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["deal_id"], body["client_id"], body["manager_id"], body["is_open"]) == (
        deal.pk,
        deal.client_id,
        manager.pk,
        True,
    )
    deal.refresh_from_db()
    assert deal.next_step_at == dt.datetime(2026, 11, 25, 9, 30, tzinfo=MSK)


def test_a_task_without_a_deal_is_the_callers_own(api, manager):
    response = api(manager).post("/tasks", {"title": "План на неделю"})

    assert response.status_code == 201
    assert response.json()["manager_id"] == manager.pk
    assert api(manager).get(f"/tasks/{response.json()['id']}").status_code == 200


def test_a_due_date_in_the_past_is_422(api, manager):
    deal = DealFactory(client=ClientFactory(manager=manager))

    response = api(manager).post(
        "/tasks", {"title": "Поздно", "deal_id": deal.pk, "due_at": "2026-11-20T10:00:00+03:00"}
    )

    assert response.status_code == 422
    assert response.json()["field"] == "due_at"
    assert Task.objects.count() == 0


def test_a_task_on_someone_elses_deal_is_a_bad_value(api, manager, other_manager):
    theirs = DealFactory(client=ClientFactory(manager=other_manager))

    response = api(manager).post("/tasks", {"title": "Влезть", "deal_id": theirs.pk})

    assert response.status_code == 422
    assert response.json()["field"] == "deal_id"
    assert Task.objects.count() == 0


def test_complete_a_task_when_another_next_step_remains(api, manager):
    deal = DealFactory(client=ClientFactory(manager=manager))
    first = TaskFactory(deal=deal, due_at=NOW + dt.timedelta(hours=2))
    TaskFactory(deal=deal, due_at=NOW + dt.timedelta(days=2))

    response = api(manager).post(f"/tasks/{first.pk}/complete", {"result": "Договорились о КП"})

    assert response.status_code == 200
    assert (response.json()["is_open"], response.json()["result"]) == (False, "Договорились о КП")
    deal.refresh_from_db()
    assert deal.next_step_at == NOW + dt.timedelta(days=2)
    assert deal.last_activity_at == NOW


def test_completing_the_last_next_step_of_an_open_deal_is_409(api, manager):
    deal = DealFactory(client=ClientFactory(manager=manager))
    only = TaskFactory(deal=deal, due_at=NOW + dt.timedelta(hours=2))

    response = api(manager).post(f"/tasks/{only.pk}/complete", {})

    assert response.status_code == 409
    assert response.json()["code"] == "no_next_step"
    only.refresh_from_db()
    assert only.done_at is None
    assert Deal.objects.get().last_activity_at is None


def test_list_open_tasks_of_a_deal(api, manager, other_manager):
    deal = DealFactory(client=ClientFactory(manager=manager))
    later = TaskFactory(deal=deal, due_at=NOW + dt.timedelta(days=3))
    sooner = TaskFactory(deal=deal, due_at=NOW + dt.timedelta(days=1))
    TaskFactory(deal=deal, done_at=NOW)
    TaskFactory(deal=DealFactory(client=ClientFactory(manager=other_manager)))

    response = api(manager).get("/tasks", deal=deal.pk, is_open="true")

    assert [t["id"] for t in response.json()["items"]] == [sooner.pk, later.pk]
    assert len(api(manager).get("/tasks").json()["items"]) == 3


def test_supply_may_not_list_tasks_and_someone_elses_task_is_404(
    api, supply, manager, other_manager
):
    theirs = TaskFactory(deal=DealFactory(client=ClientFactory(manager=other_manager)))

    assert api(supply).get("/tasks").status_code == 403
    assert api(manager).get(f"/tasks/{theirs.pk}").status_code == 404
    assert api(manager).post(f"/tasks/{theirs.pk}/complete", {}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.done_at is None


def test_tasks_page_by_offset_because_a_task_may_have_no_due_date(api, manager):
    deal = DealFactory(client=ClientFactory(manager=manager))
    TaskFactory(deal=deal, due_at=NOW + dt.timedelta(days=1))
    TaskFactory(deal=deal, due_at=NOW + dt.timedelta(days=2))
    TaskFactory(deal=deal, due_at=None)

    first = api(manager).get("/tasks", limit=2)

    assert first.json()["next"] == "/api/v1/tasks?limit=2&offset=2"
