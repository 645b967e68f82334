"""Daily digests: at each person's time (Moscow), once a day, on working days, with the
text the other apps register per role, or the default one."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import (
    ClientFactory,
    DealFactory,
    HeadFactory,
    ManagerFactory,
    RequestFactory,
    TaskFactory,
)
from vrop.notifications import services
from vrop.notifications.digests import digest_send_due
from vrop.notifications.models import OutboxMessage
from vrop.notifications.tasks import digest_send_due_task

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")


def at(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time.fromisoformat(hhmm), MSK)


@pytest.fixture(autouse=True)
def clean_registry():
    saved = list(services._DIGESTS)
    services._DIGESTS.clear()
    yield
    services._DIGESTS[:] = saved


def digests():
    return sorted(OutboxMessage.objects.values_list("user__email", "channel", "dedupe_key"))


def test_sent_at_the_chosen_time_once_a_day(linked_manager):
    linked_manager.digest_time = dt.time(9, 0)
    linked_manager.save()
    key = f"digest:{linked_manager.pk}:2026-11-23"

    with time_machine.travel(at("2026-11-23", "08:59"), tick=False):
        early = digest_send_due()
    with time_machine.travel(at("2026-11-23", "09:00"), tick=False):
        on_time = digest_send_due()
    with time_machine.travel(at("2026-11-23", "09:01"), tick=False):
        again = digest_send_due()
        again_by_the_task = digest_send_due_task.call_local()

    assert (early["sent"], on_time["sent"], again["sent"], again_by_the_task["sent"]) == (
        0,
        1,
        0,
        0,
    )
    assert digests() == [
        (linked_manager.email, "inapp", key),
        (linked_manager.email, "telegram", key),
    ]


def test_without_telegram_the_digest_goes_by_email(settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    user = ManagerFactory(digest_time=dt.time(8, 30))

    with time_machine.travel(at("2026-11-23", "08:30"), tick=False):
        digest_send_due()

    key = f"digest:{user.pk}:2026-11-23"
    assert digests() == [(user.email, "email", key), (user.email, "inapp", key)]


def test_a_missed_minute_is_caught_up_within_two_hours():
    on_time = ManagerFactory(digest_time=dt.time(9, 0))
    too_late = ManagerFactory(digest_time=dt.time(8, 0))

    with time_machine.travel(at("2026-11-23", "10:30"), tick=False):
        result = digest_send_due()

    assert result["sent"] == 1
    assert {e for e, _c, _k in digests()} == {on_time.email}
    assert too_late.notifications.count() == 0


def test_no_digest_on_a_public_holiday():
    ManagerFactory(digest_time=dt.time(9, 0))

    with time_machine.travel(at("2026-11-04", "09:00"), tick=False):  # National Unity Day
        result = digest_send_due()

    assert result == {"day": "2026-11-04", "sent": 0, "working_day": False}
    assert OutboxMessage.objects.count() == 0


def test_dismissed_and_unscheduled_people_get_none():
    ManagerFactory(digest_time=dt.time(9, 0), left_on=dt.date(2026, 11, 1))
    ManagerFactory(digest_time=None)

    with time_machine.travel(at("2026-11-23", "09:00"), tick=False):
        digest_send_due()

    assert OutboxMessage.objects.count() == 0


def test_the_registered_builder_for_a_role_wins():
    head = HeadFactory(digest_time=dt.time(9, 0))
    manager = ManagerFactory(digest_time=dt.time(9, 0))
    services.digest_register("head", lambda *, user, day: f"Доска на {day:%d.%m}: 3 висяка")

    with time_machine.travel(at("2026-11-23", "09:00"), tick=False):
        digest_send_due()

    head_text = OutboxMessage.objects.get(user=head, channel="inapp").text
    manager_text = OutboxMessage.objects.get(user=manager, channel="inapp").text
    assert head_text == "Доска на 23.11: 3 висяка"
    assert manager_text.startswith("Доброе утро")


def test_a_predicate_registration_and_an_empty_digest():
    quiet = ManagerFactory(digest_time=dt.time(9, 0), email="quiet@example.com")
    services.digest_register(lambda user: user.email == "quiet@example.com", lambda **kw: None)

    with time_machine.travel(at("2026-11-23", "09:00"), tick=False):
        result = digest_send_due()

    assert result["sent"] == 0
    assert quiet.notifications.count() == 0


def test_a_broken_builder_does_not_stop_the_others():
    HeadFactory(digest_time=dt.time(9, 0))
    manager = ManagerFactory(digest_time=dt.time(9, 0))

    def broken(**kwargs):
        raise ZeroDivisionError

    services.digest_register("head", broken)
    with time_machine.travel(at("2026-11-23", "09:00"), tick=False):
        result = digest_send_due()

    assert (result["sent"], result["failed"]) == (1, 1)
    assert {e for e, _c, _k in digests()} == {manager.email}


def test_the_default_digest_counts_tasks_and_requests():
    user = ManagerFactory(first_name="Ольга", digest_time=dt.time(9, 0))
    deal = DealFactory(client=ClientFactory(name="ООО «Сталь»", manager=user), manager=user)
    TaskFactory(deal=deal, manager=user, title="Выставить счёт", due_at=at("2026-11-19", "15:00"))
    TaskFactory(deal=deal, manager=user, title="Перезвонить", due_at=at("2026-11-20", "11:00"))
    TaskFactory(deal=deal, manager=user, title="Отправить КП", due_at=at("2026-11-23", "14:30"))
    TaskFactory(deal=deal, manager=user, title="Завтра", due_at=at("2026-11-24", "10:00"))
    TaskFactory(
        deal=deal,
        manager=user,
        title="Сделано",
        due_at=at("2026-11-20", "10:00"),
        done_at=at("2026-11-20", "10:05"),
    )
    RequestFactory(manager=user)

    with time_machine.travel(at("2026-11-23", "09:00"), tick=False):
        digest_send_due()

    message = OutboxMessage.objects.get(user=user, channel="inapp")
    assert message.subject == "Ваш день в Виртуальном РОПе, 23.11.2026"
    assert message.text == (
        "Доброе утро, Ольга! Ваш день, 23.11.2026:\n"
        "2 просроченные задачи\n"
        "1 задача на сегодня\n"
        "1 заявка ждёт вас\n"
        "\n"
        "Первым делом:\n"
        "• 19.11.2026 Выставить счёт — ООО «Сталь»\n"
        "• 20.11.2026 Перезвонить — ООО «Сталь»\n"
        "• 14:30 Отправить КП — ООО «Сталь»"
    )


def test_the_default_digest_of_an_empty_day():
    user = ManagerFactory(first_name="Пётр", digest_time=dt.time(9, 0))

    with time_machine.travel(at("2026-11-23", "09:00"), tick=False):
        digest_send_due()

    assert OutboxMessage.objects.get(user=user, channel="inapp").text == (
        "Доброе утро, Пётр! Ваш день, 23.11.2026:\n"
        "0 просроченных задач\n"
        "0 задач на сегодня\n"
        "0 заявок ждут вас\n"
        "Срочного ничего нет: хороший день, чтобы позвонить клиентам, которые давно молчат."
    )


def test_registration_refuses_unknown_roles():
    with pytest.raises(ValueError):
        services.digest_register("director", lambda **kw: "x")


def test_the_digest_speaks_the_users_language():
    user = ManagerFactory(first_name="Anna", language="en", digest_time=dt.time(9, 0))

    with time_machine.travel(at("2026-11-23", "09:00"), tick=False):
        digest_send_due()

    message = OutboxMessage.objects.get(user=user, channel="inapp")
    assert message.subject == "Your day in Virtual ROP, 23.11.2026"
    assert message.text.splitlines()[:4] == [
        "Good morning, Anna! Your day, 23.11.2026:",
        "0 overdue tasks",
        "0 tasks for today",
        "0 requests waiting for you",
    ]
