"""The one definition of a stalled deal, snooze, and the sweep's alerts: idempotent,
closed by themselves, escalated manager → head → owner."""

import datetime as dt
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from tests.factories import (
    AlertFactory,
    DealFactory,
    HeadFactory,
    OwnerFactory,
    SnoozeFactory,
    TaskFactory,
)
from vrop.core.errors import ValidationError
from vrop.crm.choices import Stage
from vrop.crm.models import Deal, Task
from vrop.discipline import services
from vrop.discipline.choices import AlertKind, Level, Severity
from vrop.discipline.models import Alert, Snooze
from vrop.discipline.rules import StalledCutoffs
from vrop.discipline.selectors import stalled_deals, with_reasons

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=MSK)  # Wednesday noon


def msk(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MSK)


def deal(manager, **fields):
    """A deal row as the services keep it: a fresh next step and activity by default."""
    values = {
        "manager": manager,
        "client__manager": manager,
        "stage": Stage.CONTACT,
        "received_at": msk(2026, 11, 17, 10, 0),
        "stage_changed_at": msk(2026, 11, 17, 10, 0),
        "last_activity_at": msk(2026, 11, 18, 9, 30),
        "next_step_at": msk(2026, 11, 19, 10, 0),
        "amount": Decimal("100000.00"),
        "first_contact_at": msk(2026, 11, 17, 10, 5),
        "quote_sent_at": msk(2026, 11, 17, 11, 0),
    }
    values.update(fields)
    return DealFactory(**values)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_the_stalled_rule_on_hand_computed_deals(frozen, manager, owner):
    # Contact norm 3 working days = 1620 min; next step overdue tolerance 540 min.
    fine = deal(manager, title="fine")
    deal(manager, title="no next step", next_step_at=None, amount=Decimal("10.00"))
    # Monday 11:00 → Wednesday 12:00 = 420 + 540 + 180 = 1140 working minutes > 540
    deal(manager, title="overdue", next_step_at=msk(2026, 11, 16, 11, 0), amount=Decimal("20.00"))
    # Tuesday 14:00 → Wednesday 12:00 = 240 + 180 = 420 ≤ 540: not yet
    deal(manager, title="just overdue", next_step_at=msk(2026, 11, 17, 14, 0))
    # Last activity Thursday 12 Nov 11:00: 420 + 3 × 540 + 180 = 2220 > 1620
    deal(
        manager,
        title="silent",
        last_activity_at=msk(2026, 11, 12, 11, 0),
        stage_changed_at=msk(2026, 11, 16, 9, 0),
        amount=Decimal("30.00"),
    )
    # A lead longer than its norm of 1 working day (Tuesday 10:00 → now = 660 > 540)
    deal(manager, title="old lead", stage=Stage.LEAD, amount=Decimal("40.00"))
    deal(manager, title="won", stage=Stage.WON, next_step_at=None)
    snoozed = deal(manager, title="snoozed", next_step_at=None)
    SnoozeFactory(deal=snoozed, resume_on=dt.date(2026, 11, 20), resume_at=msk(2026, 11, 20, 9))

    result = stalled_deals(viewer=owner)

    titles = sorted(result.deals.values_list("title", flat=True))
    assert titles == ["no next step", "old lead", "overdue", "silent"]
    assert result.count == 4
    assert result.amount == Decimal("100.00")
    assert fine not in result.deals
    reasons = {
        d.title: [code for code, _ in d.stalled_reasons]
        for d in with_reasons(result.deals, result.cutoffs)
    }
    assert reasons == {
        "no next step": ["no_next_step"],
        "overdue": ["next_step_overdue"],
        "silent": ["no_activity"],
        "old lead": ["stage_too_long"],
    }


def test_a_manager_sees_only_own_stalled_deals(frozen, manager, other_manager):
    deal(manager, next_step_at=None)
    deal(other_manager, next_step_at=None)
    assert stalled_deals(viewer=manager).count == 1
    assert stalled_deals(viewer=other_manager).count == 1


