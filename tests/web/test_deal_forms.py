"""Deals through the web forms, end to end with the Django test client: the services
compute totals and refuse what breaks a rule; a refusal shows the Russian message and
writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from tests import factories
from vrop.crm import services
from vrop.crm.models import Activity, Deal, DealLine, StageChange, Task

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=MSK)
NEXT_STEP_MESSAGE = "An open deal needs a next step: add a task with a due date."


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def products():
    rebar = factories.ProductFactory(
        name="Арматура А500С ⌀12", cost_price=Decimal("50000.00"), list_price=Decimal("60000.00")
    )
    sheet = factories.ProductFactory(
        name="Лист г/к 4 мм",
        unit="t",
        cost_price=Decimal("70000.00"),
        list_price=Decimal("80000.00"),
    )
    return rebar, sheet


def deal_post(client_obj, lines, **fields):
    data = {
        "client": client_obj.pk if client_obj else "",
        "channel": "phone",
        "title": "Поставка арматуры",
        "need": "20 т до конца месяца",
        "next_step_title": "Перезвонить по КП",
        "next_step_due_at": "2026-11-24T11:00",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for index, line in enumerate(lines):
        for key, value in line.items():
            data[f"lines-{index}-{key}"] = value
    data.update(fields)
    return data


def test_manager_creates_a_deal_with_lines_and_next_step(client, manager, products):
    rebar, sheet = products
    customer = factories.ClientFactory(manager=manager)
    client.force_login(manager)
    lines = [
        {"product": rebar.pk, "qty": "10", "price": "57 000,00"},
        {"product": sheet.pk, "qty": "2,5", "price": ""},
    ]

    response = client.post(reverse("deal-create"), deal_post(customer, lines))

    deal = Deal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("deal-detail", args=[deal.pk])
    assert deal.manager == manager
    assert deal.client == customer
    assert deal.title == "Поставка арматуры"
    # 10 × 57 000 + 2,5 × 80 000 (list price); cost 10 × 50 000 + 2,5 × 70 000
    assert deal.amount == Decimal("770000.00")
    assert deal.cost_amount == Decimal("675000.00")
    assert deal.list_amount == Decimal("800000.00")
    assert deal.volume == Decimal("12.500")
    assert [(line.product_id, line.qty, line.price) for line in deal.lines.all()] == [
        (rebar.pk, Decimal("10.000"), Decimal("57000.00")),
        (sheet.pk, Decimal("2.500"), Decimal("80000.00")),
    ]
    task = Task.objects.get(deal=deal)
    assert task.title == "Перезвонить по КП"
    assert task.due_at == dt.datetime(2026, 11, 24, 11, 0, tzinfo=MSK)
    assert deal.next_step_at == task.due_at
    assert list(deal.stage_changes.values_list("stage", flat=True)) == ["lead"]

    page = client.get(response["Location"]).content.decode()
    assert "95\u00a0000,00\u00a0₽" in page  # gross profit 770 000 − 675 000
    assert "12,3\u00a0%" in page  # margin 95 000 / 770 000


def test_a_deal_without_a_next_step_is_refused_with_the_russian_message(client, manager, products):
    rebar, _sheet = products
    customer = factories.ClientFactory(manager=manager)
    client.force_login(manager)
    data = deal_post(
        customer, [{"product": rebar.pk, "qty": "1"}], next_step_title="", next_step_due_at=""
    )

    response = client.post(reverse("deal-create"), data)

    with translation.override("ru"):
        expected = translation.gettext(NEXT_STEP_MESSAGE)
    html = response.content.decode()
    assert response.status_code == 422
    assert expected != NEXT_STEP_MESSAGE  # the rule's message has a Russian translation
    assert expected in html
    assert 'value="Поставка арматуры"' in html  # the form keeps what was typed
    assert Deal.objects.count() == 0
    assert DealLine.objects.count() == 0
    assert Task.objects.count() == 0
    assert StageChange.objects.count() == 0


def test_bad_quantity_is_a_form_error_and_nothing_is_written(client, manager, products):
    rebar, _sheet = products
    client.force_login(manager)
    data = deal_post(None, [{"product": rebar.pk, "qty": "много"}])

    response = client.post(reverse("deal-create"), data)

    assert response.status_code == 422
    assert "«много» — не число." in response.content.decode()
    assert Deal.objects.count() == 0


def test_a_manager_cannot_attach_another_managers_client(client, manager, other_manager, products):
    foreign = factories.ClientFactory(manager=other_manager)
    client.force_login(manager)

    response = client.post(reverse("deal-create"), deal_post(foreign, []))

    assert response.status_code == 422
    assert Deal.objects.count() == 0


def test_finance_may_not_create_deals(client, finance, products):
    client.force_login(finance)

    response = client.post(reverse("deal-create"), deal_post(None, []))

    assert response.status_code == 403
    assert Deal.objects.count() == 0


def _deal_with_lines(manager, products):
    rebar, sheet = products
    return services.deal_create(
        actor=manager,
        client=factories.ClientFactory(manager=manager),
        title="Старое название",
        lines=[
            services.LineInput(product=rebar, qty=Decimal("10"), price=Decimal("57000")),
            services.LineInput(product=sheet, qty=Decimal("1"), price=Decimal("80000")),
        ],
        next_step_title="Позвонить",
        next_step_due_at=NOW + dt.timedelta(days=1),
    )


def test_edit_replaces_lines_and_keeps_the_cost_of_kept_lines(client, manager, products):
    rebar, sheet = products
    deal = _deal_with_lines(manager, products)
    kept, removed = list(deal.lines.order_by("position"))
    rebar.cost_price = Decimal("52000.00")
    rebar.save()
    pipe = factories.ProductFactory(
        name="Труба 57×3,5", cost_price=Decimal("900.00"), list_price=Decimal("1000.00")
    )
    client.force_login(manager)
    data = deal_post(
        deal.client,
        [
            {"line_id": kept.pk, "product": rebar.pk, "qty": "12", "price": "57000"},
            {"line_id": removed.pk, "product": sheet.pk, "qty": "1", "price": "", "DELETE": "on"},
            {"product": pipe.pk, "qty": "100", "price": "950"},
        ],
        title="Новое название",
        next_step_title="",
        next_step_due_at="",
    )
    data["lines-INITIAL_FORMS"] = "2"

    response = client.post(reverse("deal-edit", args=[deal.pk]), data)

    deal.refresh_from_db()
    assert response.status_code == 302
    assert deal.title == "Новое название"
    lines = list(deal.lines.order_by("position"))
    assert [(line.product_id, line.qty, line.cost_price) for line in lines] == [
        (rebar.pk, Decimal("12.000"), Decimal("50000.00")),  # cost at the time of the deal
        (pipe.pk, Decimal("100.000"), Decimal("900.00")),
    ]
    assert deal.amount == Decimal("779000.00")  # 12 × 57 000 + 100 × 950
    assert deal.cost_amount == Decimal("690000.00")  # 12 × 50 000 + 100 × 900


def test_editing_a_deal_without_next_step_is_refused_and_nothing_changes(client, manager, products):
    rebar, _sheet = products
    deal = factories.DealFactory(manager=manager, client=factories.ClientFactory(manager=manager))
    client.force_login(manager)
    data = deal_post(
        deal.client,
        [{"product": rebar.pk, "qty": "5"}],
        title="Другое название",
        next_step_title="",
        next_step_due_at="",
    )

    response = client.post(reverse("deal-edit", args=[deal.pk]), data)

    deal.refresh_from_db()
    assert response.status_code == 422
    assert deal.title.startswith("Сделка ")
    assert deal.lines.count() == 0
    assert deal.amount == Decimal("0")


def test_editing_with_a_new_next_step_fixes_a_stalled_deal(client, manager, products):
    rebar, _sheet = products
    deal = factories.DealFactory(manager=manager, client=factories.ClientFactory(manager=manager))
    client.force_login(manager)
    data = deal_post(deal.client, [{"product": rebar.pk, "qty": "5"}], title="Исправлено")

    response = client.post(reverse("deal-edit", args=[deal.pk]), data)

    deal.refresh_from_db()
    assert response.status_code == 302
    assert deal.title == "Исправлено"
    assert deal.amount == Decimal("300000.00")
    assert deal.next_step_at == dt.datetime(2026, 11, 24, 11, 0, tzinfo=MSK)


def test_lost_needs_a_reason(client, manager, products):
    deal = _deal_with_lines(manager, products)
    client.force_login(manager)

    refused = client.post(
        reverse("deal-stage", args=[deal.pk]), {"stage": "lost", "lost_reason": ""}, follow=True
    )
    deal.refresh_from_db()
    assert deal.stage == "lead"
    assert "Укажите причину отказа." in refused.content.decode()
    assert deal.stage_changes.count() == 1

    client.post(reverse("deal-stage", args=[deal.pk]), {"stage": "lost", "lost_reason": "Дорого"})
    deal.refresh_from_db()
    assert deal.stage == "lost"
    assert deal.lost_reason == "Дорого"
    assert list(deal.stage_changes.values_list("from_stage", "stage")) == [
        ("", "lead"),
        ("lead", "lost"),
    ]


def test_copy_makes_a_new_deal_with_the_same_lines(client, manager, products):
    deal = _deal_with_lines(manager, products)
    client.force_login(manager)

    response = client.post(
        reverse("deal-copy", args=[deal.pk]),
        {"title": "Уточнить объём", "due_at": "2026-11-25T09:00"},
    )

    copy = Deal.objects.exclude(pk=deal.pk).get()
    assert response["Location"] == reverse("deal-detail", args=[copy.pk])
    assert copy.copied_from == deal
    assert copy.channel == "repeat"
    assert copy.amount == deal.amount
    assert [(x.product_id, x.qty) for x in copy.lines.all()] == [
        (x.product_id, x.qty) for x in deal.lines.all()
    ]


def test_copy_without_next_step_is_refused(client, manager, products):
    deal = _deal_with_lines(manager, products)
    client.force_login(manager)

    client.post(reverse("deal-copy", args=[deal.pk]), {"title": "", "due_at": ""})

    assert Deal.objects.count() == 1


def test_add_a_task_in_place_with_htmx(client, manager, products):
    deal = _deal_with_lines(manager, products)
    client.force_login(manager)

    response = client.post(
        reverse("task-create", args=[deal.pk]),
        {"title": "Отправить счёт", "due_at": "2026-11-23T15:00"},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="tasks"' in html
    assert "Отправить счёт" in html
    assert deal.tasks.filter(title="Отправить счёт", done_at__isnull=True).count() == 1


def test_a_task_in_the_past_is_refused(client, manager, products):
    deal = _deal_with_lines(manager, products)
    client.force_login(manager)

    response = client.post(
        reverse("task-create", args=[deal.pk]),
        {"title": "Вчера", "due_at": "2026-11-20T15:00"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert "Следующий шаг не может быть в прошлом." in response.content.decode()
    assert deal.tasks.count() == 1


def test_completing_the_last_next_step_needs_a_new_one(client, manager, products):
    deal = _deal_with_lines(manager, products)
    task = deal.tasks.get()
    client.force_login(manager)
    url = reverse("task-complete", args=[task.pk])

    refused = client.post(url, {"result": "Дозвонился"}, HTTP_HX_REQUEST="true")
    task.refresh_from_db()
    assert refused.status_code == 422
    assert task.done_at is None

    done = client.post(
        url,
        {"result": "Дозвонился", "next_title": "Выставить счёт", "next_due_at": "2026-11-25T10:00"},
        HTTP_HX_REQUEST="true",
    )
    task.refresh_from_db()
    deal.refresh_from_db()
    assert done.status_code == 200
    assert task.done_at == NOW
    assert task.result == "Дозвонился"
    assert deal.next_step_at == dt.datetime(2026, 11, 25, 10, 0, tzinfo=MSK)
    assert "Выставить счёт" in done.content.decode()


def test_another_manager_cannot_complete_my_task(client, manager, other_manager, products):
    deal = _deal_with_lines(manager, products)
    task = deal.tasks.get()
    client.force_login(other_manager)

    response = client.post(reverse("task-complete", args=[task.pk]), {"result": "x"})

    task.refresh_from_db()
    assert response.status_code == 404
    assert task.done_at is None


def test_add_a_note_in_place_with_htmx(client, manager, products):
    deal = _deal_with_lines(manager, products)
    client.force_login(manager)

    response = client.post(
        reverse("activity-create", args=[deal.pk]),
        {"kind": "note", "subject": "Клиент просит скидку", "body": "Ждёт ответа до пятницы"},
        HTTP_HX_REQUEST="true",
    )

    activity = Activity.objects.get(deal=deal)
    assert response.status_code == 200
    assert activity.user == manager
    assert activity.subject == "Клиент просит скидку"
    assert "Клиент просит скидку" in response.content.decode()


def test_an_empty_note_is_refused(client, manager, products):
    deal = _deal_with_lines(manager, products)
    client.force_login(manager)

    response = client.post(
        reverse("activity-create", args=[deal.pk]),
        {"kind": "note", "subject": "", "body": ""},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert "Напишите, что произошло." in response.content.decode()
    assert Activity.objects.count() == 0
