"""Credit terms with their history, actions on overdue debt, promises, the daily sweep."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from tests.factories import ClientFactory, DealFactory, InvoiceFactory, ManagerFactory
from tests.receivables.helpers import MSK
from vrop.core.errors import NotFound, PermissionDenied, RuleViolation, ValidationError
from vrop.crm.choices import CreditStatus, Stage
from vrop.crm.models import Activity, Client
from vrop.crm.services import client_update
from vrop.notifications.models import OutboxMessage
from vrop.receivables.models import CreditChange, OverdueAction
from vrop.receivables.services import (
    client_credit_set,
    overdue_action_add,
    payment_record,
    promises_review,
    receivables_sweep,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def debt(client, *, due_on, amount="1000.00", number="СЧ-1"):
    deal = DealFactory(client=client, manager=client.manager, stage=Stage.WON)
    return InvoiceFactory(
        deal=deal,
        client=client,
        manager=client.manager,
        number=number,
        issued_on=due_on - dt.timedelta(days=14),
        due_on=due_on,
        amount=D(amount),
    )


def told(user, kind):
    return list(
        OutboxMessage.objects.filter(user=user, dedupe_key__startswith=f"recv:{kind}:")
        .order_by("id")
        .values_list("text", flat=True)
    )


# --- credit terms ------------------------------------------------------------------------


def test_credit_terms_are_set_with_who_when_and_why(finance, manager):
    client = ClientFactory(manager=manager)
    client_credit_set(
        actor=finance,
        client=client,
        payment_terms_days=21,
        credit_limit="1 500 000,00",
        credit_status=CreditStatus.PREPAYMENT_ONLY,
        reason="Новый клиент, проверяем",
    )
    client.refresh_from_db()
    assert (client.payment_terms_days, client.credit_limit, client.credit_status) == (
        21,
        D("1500000.00"),
        "prepayment_only",
    )
    change = CreditChange.objects.get(client=client)
    assert (change.changed_by, change.reason, change.is_automatic) == (
        finance,
        "Новый клиент, проверяем",
        False,
    )
    assert change.previous == {
        "payment_terms_days": 0,
        "credit_limit": "0.00",
        "credit_status": "active",
        "credit_status_reason": "",
    }
    assert len(told(manager, "status")) == 1


def test_credit_terms_unchanged_write_no_history(finance):
    client = ClientFactory(payment_terms_days=14)
    client_credit_set(actor=finance, client=client, payment_terms_days=14)
    assert CreditChange.objects.count() == 0


def test_a_status_change_needs_a_reason_and_a_manager_may_not_set_credit(finance, manager):
    client = ClientFactory(manager=manager)
    with pytest.raises(ValidationError) as error:
        client_credit_set(actor=finance, client=client, credit_status=CreditStatus.STOP)
    assert error.value.field == "reason"
    with pytest.raises(PermissionDenied):
        client_credit_set(actor=manager, client=client, credit_limit="100")
    client.refresh_from_db()
    assert (client.credit_status, client.credit_limit) == ("active", D("0"))
    assert CreditChange.objects.count() == 0


def test_the_client_form_is_no_back_door_for_credit_terms(manager, head):
    client = ClientFactory(manager=manager, credit_limit=D("100"))
    with pytest.raises(RuleViolation) as error:
        client_update(actor=manager, client=client, credit_limit=D("9999999"))
    assert error.value.code == "credit_terms_protected"
    assert Client.objects.get(pk=client.pk).credit_limit == D("100")
    client_update(actor=manager, client=Client.objects.get(pk=client.pk), city="Тула")
    assert CreditChange.objects.count() == 0
    client_update(actor=head, client=Client.objects.get(pk=client.pk), credit_limit=D("200"))
    assert Client.objects.get(pk=client.pk).credit_limit == D("200")
    change = CreditChange.objects.get()
    assert (change.changed_by, change.credit_limit, change.previous["credit_limit"]) == (
        head,
        D("200"),
        "100.00",
    )


# --- actions on overdue debt -------------------------------------------------------------


def test_an_action_with_a_promise_and_next_step(finance, manager):
    invoice = debt(ClientFactory(manager=manager), due_on=dt.date(2026, 11, 13))
    action = overdue_action_add(
        actor=finance,
        invoice=invoice,
        kind="call",
        note="Бухгалтер обещал оплатить",
        promised_on=dt.date(2026, 11, 25),
        promised_amount="600",
        next_action="Проверить поступление",
        next_action_on=dt.date(2026, 11, 26),
        responsible=manager,
    )
    assert (action.promise_status, action.promised_amount, action.responsible) == (
        "pending",
        D("600"),
        manager,
    )
    activity = Activity.objects.get(deal=invoice.deal)
    assert (activity.kind, activity.user, activity.body) == (
        "call",
        finance,
        "Бухгалтер обещал оплатить",
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"promised_on": dt.date(2026, 11, 22)}, "promised_on"),
        ({"promised_on": dt.date(2026, 11, 25), "promised_amount": "1000.01"}, "promised_amount"),
        ({"promised_amount": "100"}, "promised_on"),
        ({"next_action_on": dt.date(2026, 11, 20), "next_action": "x"}, "next_action_on"),
        ({"kind": "pigeon"}, "kind"),
    ],
)
def test_bad_actions_are_refused_and_nothing_is_written(finance, fields, field):
    invoice = debt(ClientFactory(), due_on=dt.date(2026, 11, 13))
    with pytest.raises(ValidationError) as error:
        overdue_action_add(actor=finance, invoice=invoice, **{"kind": "call", **fields})
    assert error.value.field == field
    assert (OverdueAction.objects.count(), Activity.objects.count()) == (0, 0)


def test_a_manager_works_only_on_debts_of_own_clients(manager, other_manager):
    invoice = debt(ClientFactory(manager=other_manager), due_on=dt.date(2026, 11, 13))
    with pytest.raises(NotFound):
        overdue_action_add(actor=manager, invoice=invoice, kind="call")
    assert OverdueAction.objects.count() == 0


def test_promise_kept_when_paid_by_the_date(finance, manager):
    invoice = debt(ClientFactory(manager=manager), due_on=dt.date(2026, 11, 13))
    action = overdue_action_add(
        actor=finance,
        invoice=invoice,
        kind="call",
        promised_on=dt.date(2026, 11, 25),
        promised_amount="600",
    )
    payment_record(actor=finance, invoice=invoice, paid_on=dt.date(2026, 11, 25), amount=D("600"))
    assert promises_review(at=dt.date(2026, 11, 25)) == {"kept": 0, "missed": 0, "escalated": 0}
    assert promises_review(at=dt.date(2026, 11, 26)) == {"kept": 1, "missed": 0, "escalated": 0}
    action.refresh_from_db()
    assert action.promise_status == "kept"


def test_a_missed_promise_alerts_escalates_and_a_second_miss_reaches_the_owner(
    finance, manager, head, owner
):
    invoice = debt(ClientFactory(manager=manager), due_on=dt.date(2026, 11, 13))
    first = overdue_action_add(
        actor=finance,
        invoice=invoice,
        kind="call",
        promised_on=dt.date(2026, 11, 25),
        responsible=manager,
    )
    payment_record(actor=finance, invoice=invoice, paid_on=dt.date(2026, 11, 26), amount=D("1"))

    assert promises_review(at=dt.date(2026, 11, 26)) == {"kept": 0, "missed": 1, "escalated": 0}
    assert promises_review(at=dt.date(2026, 11, 26))["missed"] == 0  # idempotent
    first.refresh_from_db()
    assert (first.promise_status, first.escalation_level) == ("missed", 1)
    assert len(told(manager, "promise_missed")) == 1
    assert len(told(head, "promise_missed")) == 1
    assert told(owner, "promise_missed") == []

    with time_machine.travel(dt.datetime(2026, 11, 27, 10, tzinfo=MSK), tick=False):
        second = overdue_action_add(
            actor=finance, invoice=invoice, kind="call", promised_on=dt.date(2026, 11, 30)
        )
    assert promises_review(at=dt.date(2026, 12, 1))["escalated"] == 1
    second.refresh_from_db()
    assert second.escalation_level == 2
    assert len(told(owner, "promise_missed")) == 1


def test_nothing_done_after_a_missed_promise_reaches_the_owner(finance, manager, owner):
    invoice = debt(ClientFactory(manager=manager), due_on=dt.date(2026, 11, 13))
    action = overdue_action_add(
        actor=finance, invoice=invoice, kind="call", promised_on=dt.date(2026, 11, 25)
    )
    promises_review(at=dt.date(2026, 11, 26))
    # three working days after Wed 25.11 is Mon 30.11: escalated from Tue 01.12
    assert promises_review(at=dt.date(2026, 11, 30))["escalated"] == 0
    assert promises_review(at=dt.date(2026, 12, 1))["escalated"] == 1
    action.refresh_from_db()
    assert action.escalation_level == 2
    assert len(told(owner, "promise_escalated")) == 1


# --- the sweep ---------------------------------------------------------------------------


def test_sweep_stops_a_client_overdue_over_30_days_and_lifts_it_when_paid(finance, manager):
    client = ClientFactory(manager=manager, payment_terms_days=14, credit_limit=D("1000000"))
    invoice = debt(client, due_on=dt.date(2026, 10, 23), number="СЧ-31")  # 31 days
    debt(ClientFactory(manager=manager), due_on=dt.date(2026, 10, 24))  # 30 days: no stop

    result = receivables_sweep(at=dt.date(2026, 11, 23))
    again = receivables_sweep(at=dt.date(2026, 11, 23))

    assert (result["stopped"], again["stopped"]) == (1, 0)
    client.refresh_from_db()
    assert client.credit_status == "stop"
    assert "СЧ-31" in client.credit_status_reason
    change = CreditChange.objects.get(client=client)
    assert (change.is_automatic, change.changed_by) == (True, None)
    assert Client.objects.filter(credit_status="stop").count() == 1

    payment_record(actor=finance, invoice=invoice, paid_on=dt.date(2026, 11, 23), amount=D("1000"))
    assert receivables_sweep(at=dt.date(2026, 11, 23))["lifted"] == 1
    client.refresh_from_db()
    assert client.credit_status == "active"


def test_sweep_does_not_lift_a_stop_set_by_a_person(finance):
    client = ClientFactory()
    client_credit_set(actor=finance, client=client, credit_status="stop", reason="Суд")
    assert receivables_sweep(at=dt.date(2026, 11, 23))["lifted"] == 0
    assert Client.objects.get(pk=client.pk).credit_status == "stop"


def test_sweep_tells_about_new_overdue_once(finance, manager):
    other_manager = ManagerFactory()
    debt(ClientFactory(manager=manager), due_on=dt.date(2026, 11, 22), number="СЧ-НОВ")
    debt(ClientFactory(manager=other_manager), due_on=dt.date(2026, 11, 23))  # due today

    receivables_sweep(at=dt.date(2026, 11, 23))
    receivables_sweep(at=dt.date(2026, 11, 23))

    assert len(told(manager, "overdue")) == 1
    assert "СЧ-НОВ" in told(finance, "overdue")[0]
    assert told(other_manager, "overdue") == []


def test_sweep_tells_about_clients_near_and_over_the_limit(head, manager):
    near = ClientFactory(manager=manager, payment_terms_days=14, credit_limit=D("1000"))
    over = ClientFactory(manager=manager, payment_terms_days=14, credit_limit=D("1000"))
    calm = ClientFactory(manager=manager, payment_terms_days=14, credit_limit=D("1000"))
    debt(near, due_on=dt.date(2026, 12, 1), amount="900.00")
    debt(over, due_on=dt.date(2026, 12, 1), amount="1000.01")
    debt(calm, due_on=dt.date(2026, 12, 1), amount="899.99")

    assert receivables_sweep(at=dt.date(2026, 11, 23))["limit_alerts"] == 4  # 2 × (manager, head)

    texts = told(head, "limit")
    assert len(texts) == 2
    assert any(near.name in text for text in texts)
    assert any(over.name in text for text in texts)


def test_the_sweep_task_runs_on_the_queue_and_twice_is_harmless(manager):
    from vrop.receivables.tasks import receivables_sweep_task

    client = ClientFactory(manager=manager)
    debt(client, due_on=dt.date(2026, 10, 1))

    first = receivables_sweep_task("2026-11-23").get()
    second = receivables_sweep_task("2026-11-23").get()

    assert (first["stopped"], second["stopped"]) == (1, 0)
    assert Client.objects.get(pk=client.pk).credit_status == "stop"
