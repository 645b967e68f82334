"""The next step rule on every path: an open deal without an open task with a due date
cannot be saved — service, web form, API, admin, copy, stage change, completing the last
task — and on import or sync from another CRM it is flagged, not refused."""

import datetime as dt

import pytest
from django.test import Client as WebClient
from django.utils import timezone

from tests.factories import (
    ClientFactory,
    DealFactory,
    OwnerFactory,
    TaskFactory,
)
from vrop.core import rulebook
from vrop.core.errors import RuleViolation
from vrop.core.rulebook import FLAG
from vrop.crm import services
from vrop.crm.choices import Stage
from vrop.crm.models import Deal, StageChange, Task

pytestmark = pytest.mark.django_db

MESSAGE = "У открытой сделки должен быть следующий шаг: добавьте задачу со сроком."


def tomorrow():
    return timezone.now() + dt.timedelta(days=1)


def test_service_refuses_and_writes_nothing(manager):
    client = ClientFactory(manager=manager)
    with pytest.raises(RuleViolation) as error:
        services.deal_create(actor=manager, client=client, title="Без шага")
    assert (error.value.code, str(error.value)) == ("no_next_step", MESSAGE)
    assert (Deal.objects.count(), StageChange.objects.count(), Task.objects.count()) == (0, 0, 0)


def test_service_accepts_with_a_next_step(manager):
    deal = services.deal_create(
        actor=manager,
        client=ClientFactory(manager=manager),
        next_step_title="Позвонить",
        next_step_due_at=tomorrow(),
    )
    assert Deal.objects.get(pk=deal.pk).next_step_at is not None


def _management(prefix="lines", total=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_web_deal_form_refuses_an_open_deal_without_next_step(manager):
    client = ClientFactory(manager=manager)
    browser = WebClient()
    browser.force_login(manager)
    response = browser.post(
        "/crm/deals/new/",
        {"client": client.pk, "channel": "phone", "title": "Без шага", **_management()},
    )
    assert response.status_code == 422
    assert MESSAGE in response.content.decode()
    assert Deal.objects.count() == 0


def test_web_deal_edit_of_a_deal_without_next_step_is_refused(manager):
    deal = DealFactory(manager=manager, client__manager=manager, title="Старое название")
    browser = WebClient()
    browser.force_login(manager)
    response = browser.post(
        f"/crm/deals/{deal.pk}/edit/",
        {"client": deal.client_id, "channel": "phone", "title": "Новое", **_management()},
    )
    assert response.status_code == 422
    assert MESSAGE in response.content.decode()
    deal.refresh_from_db()
    assert deal.title == "Старое название"


def test_api_refuses_with_409_and_writes_nothing(api, manager):
    client = ClientFactory(manager=manager)
    response = api(manager).post("/deals", {"client_id": client.pk, "title": "Без шага"})
    assert response.status_code == 409
    assert response.json() == {"detail": MESSAGE, "code": "no_next_step"}
    assert Deal.objects.count() == 0


def test_admin_cannot_add_or_change_deals():
    owner = OwnerFactory(is_staff=True, is_superuser=True)
    deal = DealFactory(title="Как было")
    browser = WebClient()
    browser.force_login(owner)
    assert browser.get(f"/admin/crm/deal/{deal.pk}/change/").status_code == 200  # view only
    assert browser.get("/admin/crm/deal/add/").status_code == 403
    response = browser.post(
        f"/admin/crm/deal/{deal.pk}/change/", {"title": "Изменено", "stage": "lead"}
    )
    assert response.status_code == 403
    deal.refresh_from_db()
    assert deal.title == "Как было"
    assert Deal.objects.count() == 1


def test_copy_without_next_step_is_refused(manager):
    original = services.deal_create(
        actor=manager,
        client=ClientFactory(manager=manager),
        next_step_title="Позвонить",
        next_step_due_at=tomorrow(),
    )
    with pytest.raises(RuleViolation) as error:
        services.deal_copy(actor=manager, deal=original)
    assert str(error.value) == MESSAGE
    assert Deal.objects.count() == 1
    copy = services.deal_copy(actor=manager, deal=original, next_step_due_at=tomorrow())
    assert copy.copied_from == original


def test_stage_change_of_a_deal_without_next_step_is_refused(manager):
    deal = DealFactory(manager=manager, client__manager=manager, stage=Stage.LEAD)
    with pytest.raises(RuleViolation) as error:
        services.deal_stage_change(actor=manager, deal=deal, stage=Stage.CONTACT)
    assert str(error.value) == MESSAGE
    deal.refresh_from_db()
    assert deal.stage == Stage.LEAD
    assert StageChange.objects.filter(deal=deal).count() == 0
    # Closing a deal needs no next step.
    services.deal_stage_change(actor=manager, deal=deal, stage=Stage.LOST, lost_reason="Дорого")
    assert Deal.objects.get(pk=deal.pk).stage == Stage.LOST


def test_completing_the_last_next_step_is_refused(manager):
    deal = DealFactory(manager=manager, client__manager=manager)
    task = TaskFactory(deal=deal, manager=manager)
    with pytest.raises(RuleViolation):
        services.task_complete(actor=manager, task=task)
    task.refresh_from_db()
    assert task.done_at is None


def test_import_and_sync_flag_instead_of_refusing():
    deal = services.deal_create(
        actor=None,
        client=ClientFactory(),
        title="Из amoCRM",
        source="amocrm",
        external_id="D-1",
        mode=FLAG,
    )
    deal.refresh_from_db()
    assert deal.flags == {"no_next_step": MESSAGE}
    with_step = DealFactory()
    TaskFactory(deal=with_step)
    violations = rulebook.evaluate_bulk("deal.save", Deal.objects.all())
    assert set(violations) == {deal.pk}
    assert [v.code for v in violations[deal.pk]] == ["no_next_step"]
