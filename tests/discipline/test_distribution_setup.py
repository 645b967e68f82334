"""The head sets up request distribution on a web page: rules (create, edit, on/off,
order), their managers (weight, shift, weekdays), the cap of open requests and who is
absent; every write through the services, refusals in Russian with nothing changed, and
the distribution then follows what was set."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client as WebClient

from tests.factories import (
    DistributionMemberFactory,
    DistributionRuleFactory,
    FinanceFactory,
    HeadFactory,
    ManagerFactory,
    OwnerFactory,
    RequestFactory,
)
from vrop.accounts.models import User
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.core.policy import company_settings
from vrop.crm import inbox
from vrop.discipline import distribution_setup as setup
from vrop.discipline.models import DistributionMember, DistributionRule

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=MSK)  # Wednesday noon


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def head():
    return HeadFactory()


def browser(user):
    web = WebClient()
    web.force_login(user)
    return web


def state() -> list:
    """Everything the distribution setup can change."""
    rules = list(
        DistributionRule.objects.order_by("id").values_list(
            "name", "method", "channel", "segment", "priority", "is_active"
        )
    )
    members = list(
        DistributionMember.objects.order_by("id").values_list(
            "rule_id", "user_id", "weight", "shift_start", "shift_end", "weekdays"
        )
    )
    absent = list(User.objects.filter(is_absent=True).values_list("id", flat=True))
    return [rules, members, absent, company_settings().open_requests_cap]


def distribute(count: int) -> list:
    return [
        inbox.request_register(
            actor=None, channel="website", phone=f"+7900000{n:04d}", text="Нужен швеллер"
        ).manager
        for n in range(count)
    ]


# --- the services -------------------------------------------------------------------------


def test_new_rules_go_last_and_moves_renumber_the_order(head):
    old = DistributionRuleFactory(priority=5)
    first = setup.distribution_rule_create(actor=head, name="  Сайт ", channel="website")
    second = setup.distribution_rule_create(actor=head, name="Тендеры", method="weighted")

    assert (first.name, first.priority, second.priority) == ("Сайт", 15, 25)
    assert setup.distribution_rule_move(actor=head, rule=second, direction="up") == [
        old.pk,
        second.pk,
        first.pk,
    ]
    assert list(DistributionRule.objects.values_list("pk", "priority")) == [
        (old.pk, 10),
        (second.pk, 20),
        (first.pk, 30),
    ]
    # The first cannot go higher: the order stays.
    assert setup.distribution_rule_move(actor=head, rule=old, direction="up")[0] == old.pk


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "  "}, "Назовите правило."),
        ({"name": "x" * 101}, "Слишком длинное название правила: не больше 100 символов."),
        ({"method": "random"}, "Выберите, как правило раздаёт заявки: по очереди или по весам."),
        ({"channel": "pigeon"}, "Такого канала нет."),
        ({"segment": "s" * 65}, "Слишком длинный сегмент: не больше 64 символов."),
    ],
)
def test_bad_rule_is_refused_and_nothing_changes(head, fields, message):
    rule = DistributionRuleFactory(name="Все заявки")
    before = state()
    values = {"name": "Сайт", "method": "round_robin", **fields}

    with pytest.raises(ValidationError) as created:
        setup.distribution_rule_create(actor=head, **values)
    with pytest.raises(ValidationError) as updated:
        setup.distribution_rule_update(actor=head, rule=rule, **values)

    assert str(created.value) == str(updated.value) == message
    assert state() == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"weight": "0"}, "Вес — целое число от 1 до 1000."),
        ({"weight": "много"}, "Вес — целое число от 1 до 1000."),
        ({"shift_start": "25:00"}, "Укажите время как ЧЧ:ММ, например 09:00."),
        (
            {"shift_start": "14:00", "shift_end": "09:00"},
            "Смена должна заканчиваться позже, чем начинается.",
        ),
        ({"weekdays": ["7"]}, "Дни недели — числа от 0 (понедельник) до 6 (воскресенье)."),
    ],
)
def test_bad_member_settings_are_refused(head, fields, message):
    member = DistributionMemberFactory()
    newcomer = ManagerFactory()
    before = state()
    values = {"weight": "2", **fields}

    with pytest.raises(ValidationError) as added:
        setup.distribution_member_add(actor=head, rule=member.rule, user=newcomer, **values)
    with pytest.raises(ValidationError) as updated:
        setup.distribution_member_update(actor=head, member=member, **values)

    assert str(added.value) == str(updated.value) == message
    assert state() == before


def test_member_must_be_a_working_seller_and_in_a_rule_once(head):
    member = DistributionMemberFactory(user__first_name="Ольга", user__last_name="Ким")
    gone = ManagerFactory(first_name="Пётр", last_name="Ушёл", left_on=dt.date(2026, 11, 1))
    before = state()

    refusals = []
    for user in (None, gone, FinanceFactory(first_name="Анна", last_name="Счёт"), member.user):
        with pytest.raises(ValidationError) as refused:
            setup.distribution_member_add(actor=head, rule=member.rule, user=user)
        refusals.append(str(refused.value))

    assert refusals == [
        "Выберите менеджера.",
        "Пётр Ушёл уволен(а): выберите другого менеджера.",
        "Анна Счёт не принимает заявки: выберите менеджера.",
        "Ольга Ким уже есть в этом правиле.",
    ]
    assert state() == before


def test_member_settings_are_stored_as_the_distribution_reads_them(head):
    rule = DistributionRuleFactory(method="weighted")
    manager = ManagerFactory()

    member = setup.distribution_member_add(
        actor=head,
        rule=rule,
        user=manager,
        weight="3",
        shift_start="09:30",
        shift_end="13:00",
        weekdays=["4", "0", "2", "0"],
    )
    everyday = setup.distribution_member_update(
        actor=head, member=member, weight=1, weekdays=[str(day) for day in range(7)]
    )

    assert (member.weight, member.shift_start, member.shift_end) == (3, dt.time(9, 30), dt.time(13))
    assert member.weekdays == [0, 2, 4]
    assert (everyday.weekdays, everyday.shift_start, everyday.shift_end) == ([], None, None)


def test_only_the_head_or_the_owner_sets_up_distribution(head):
    member = DistributionMemberFactory()
    before = state()
    for actor in (member.user, FinanceFactory(), None):
        for call in (
            lambda a: setup.distribution_rule_create(actor=a, name="Сайт"),
            lambda a: setup.distribution_rule_activate(actor=a, rule=member.rule, is_active=False),
            lambda a: setup.distribution_rule_move(actor=a, rule=member.rule, direction="up"),
            lambda a: setup.distribution_member_remove(actor=a, member=member),
            lambda a: setup.distribution_cap_set(actor=a, cap=5),
            lambda a: setup.manager_absence_set(actor=a, user=member.user, is_absent=True),
        ):
            with pytest.raises(PermissionDenied) as refused:
                call(actor)
            assert (
                str(refused.value) == "Распределение заявок настраивают только РОП и собственник."
            )
    assert state() == before
    assert setup.distribution_cap_set(actor=OwnerFactory(), cap="5").open_requests_cap == 5


@pytest.mark.parametrize("cap", ["0", "1001", "", "пять"])
def test_bad_cap_is_refused(head, cap):
    before = state()
    with pytest.raises(ValidationError) as refused:
        setup.distribution_cap_set(actor=head, cap=cap)
    assert str(refused.value) == "Предел — целое число заявок от 1 до 1000."
    assert state() == before


# --- the distribution follows the setup ---------------------------------------------------


def test_weighted_rule_set_on_the_page_hands_out_by_weight(head):
    heavy, light = ManagerFactory(), ManagerFactory()
    web = browser(head)

    created = web.post(
        "/discipline/distribution/rules/new/",
        {"name": "Сайт", "method": "weighted", "channel": "website", "is_active": "on"},
    )
    rule = DistributionRule.objects.get()
    assert created.status_code == 302
    assert created["Location"] == f"/discipline/distribution/rules/{rule.pk}/"
    for manager, weight in ((heavy, "2"), (light, "1")):
        added = web.post(
            f"/discipline/distribution/rules/{rule.pk}/members/new/",
            {"user_id": manager.pk, "weight": weight},
        )
        assert added.status_code == 302

    # (assigned + 1) / weight: heavy 0.5 < light 1; then 1 = 1, light's turn is older;
    # then heavy 1 < light 2.
    assert distribute(3) == [heavy, light, heavy]


def test_absence_cap_and_switching_off_on_the_page_change_who_gets_requests(head):
    rule = DistributionRuleFactory(name="Все")
    first = DistributionMemberFactory(rule=rule).user
    second = DistributionMemberFactory(rule=rule).user
    RequestFactory(manager=second)
    web = browser(head)

    assert (
        web.post(f"/discipline/distribution/absence/{first.pk}/", {"is_absent": "1"}).status_code
        == 302
    )
    assert web.post("/discipline/distribution/cap/", {"cap": "1"}).status_code == 302
    assert distribute(1) == [None]  # first is absent, second holds 1 of at most 1

    web.post(f"/discipline/distribution/absence/{first.pk}/", {"is_absent": "0"})
    assert distribute(1) == [first]

    web.post(f"/discipline/distribution/rules/{rule.pk}/activate/", {"is_active": "0"})
    assert distribute(1) == [None]
    rule.refresh_from_db()
    assert rule.is_active is False


# --- the pages ----------------------------------------------------------------------------


def test_the_page_lists_rules_in_order_with_their_managers(head, django_assert_max_num_queries):
    late = DistributionRuleFactory(name="Запасное", priority=50, is_active=False)
    early = DistributionRuleFactory(name="Сайт", priority=10, method="weighted", channel="website")
    DistributionMemberFactory(
        rule=early,
        user__first_name="Ольга",
        user__last_name="Ким",
        weight=2,
        shift_start=dt.time(9),
        shift_end=dt.time(13),
        weekdays=[0, 2],
    )
    for _ in range(3):
        DistributionMemberFactory(rule=late)
    web = browser(head)

    with django_assert_max_num_queries(12):
        page = web.get("/discipline/distribution/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Распределение заявок" in html
    assert html.index("Сайт") < html.index("Запасное")
    assert "Ольга Ким ×2, 09:00–13:00, Пн Ср" in html
    assert "выключено" in html and "Включить" in html


def test_navigation_links_the_page_for_the_head_only(head):
    assert (
        'href="/discipline/distribution/"'
        in browser(head).get("/discipline/board/").content.decode()
    )
    manager = ManagerFactory()
    assert (
        'href="/discipline/distribution/"'
        not in browser(manager).get("/discipline/today/").content.decode()
    )


@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        (
            "/discipline/distribution/rules/new/",
            {"name": "", "method": "weighted"},
            "Назовите правило.",
        ),
        (
            "/discipline/distribution/rules/{rule}/edit/",
            {"name": "Сайт", "method": "lottery"},
            "Выберите, как правило раздаёт заявки: по очереди или по весам.",
        ),
        (
            "/discipline/distribution/rules/{rule}/move/",
            {"direction": "sideways"},
            "Правило можно передвинуть только выше или ниже.",
        ),
        (
            "/discipline/distribution/rules/{rule}/members/new/",
            {"user_id": "", "weight": "1"},
            "Выберите менеджера.",
        ),
        (
            "/discipline/distribution/members/{member}/edit/",
            {"weight": "1", "shift_start": "18:00", "shift_end": "10:00"},
            "Смена должна заканчиваться позже, чем начинается.",
        ),
        (
            "/discipline/distribution/cap/",
            {"cap": "-3"},
            "Предел — целое число заявок от 1 до 1000.",
        ),
        (
            "/discipline/distribution/absence/{finance}/",
            {"is_absent": "1"},
            "не принимает заявки",
        ),
    ],
)
def test_bad_input_on_the_page_is_shown_in_russian_and_changes_nothing(head, url, data, message):
    member = DistributionMemberFactory()
    finance = FinanceFactory()
    before = state()
    target = url.format(rule=member.rule_id, member=member.pk, finance=finance.pk)

    page = browser(head).post(target, data)

    assert page.status_code == 422
    assert message in page.content.decode()
    assert state() == before


def test_typed_values_stay_in_the_form_after_a_refusal(head):
    page = browser(head).post(
        "/discipline/distribution/rules/new/",
        {"name": "", "method": "weighted", "segment": "стройка"},
    )
    html = page.content.decode()
    assert 'name="segment" maxlength="64" value="стройка"' in html
    assert '<option value="weighted" selected>' in html
    assert 'id="rule-active" name="is_active" checked' not in html


def test_pages_and_writes_are_for_the_head_and_owner_only():
    member = DistributionMemberFactory()
    before = state()
    for user in (member.user, FinanceFactory()):
        web = browser(user)
        assert web.get("/discipline/distribution/").status_code == 403
        assert web.get(f"/discipline/distribution/rules/{member.rule_id}/").status_code == 403
        assert web.post("/discipline/distribution/cap/", {"cap": "3"}).status_code == 403
        assert web.post(f"/discipline/distribution/members/{member.pk}/remove/").status_code == 403
    assert state() == before
    owner = browser(OwnerFactory())
    assert owner.get(f"/discipline/distribution/rules/{member.rule_id}/").status_code == 200
    assert owner.get("/discipline/distribution/rules/999999/").status_code == 404
    assert owner.post(f"/discipline/distribution/members/{member.pk}/remove/").status_code == 302
    assert not DistributionMember.objects.exists()
