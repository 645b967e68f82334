"""Today, the control board and the inbox pages, with their HTMX actions through the
services; refusals shown in Russian with nothing changed; bounded queries."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client as WebClient

from tests.factories import (
    DealFactory,
    HeadFactory,
    ManagerFactory,
    RequestFactory,
    TaskFactory,
)
from vrop.crm.choices import RequestStatus, Stage
from vrop.crm.models import Deal, Task
from vrop.discipline.models import Snooze

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=MSK)
HTMX = {"HX-Request": "true"}


def msk(day, hour, minute=0):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=MSK)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def browser(user):
    web = WebClient()
    web.force_login(user)
    return web


def day_of(manager):
    deal = DealFactory(
        manager=manager,
        client__manager=manager,
        client__name="ООО «Профиль»",
        title="Профнастил",
        need="Профнастил С8, 500 м²",
        stage=Stage.CONTACT,
        amount=Decimal("200000"),
        cost_amount=Decimal("180000"),
        last_activity_at=msk(17, 15),
        next_step_at=msk(18, 10),
    )
    overdue = TaskFactory(deal=deal, manager=manager, title="Перезвонить", due_at=msk(18, 10))
    later = TaskFactory(deal=deal, manager=manager, title="Отправить счёт", due_at=msk(18, 16))
    TaskFactory(deal=deal, manager=manager, title="Завтра", due_at=msk(19, 10))
    return deal, overdue, later


def test_today_shows_overdue_first_with_client_context(manager, django_assert_max_num_queries):
    deal, overdue, later = day_of(manager)
    RequestFactory(manager=manager, company_name="ООО «Новый клиент»")
    DealFactory(manager=manager, client__manager=manager, title="Висяк без шага")
    for n in range(5):  # more rows, not more queries
        TaskFactory(deal=deal, manager=manager, title=f"Ещё {n}", due_at=msk(18, 17))
    web = browser(manager)
    with django_assert_max_num_queries(14):
        response = web.get("/discipline/today/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("Перезвонить") < html.index("Отправить счёт")
    assert "Завтра" not in html
    assert "Профнастил С8, 500 м²" in html and "ООО «Профиль»" in html
    assert "10,0\xa0%" in html  # the deal's margin: 20 000 of 200 000
    assert "ООО «Новый клиент»" in html
    assert "Висяк без шага" in html and "нет следующего шага" in html


def test_done_with_next_step_in_place(manager):
    deal, overdue, later = day_of(manager)
    response = browser(manager).post(
        f"/discipline/today/tasks/{later.pk}/done/",
        {
            "result": "Договорились",
            "next_step_title": "Отгрузка",
            "next_step_due_at": "2026-11-20T10:00",
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    assert f'id="task-{later.pk}"' in response.content.decode()
    later.refresh_from_db()
    assert (later.done_at, later.result) == (NOW, "Договорились")
    assert Task.objects.get(deal=deal, title="Отгрузка").due_at == msk(20, 10)


def test_reschedule_into_the_past_is_refused_in_russian(manager):
    deal, overdue, later = day_of(manager)
    response = browser(manager).post(
        f"/discipline/today/tasks/{overdue.pk}/reschedule/",
        {"due_at": "2026-11-17T10:00"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "Следующий шаг не может быть в прошлом." in response.content.decode()
    overdue.refresh_from_db()
    assert overdue.due_at == msk(18, 10)


def test_set_next_step_and_snooze_in_place(manager):
    stalled = DealFactory(manager=manager, client__manager=manager)
    web = browser(manager)
    response = web.post(
        f"/discipline/deals/{stalled.pk}/next-step/",
        {"title": "Уточнить объём", "due_at": "2026-11-19T11:00"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert Deal.objects.get(pk=stalled.pk).next_step_at == msk(19, 11)
    refused = web.post(
        f"/discipline/deals/{stalled.pk}/snooze/",
        {"reason": "", "resume_on": "2026-11-25"},
        headers=HTMX,
    )
    assert "Напишите, чего ждёт сделка." in refused.content.decode()
    assert Snooze.objects.count() == 0
    web.post(
        f"/discipline/deals/{stalled.pk}/snooze/",
        {"reason": "Ждём тендер", "resume_on": "2026-11-25"},
        headers=HTMX,
    )
    assert Snooze.objects.get().resume_on == dt.date(2026, 11, 25)


def test_a_manager_cannot_act_on_another_managers_task(manager, other_manager):
    deal, overdue, later = day_of(other_manager)
    response = browser(manager).post(
        f"/discipline/today/tasks/{overdue.pk}/done/", {}, headers=HTMX
    )
    assert response.status_code == 404
    overdue.refresh_from_db()
    assert overdue.done_at is None


def test_board_for_the_head_with_click_through(manager, django_assert_max_num_queries):
    head = HeadFactory()
    stalled = DealFactory(
        manager=manager, client__manager=manager, title="Висяк", amount=Decimal("5000")
    )
    TaskFactory(deal=DealFactory(manager=manager, client__manager=manager), due_at=msk(17, 10))
    RequestFactory(manager=manager)
    for _ in range(3):  # more managers and rows, not more queries
        DealFactory(manager=ManagerFactory(), title="Ещё висяк")
    web = browser(head)
    with django_assert_max_num_queries(26):
        response = web.get("/discipline/board/")
    assert response.status_code == 200
    html = response.content.decode()
    assert str(manager) in html
    assert f"/discipline/board/{manager.pk}/stalled/" in html
    drill = web.get(f"/discipline/board/{manager.pk}/stalled/")
    assert drill.status_code == 200 and "Висяк" in drill.content.decode()
    assert (
        stalled.title in web.get(f"/discipline/board/{manager.pk}/no_next_step/").content.decode()
    )


def test_board_is_for_the_head_and_owner_only(manager):
    assert browser(manager).get("/discipline/board/").status_code == 403


def test_inbox_decline_without_reason_then_with(manager):
    request = RequestFactory(manager=manager, company_name="ООО «Спам»", channel="website")
    web = browser(manager)
    page = web.get("/discipline/inbox/")
    assert "ООО «Спам»" in page.content.decode()
    assert '<div class="small text-muted">форма на сайте</div>' in page.content.decode()
    refused = web.post(f"/discipline/inbox/{request.pk}/decline/", {"reason": ""}, headers=HTMX)
    assert "Укажите причину отказа по заявке." in refused.content.decode()
    request.refresh_from_db()
    assert request.status == RequestStatus.NEW
    web.post(f"/discipline/inbox/{request.pk}/decline/", {"reason": "Спам"}, headers=HTMX)
    request.refresh_from_db()
    assert (request.status, request.decline_reason) == ("declined", "Спам")


def test_inbox_accept_and_reassign(manager, other_manager):
    head = HeadFactory()
    first = RequestFactory(manager=manager, company_name="ООО «Заказ»")
    second = RequestFactory(manager=manager)
    response = browser(manager).post(
        f"/discipline/inbox/{first.pk}/accept/",
        {"next_step_title": "Позвонить", "next_step_due_at": "2026-11-18T15:00"},
        headers=HTMX,
    )
    assert response.status_code == 200
    first.refresh_from_db()
    assert first.status == RequestStatus.ACCEPTED and first.deal.client.name == "ООО «Заказ»"
    gone = ManagerFactory(left_on=dt.date(2026, 11, 1))
    refused = browser(head).post(
        f"/discipline/inbox/{second.pk}/reassign/", {"manager_id": gone.pk}, headers=HTMX
    )
    assert "уволен(а): выберите другого менеджера." in refused.content.decode()
    browser(head).post(
        f"/discipline/inbox/{second.pk}/reassign/", {"manager_id": other_manager.pk}, headers=HTMX
    )
    second.refresh_from_db()
    assert second.manager == other_manager


def test_register_by_hand_from_the_inbox_page(manager):
    browser(manager).post(
        "/discipline/inbox/new/", {"channel": "phone", "phone": "+79005554433", "text": "Уголок"}
    )
    request = manager.requests.get()
    assert (request.channel, request.phone, request.received_at) == ("phone", "+79005554433", NOW)


def test_board_rows_link_each_number_and_escape_names():
    head = HeadFactory()
    odd = ManagerFactory(first_name="<b>Иван</b>", last_name="Ёлкин", is_absent=True)
    # Arrived at 9:00, no contact by 12:00: both SLA (15 and 120 working minutes) breached;
    # no next step: stalled.
    DealFactory(manager=odd, client__manager=odd, amount=Decimal("1234.5"), received_at=msk(18, 9))
    TaskFactory(deal=DealFactory(manager=odd, client__manager=odd), manager=odd, due_at=msk(17, 9))
    DealFactory(manager=None, client__manager=None)
    html = browser(head).get("/discipline/board/").content.decode()
    assert "&lt;b&gt;Иван&lt;/b&gt; Ёлкин</a>" in html and "<b>Иван" not in html
    assert "отсутствует" in html
    base = f"/discipline/board/{odd.pk}"
    assert f'<td class="num"><a href="{base}/stalled/">2</a></td>' in html
    assert '<td class="num">1\xa0234,50\xa0₽</td>' in html
    assert f'<td class="num"><a href="{base}/overdue/">1</a></td>' in html
    assert (
        f'<a href="{base}/sla_today/">2</a></td><td class="num"><a href="{base}/sla/">2</a>' in html
    )
    assert f'<td class="num"><a href="{base}/no_next_step/">2</a></td>' in html
    assert '<span class="text-muted">никто</span>' in html
    assert '<a href="/discipline/board/0/stalled/">1</a>' in html


def test_board_queries_do_not_grow_with_managers(manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    web = browser(HeadFactory())
    DealFactory(manager=manager, client__manager=manager)
    web.get("/discipline/board/")
    with CaptureQueriesContext(connection) as few:
        first = web.get("/discipline/board/").content.decode()
    for _ in range(5):
        other = ManagerFactory()
        DealFactory(manager=other, client__manager=other)
        RequestFactory(manager=other)
        TaskFactory(manager=other, due_at=msk(17, 9))
    with CaptureQueriesContext(connection) as many:
        page = web.get("/discipline/board/")
    assert page.content.decode().count('class="behind"') >= first.count('class="behind"') + 5
    assert len(many) == len(few) <= 12


def test_board_links_a_managers_waiting_requests_to_the_inbox_filtered(manager):
    other = ManagerFactory()
    RequestFactory(manager=manager, company_name="ООО «Моя заявка»")
    RequestFactory(manager=other, company_name="ООО «Чужая заявка»")
    RequestFactory(manager=None, company_name="ООО «Ничья заявка»")
    head = browser(HeadFactory())

    board = head.get("/discipline/board/").content.decode()
    mine = head.get(f"/discipline/inbox/?manager={manager.pk}").content.decode()
    as_manager = browser(other).get(f"/discipline/inbox/?manager={manager.pk}").content.decode()

    assert f'<a href="/discipline/inbox/?manager={manager.pk}">1</a>' in board
    assert '<a href="/discipline/inbox/?tab=unassigned">1</a>' in board
    assert "ООО «Моя заявка»" in mine and "ООО «Чужая заявка»" not in mine
    assert "ООО «Ничья заявка»" not in mine
    # A manager sees their own requests only, whatever the address says.
    assert "ООО «Чужая заявка»" in as_manager and "ООО «Моя заявка»" not in as_manager


def test_today_counts_every_waiting_request_beyond_the_list(manager):
    from vrop.discipline.selectors import today

    RequestFactory.create_batch(3, manager=manager)

    day = today(viewer=manager, rows=2)

    assert (len(day.requests), day.requests_count) == (2, 3)
    assert today(viewer=manager, rows=5).requests_count == 3
