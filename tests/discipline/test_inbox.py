"""The inbox: registration, distribution (in turn, weighted, by segment and channel,
skipping absent, off-shift and full managers), accept / link / decline, the head's
reassignment, and the refusals of bad input — in Russian, with nothing changed."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import (
    ClientFactory,
    DealFactory,
    DistributionMemberFactory,
    DistributionRuleFactory,
    HeadFactory,
    ManagerFactory,
    RequestFactory,
)
from vrop.core.errors import NotFound, PermissionDenied, ValidationError
from vrop.core.policy import company_settings
from vrop.crm import inbox
from vrop.crm.choices import ActivityKind, RequestStatus
from vrop.crm.models import Activity, Client, Deal, Request, Task
from vrop.discipline.models import Assignment

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=MSK)  # Wednesday noon


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def register(**fields):
    values = {
        "actor": None,
        "channel": "website",
        "phone": "+79001234567",
        "text": "Нужна арматура",
    }
    values.update(fields)
    return inbox.request_register(**values)


def assigned_to(count, **fields):
    return [register(phone=f"+7900000{n:04d}", **fields).manager for n in range(count)]


def test_round_robin_gives_requests_in_turn_and_logs_each():
    rule = DistributionRuleFactory(method="round_robin")
    first, second, third = (DistributionMemberFactory(rule=rule).user for _ in range(3))

    managers = assigned_to(5)

    assert managers == [first, second, third, first, second]
    log = list(Assignment.objects.order_by("id").values_list("manager_id", "rule_id", "reason"))
    assert log == [(m.pk, rule.pk, "по очереди") for m in managers]


def test_weighted_distribution_follows_the_weights():
    rule = DistributionRuleFactory(method="weighted")
    heavy = DistributionMemberFactory(rule=rule, weight=2).user
    light = DistributionMemberFactory(rule=rule, weight=1).user

    managers = assigned_to(6)

    assert managers == [heavy, light, heavy, heavy, light, heavy]


def test_absent_dismissed_off_shift_and_full_managers_are_skipped():
    policy = company_settings()
    policy.open_requests_cap = 2
    policy.save()
    rule = DistributionRuleFactory()
    absent = DistributionMemberFactory(rule=rule, user=ManagerFactory(is_absent=True)).user
    gone = DistributionMemberFactory(rule=rule, user=ManagerFactory(left_on=dt.date(2026, 11, 1)))
    evening = DistributionMemberFactory(rule=rule, shift_start=dt.time(14, 0)).user
    not_wednesday = DistributionMemberFactory(rule=rule, weekdays=[0, 1, 3, 4]).user
    busy = DistributionMemberFactory(rule=rule).user
    RequestFactory.create_batch(2, manager=busy)
    free = DistributionMemberFactory(rule=rule).user

    managers = assigned_to(3)

    assert managers == [free, free, None]
    assert {absent, gone.user, evening, not_wednesday, busy}.isdisjoint(managers)
    last = Assignment.objects.order_by("id").last()
    assert last.manager is None
    assert last.reason.startswith("некому")


def test_rules_by_channel_and_segment_take_precedence_by_priority():
    tender_team = DistributionMemberFactory(
        rule=DistributionRuleFactory(channel="tender", priority=1)
    ).user
    builders = DistributionMemberFactory(
        rule=DistributionRuleFactory(segment="construction", priority=2)
    ).user
    everyone = DistributionMemberFactory(rule=DistributionRuleFactory(priority=9)).user
    ClientFactory(inn="7707083893", segment="construction", manager=None)

    assert register(channel="tender").manager == tender_team
    assert register(inn="7707083893", phone="").manager == builders
    assert register(channel="phone").manager == everyone


def test_a_known_client_goes_to_their_manager():
    DistributionMemberFactory(rule=DistributionRuleFactory())
    client = ClientFactory(email="zakupki@stroy.example")
    request = register(email="zakupki@stroy.example", phone="")
    assert request.manager == client.manager
    assert Assignment.objects.get(request=request).reason == "менеджер клиента"


def test_a_manager_typing_in_their_own_call_keeps_it(manager):
    DistributionMemberFactory(rule=DistributionRuleFactory())
    request = register(actor=manager, channel="phone")
    assert (request.manager, request.received_at, request.channel) == (manager, NOW, "phone")
    assert Assignment.objects.get(request=request).actor == manager


def test_import_of_the_same_request_twice_changes_nothing():
    first = register(source="amocrm", external_id="L-17", received_at=NOW - dt.timedelta(hours=1))
    second = register(source="amocrm", external_id="L-17", text="другой текст")
    assert first.pk == second.pk
    assert Request.objects.count() == 1
    assert Request.objects.get().received_at == NOW - dt.timedelta(hours=1)


def test_accept_makes_a_deal_with_the_arrival_time_and_a_next_step(manager):
    request = RequestFactory(
        manager=manager,
        received_at=NOW - dt.timedelta(minutes=30),
        company_name="ООО «Стройметалл»",
        inn="7707083893",
        contact_name="Иван Петров",
        phone="+79001112233",
        text="Арматура А500С 12 мм, 20 т",
    )
    due = NOW + dt.timedelta(hours=2)

    deal = inbox.request_accept(
        actor=manager, request=request, next_step_title="Отправить КП", next_step_due_at=due
    )

    request.refresh_from_db()
    assert (request.status, request.deal, request.processed_at) == ("accepted", deal, NOW)
    assert deal.received_at == NOW - dt.timedelta(minutes=30)
    assert (deal.manager, deal.need, deal.next_step_at) == (manager, request.text, due)
    assert deal.client.name == "ООО «Стройметалл»" and deal.client.inn == "7707083893"
    assert list(deal.client.contacts.values_list("name", "phone")) == [
        ("Иван Петров", "+79001112233")
    ]
    assert Task.objects.get(deal=deal).title == "Отправить КП"


def test_accept_uses_the_existing_client_found_by_inn(manager):
    client = ClientFactory(inn="7707083893", manager=manager)
    request = RequestFactory(manager=manager, inn="7707083893")
    deal = inbox.request_accept(
        actor=manager, request=request, next_step_due_at=NOW + dt.timedelta(days=1)
    )
    assert deal.client == client
    assert Client.objects.count() == 1


def test_accept_with_a_next_step_in_the_past_is_refused_in_russian(manager):
    request = RequestFactory(manager=manager)
    with pytest.raises(ValidationError) as error:
        inbox.request_accept(
            actor=manager, request=request, next_step_due_at=NOW - dt.timedelta(hours=1)
        )
    assert str(error.value) == "Следующий шаг не может быть в прошлом."
    request.refresh_from_db()
    assert request.status == RequestStatus.NEW
    assert (Deal.objects.count(), Client.objects.filter(requests=None).count()) == (0, 0)


def test_link_to_a_deal_records_a_note_on_the_deal(manager):
    deal = DealFactory(manager=manager, client__manager=manager)
    request = RequestFactory(manager=manager, text="Повторный звонок по счёту")
    inbox.request_link(actor=manager, request=request, deal=deal)
    request.refresh_from_db()
    assert (request.status, request.deal, request.client) == ("linked", deal, deal.client)
    note = Activity.objects.get(deal=deal)
    assert (note.kind, note.body) == (ActivityKind.NOTE, "Повторный звонок по счёту")


def test_decline_without_reason_is_refused_in_russian_and_nothing_changes(manager):
    request = RequestFactory(manager=manager)
    with pytest.raises(ValidationError) as error:
        inbox.request_decline(actor=manager, request=request, reason="   ")
    assert str(error.value) == "Укажите причину отказа по заявке."
    request.refresh_from_db()
    assert (request.status, request.decline_reason, request.processed_at) == ("new", "", None)
    inbox.request_decline(actor=manager, request=request, reason="Спам")
    request.refresh_from_db()
    assert (request.status, request.decline_reason) == ("declined", "Спам")


def test_a_processed_request_cannot_be_processed_again(manager):
    request = RequestFactory(manager=manager, status=RequestStatus.DECLINED)
    with pytest.raises(ValidationError) as error:
        inbox.request_link(actor=manager, request=request, client=ClientFactory(manager=manager))
    assert str(error.value) == "Заявка уже разобрана."


def test_a_manager_cannot_touch_another_managers_request(manager, other_manager):
    request = RequestFactory(manager=other_manager)
    with pytest.raises(NotFound):
        inbox.request_decline(actor=manager, request=request, reason="Спам")
    request.refresh_from_db()
    assert request.status == RequestStatus.NEW


def test_the_head_reassigns_and_it_is_logged(manager, other_manager):
    head = HeadFactory()
    request = RequestFactory(manager=manager)
    inbox.request_reassign(actor=head, request=request, manager=other_manager, reason="отпуск")
    request.refresh_from_db()
    assert request.manager == other_manager
    entry = Assignment.objects.get(request=request)
    assert (entry.previous_manager, entry.manager, entry.actor) == (manager, other_manager, head)
    assert entry.reason == f"передал(а) {head}: отпуск"


def test_reassignment_to_a_dismissed_manager_is_refused_in_russian(manager):
    head = HeadFactory()
    gone = ManagerFactory(left_on=dt.date(2026, 11, 1), last_name="Уволенный", first_name="Пётр")
    request = RequestFactory(manager=manager)
    with pytest.raises(ValidationError) as error:
        inbox.request_reassign(actor=head, request=request, manager=gone)
    assert str(error.value) == "Пётр Уволенный уволен(а): выберите другого менеджера."
    request.refresh_from_db()
    assert request.manager == manager
    assert Assignment.objects.count() == 0


def test_a_manager_cannot_reassign(manager, other_manager):
    request = RequestFactory(manager=manager)
    with pytest.raises(PermissionDenied):
        inbox.request_reassign(actor=manager, request=request, manager=other_manager)
    request.refresh_from_db()
    assert request.manager == manager


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"phone": "", "text": ""}, "В заявке нужен телефон, e-mail или текст."),
        ({"received_at": NOW + dt.timedelta(hours=1)}, "Заявка не может поступить в будущем."),
    ],
)
def test_bad_requests_are_refused(fields, message):
    with pytest.raises(ValidationError) as error:
        register(**fields)
    assert str(error.value) == message
    assert Request.objects.count() == 0