def test_snoozed_deal_is_not_stalled_until_the_date_then_stalled_again(manager, owner):
    with time_machine.travel(NOW, tick=False):
        waiting = deal(manager, next_step_at=msk(2026, 11, 16, 11, 0))
        services.deal_snooze(
            actor=manager, deal=waiting, reason="Ждём бюджет", resume_on=dt.date(2026, 11, 23)
        )
        assert stalled_deals(viewer=owner).count == 0
        snooze = Snooze.objects.get(deal=waiting)
        assert snooze.resume_at == msk(2026, 11, 23, 9, 0)
        task = Task.objects.get(deal=waiting, due_at=msk(2026, 11, 23, 9, 0))
        assert task.title == "Вернуться к сделке: Ждём бюджет"
    with time_machine.travel(msk(2026, 11, 23, 8, 59), tick=False):
        assert stalled_deals(viewer=owner).count == 0
    with time_machine.travel(msk(2026, 11, 24, 9, 1), tick=False):
        # The deal has been silent since 18 November: the contact norm is long gone.
        assert stalled_deals(viewer=owner).count == 1


@pytest.mark.parametrize(
    ("reason", "resume_on", "message"),
    [
        ("", dt.date(2026, 11, 23), "Напишите, чего ждёт сделка."),
        ("Ждём бюджет", None, "Укажите дату, когда вернуться к сделке."),
        ("Ждём бюджет", dt.date(2026, 11, 18), "Дата возврата должна быть позже сегодняшней."),
    ],
)
def test_snooze_without_reason_or_date_is_refused_in_russian(
    frozen, manager, reason, resume_on, message
):
    waiting = deal(manager)
    tasks_before = Task.objects.count()
    with pytest.raises(ValidationError) as error:
        services.deal_snooze(actor=manager, deal=waiting, reason=reason, resume_on=resume_on)
    assert str(error.value) == message
    assert Snooze.objects.count() == 0
    assert Task.objects.count() == tasks_before


def test_sweep_opens_alerts_once_and_closes_them_when_fixed(frozen, manager, owner):
    stalled = deal(manager, next_step_at=None)
    deal(manager)

    first = services.sweep()
    second = services.sweep()

    assert first.opened[AlertKind.STALLED_DEAL] == 1
    assert second.opened[AlertKind.STALLED_DEAL] == 0
    alert = Alert.objects.get(kind=AlertKind.STALLED_DEAL)
    assert (alert.deal_id, alert.manager_id, alert.level) == (stalled.pk, manager.pk, 1)
    assert alert.first_seen_at == NOW and alert.resolved_at is None

    TaskFactory(deal=stalled, due_at=NOW + dt.timedelta(days=1))
    Deal.objects.filter(pk=stalled.pk).update(next_step_at=NOW + dt.timedelta(days=1))
    third = services.sweep(deal_ids=[stalled.pk])

    assert third.resolved[AlertKind.STALLED_DEAL] == 1
    alert.refresh_from_db()
    assert alert.resolved_at == NOW
    # Stalled again later: a new alert, the old one stays closed as history.
    Deal.objects.filter(pk=stalled.pk).update(next_step_at=None)
    services.sweep()
    assert Alert.objects.filter(kind=AlertKind.STALLED_DEAL).count() == 2
    assert Alert.objects.filter(kind=AlertKind.STALLED_DEAL, resolved_at=None).count() == 1


def test_the_database_refuses_a_second_open_alert_for_the_same_deal(frozen, manager):
    alert = AlertFactory(deal=deal(manager))
    with pytest.raises(IntegrityError), transaction.atomic():
        AlertFactory(deal=alert.deal)
    AlertFactory(deal=alert.deal, kind=AlertKind.QUOTE_SLA)
    Alert.objects.filter(pk=alert.pk).update(resolved_at=NOW)
    AlertFactory(deal=alert.deal)
    assert Alert.objects.filter(deal=alert.deal).count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_produce_no_duplicates(manager):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them anyway)")
    with time_machine.travel(NOW, tick=False):
        for _ in range(30):
            deal(manager, next_step_at=None)
        errors = []
        barrier = threading.Barrier(2)

        def run():
            try:
                barrier.wait()
                services.sweep()
            except Exception as error:  # noqa: BLE001
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert Alert.objects.filter(kind=AlertKind.STALLED_DEAL).count() == 30


