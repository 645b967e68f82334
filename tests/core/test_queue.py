"""Tasks run immediately in tests, and through a real Redis queue when one is configured."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from huey import RedisHuey

from tests.factories import DealFactory, DealLineFactory, TaskFactory
from vrop.crm.models import Deal
from vrop.crm.tasks import deal_refresh_task

pytestmark = pytest.mark.django_db


def test_task_runs_immediately_in_tests():
    deal = DealFactory()
    DealLineFactory(
        deal=deal,
        qty=Decimal("2"),
        price=Decimal("100"),
        cost_price=Decimal("90"),
        list_price=Decimal("110"),
    )
    result = deal_refresh_task(deal.pk)
    assert result.get()["amount"] == "200.00"
    deal.refresh_from_db()
    assert (deal.amount, deal.cost_amount, deal.list_amount) == (
        Decimal("200.00"),
        Decimal("180.00"),
        Decimal("220.00"),
    )


def test_task_round_trips_through_redis(redis_url):
    queue = RedisHuey(name=f"vrop-test-{timezone.now().timestamp()}", url=redis_url)
    queue.flush()
    task = queue.task()(deal_refresh_task.func)
    deal = DealFactory()
    due = timezone.now() + dt.timedelta(days=2)
    TaskFactory(deal=deal, due_at=due)
    DealLineFactory(
        deal=deal,
        qty=Decimal("3"),
        price=Decimal("10"),
        cost_price=Decimal("7"),
        list_price=Decimal("10"),
    )

    pending = task(deal.pk)
    assert queue.pending_count() == 1
    message = queue.dequeue()
    queue.execute(message)

    assert pending.get()["amount"] == "30.00"
    deal = Deal.objects.get(pk=deal.pk)
    assert deal.next_step_at == due
    queue.flush()
