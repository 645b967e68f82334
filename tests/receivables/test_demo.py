"""The demo's manager whose clients pay late shows it in our ageing, DSO and discipline."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from vrop.accounts.models import User
from vrop.core.models import CompanySettings
from vrop.demo.generator import generate_demo, reset_demo_data
from vrop.receivables.selectors import (
    client_payment_discipline,
    days_to_payment,
    dso,
    receivables_ageing,
)

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("Europe/Moscow"))


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), time_machine.travel(NOW, tick=False):
        generate_demo(seed=7, today=TODAY, months=2)
    yield
    with django_db_blocker.unblock():
        reset_demo_data()
        CompanySettings.objects.all().delete()


def test_the_late_payers_clients_lead_the_ageing_and_dso(demo):
    owner = User.objects.filter(role="owner").first()
    managers = {
        user.pk: user.extra.get("demo_behaviour") for user in User.objects.filter(role="manager")
    }
    (late_payer,) = [pk for pk, code in managers.items() if code == "late_payer"]

    by_manager = receivables_ageing(viewer=owner, at=TODAY, group_by="manager")

    assert by_manager[0].id == late_payer
    assert by_manager[0].total > 0
    start = dt.date(2026, 9, 23)
    values = {
        pk: dso(viewer=owner, date_from=start, date_to=TODAY, manager_id=pk)["dso"]
        for pk in managers
    }
    values = {pk: value for pk, value in values.items() if value is not None}
    assert max(values, key=values.get) == late_payer
    # Days late (after the due date), not days to payment: terms differ between managers.
    from vrop.crm.models import Client

    manager_of = dict(Client.objects.values_list("pk", "manager_id"))
    late_days: dict[int, list] = {}
    for profile in client_payment_discipline(viewer=owner, at=TODAY).values():
        if profile.mean_days_late is not None:
            late_days.setdefault(manager_of[profile.client_id], []).append(profile.mean_days_late)
    average = {pk: sum(days) / len(days) for pk, days in late_days.items()}
    assert max(average, key=average.get) == late_payer
    assert days_to_payment(viewer=owner, date_from=start, date_to=TODAY).count > 0