def test_sla_alerts_for_deals_and_requests_waiting(frozen, manager, head):
    from tests.factories import RequestFactory

    # Arrived 11:30 today, no first contact: 30 working minutes > 15; no quote yet: 30 < 120
    late = deal(
        manager,
        stage=Stage.LEAD,
        received_at=msk(2026, 11, 18, 11, 30),
        first_contact_at=None,
        quote_sent_at=None,
    )
    deal(
        manager,
        stage=Stage.LEAD,
        received_at=msk(2026, 11, 18, 11, 50),
        first_contact_at=None,
        quote_sent_at=None,
    )
    request = RequestFactory(manager=manager, received_at=msk(2026, 11, 18, 11, 0))
    RequestFactory(manager=manager, received_at=msk(2026, 11, 18, 11, 50))

    result = services.sweep()

    assert result.opened[AlertKind.FIRST_CONTACT_SLA] == 1
    assert result.opened[AlertKind.QUOTE_SLA] == 0
    assert result.opened[AlertKind.REQUEST_WAITING] == 1
    assert Alert.objects.get(kind=AlertKind.FIRST_CONTACT_SLA).deal_id == late.pk
    assert Alert.objects.get(kind=AlertKind.REQUEST_WAITING).request_id == request.pk
    Deal.objects.filter(pk=late.pk).update(first_contact_at=NOW)
    request.status = "declined"
    request.save()
    result = services.sweep()
    assert result.resolved[AlertKind.FIRST_CONTACT_SLA] == 1
    assert result.resolved[AlertKind.REQUEST_WAITING] == 1


def test_escalation_manager_then_head_then_owner(manager):
    head = HeadFactory()
    owner = OwnerFactory()
    with time_machine.travel(NOW, tick=False):
        stalled = deal(manager, next_step_at=None)
        services.sweep()
    alert = Alert.objects.get(deal=stalled)
    assert alert.level == Level.MANAGER
    # 4 working hours later: the head
    with time_machine.travel(msk(2026, 11, 18, 16, 1), tick=False):
        assert services.sweep().escalated == 1
    alert.refresh_from_db()
    assert (alert.level, alert.severity) == (Level.HEAD, Severity.WARNING)
    # 16 working hours after first seen (Wed 12:00 → Fri 10:00): the owner
    with time_machine.travel(msk(2026, 11, 20, 9, 59), tick=False):
        assert services.sweep().escalated == 0
    with time_machine.travel(msk(2026, 11, 20, 10, 1), tick=False):
        assert services.sweep().escalated == 1
        assert services.sweep().escalated == 0
    alert.refresh_from_db()
    assert (alert.level, alert.severity) == (Level.OWNER, Severity.CRITICAL)
    assert head.pk and owner.pk


def test_alert_follows_the_deal_to_a_new_manager(frozen, manager, other_manager):
    stalled = deal(manager, next_step_at=None)
    services.sweep()
    Deal.objects.filter(pk=stalled.pk).update(manager=other_manager)
    services.sweep(deal_ids=[stalled.pk])
    assert Alert.objects.get(deal=stalled).manager_id == other_manager.pk


def test_cutoffs_follow_the_company_norms(frozen):
    from vrop.core.policy import company_settings

    policy = company_settings()
    policy.stage_norms_days = {"lead": 2, "contact": 3, "quote": 5}
    policy.save()
    cutoffs = StalledCutoffs.at_moment(NOW)
    # 2 working days (1080 min) before Wed 12:00 is Mon 12:00
    assert cutoffs.stage_norm_before["lead"] == msk(2026, 11, 16, 12, 0)
    assert cutoffs.next_step_overdue_before == msk(2026, 11, 17, 12, 0)
