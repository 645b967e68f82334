"""Nudges through the notifications outbox: each person hears once, in the text written
for them (manager, head, owner); and the daily digests of the discipline area."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import DealFactory, HeadFactory, OwnerFactory, RequestFactory, TaskFactory
from vrop.core.money import format_money
from vrop.crm.choices import Stage
from vrop.discipline import services
from vrop.discipline.digests import head_digest, manager_digest
from vrop.notifications.models import OutboxMessage
from vrop.notifications.services import digest_builder_for

pytestmark = pytest.mark.django_db

BIG = format_money(Decimal("1234567.89"))
SMALL = format_money(Decimal("1006"))

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=MSK)


def msk(day, hour, minute=0):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=MSK)


def stalled_deal(manager, **fields):
    values = {
        "manager": manager,
        "client__manager": manager,
        "client__name": "ООО «Стальпром»",
        "title": "Арматура 20 т",
        "stage": Stage.CONTACT,
        "received_at": msk(17, 10),
        "stage_changed_at": msk(17, 10),
        "first_contact_at": msk(17, 10, 5),
        "quote_sent_at": msk(17, 11),
        "last_activity_at": msk(18, 9),
        "next_step_at": None,
        "amount": Decimal("1234567.89"),
    }
    values.update(fields)
    return DealFactory(**values)


def texts_of(user):
    return list(
        OutboxMessage.objects.filter(user=user, channel="inapp")
        .order_by("id")
        .values_list("text", flat=True)
    )


def test_manager_then_head_then_owner_each_hear_once(manager):
    manager.last_name, manager.first_name = "Иванов", "Пётр"
    manager.save()
    head, owner = HeadFactory(), OwnerFactory()
    with time_machine.travel(NOW, tick=False):
        stalled_deal(manager)
        services.sweep()
        services.sweep()
    assert texts_of(manager) == [
        "У вас 1 висяк. Назначьте ему следующий шаг со сроком или отложите с причиной:\n"
        f"• Арматура 20 т — ООО «Стальпром», {BIG}"
    ]
    assert texts_of(head) == [] and texts_of(owner) == []
    with time_machine.travel(msk(18, 16, 1), tick=False):
        services.sweep()
        services.sweep()
    assert texts_of(head) == [
        "У менеджера Пётр Иванов 1 сделка висит дольше 4 рабочих часов. Позвоните и "
        "договоритесь о следующем шаге сегодня:\n"
        f"• Арматура 20 т — ООО «Стальпром», {BIG}"
    ]
    with time_machine.travel(msk(20, 10, 1), tick=False):
        services.sweep()
    assert len(texts_of(owner)) == 1
    assert texts_of(owner)[0].startswith(
        "1 сделка менеджера Пётр Иванов висит дольше 16 рабочих часов, и РОП её не исправил."
    )
    assert len(texts_of(manager)) == 1 and len(texts_of(head)) == 1


def test_a_request_without_manager_reaches_the_head():
    head = HeadFactory()
    with time_machine.travel(NOW, tick=False):
        RequestFactory(manager=None, received_at=msk(18, 11), company_name="ООО «Ромашка»")
        services.sweep()
    [text] = texts_of(head)
    assert text.startswith("1 заявка ждёт без менеджера. Назначьте её:\n• #")
    assert text.endswith("ООО «Ромашка»")
    message = OutboxMessage.objects.get(user=head)
    assert message.link == "/discipline/inbox/"


def test_many_alerts_make_one_message_with_examples(manager):
    with time_machine.travel(NOW, tick=False):
        for n in range(7):
            stalled_deal(manager, title=f"Сделка {n}", amount=Decimal(1000 + n))
        services.sweep()
    [text] = texts_of(manager)
    lines = text.split("\n")
    assert lines[0].startswith("У вас 7 висяков.")
    assert lines[1] == f"• Сделка 6 — ООО «Стальпром», {SMALL}"
    assert lines[-1] == "…и ещё 2."
    assert len(lines) == 7


def test_manager_digest_lists_overdue_first(manager):
    with time_machine.travel(NOW, tick=False):
        deal = stalled_deal(manager, next_step_at=msk(19, 10), title="Листы")
        TaskFactory(deal=deal, manager=manager, title="Позвонить", due_at=msk(18, 10))
        TaskFactory(deal=deal, manager=manager, title="Отправить КП", due_at=msk(18, 15))
        text = manager_digest(user=manager, day=NOW.date())
    assert text == (
        "Сегодня: просрочено 1, задач на сегодня 1, заявок ждут 0, висяков 0.\n"
        "Сначала просроченное:\n"
        f"• 18.11 10:00 Позвонить — ООО «Стальпром», {BIG}\n"
        f"• 18.11 15:00 Отправить КП — ООО «Стальпром», {BIG}"
    )
    assert digest_builder_for(manager) is manager_digest


def test_head_digest_is_the_board_in_short(manager):
    manager.last_name, manager.first_name = "Иванов", "Пётр"
    manager.save()
    head = HeadFactory()
    with time_machine.travel(NOW, tick=False):
        stalled_deal(manager)
        text = head_digest(user=head, day=NOW.date())
    assert text.split("\n") == [
        f"Отдел: висяков 1 на {BIG}, просроченных задач 0, нарушений SLA за неделю 0, "
        "неразобранных заявок 0, сделок без следующего шага 1.",
        f"• Пётр Иванов: висяков 1 ({BIG}), просрочено 0, SLA 0, заявок 0, без следующего шага 1",
    ]
    assert digest_builder_for(head) is head_digest
