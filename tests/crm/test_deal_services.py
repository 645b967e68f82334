import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import ClientFactory, ProductFactory
from vrop.core.errors import RuleViolation, ValidationError
from vrop.crm.choices import Stage
from vrop.crm.models import Deal, StageChange
from vrop.crm.services import LineInput, deal_create, deal_stage_change

pytestmark = pytest.mark.django_db


def test_deal_create_computes_totals_and_starts_history(manager):
    client = ClientFactory(manager=manager)
    product = ProductFactory(cost_price=Decimal("50000"), list_price=Decimal("56000"))
    deal = deal_create(
        actor=manager,
        client=client,
        lines=[LineInput(product=product, qty=Decimal("2.5"), price=Decimal("55000"))],
        next_step_title="Позвонить",
        next_step_due_at=timezone.now() + dt.timedelta(days=1),
    )
    deal.refresh_from_db()
    assert deal.amount == Decimal("137500.00")
    assert deal.cost_amount == Decimal("125000.00")
    assert deal.gross_profit == Decimal("12500.00")
    assert deal.margin_pct == Decimal("9.09")
    assert deal.manager == manager
    assert list(StageChange.objects.filter(deal=deal).values_list("stage", flat=True)) == ["lead"]


def test_open_deal_without_next_step_is_refused_and_nothing_is_written(manager):
    client = ClientFactory(manager=manager)
    with pytest.raises(RuleViolation) as error:
        deal_create(actor=manager, client=client)
    assert error.value.code == "no_next_step"
    assert Deal.objects.count() == 0
    assert StageChange.objects.count() == 0


def test_lost_needs_a_reason(manager):
    client = ClientFactory(manager=manager)
    deal = deal_create(
        actor=manager,
        client=client,
        next_step_title="x",
        next_step_due_at=timezone.now() + dt.timedelta(days=1),
    )
    with pytest.raises(ValidationError):
        deal_stage_change(actor=manager, deal=deal, stage=Stage.LOST)
    deal.refresh_from_db()
    assert deal.stage == Stage.LEAD
    deal_stage_change(actor=manager, deal=deal, stage=Stage.LOST, lost_reason="Дорого")
    assert StageChange.objects.filter(deal=deal).count() == 2


def test_a_manager_cannot_give_a_client_to_someone_else(manager, other_manager, head):
    from vrop.core.errors import PermissionDenied
    from vrop.crm.models import Client
    from vrop.crm.services import client_create, client_update

    with pytest.raises(PermissionDenied):
        client_create(actor=manager, name="ООО «Чужой»", manager=other_manager)
    assert Client.objects.count() == 0
    client = client_create(actor=manager, name="ООО «Свой»")
    with pytest.raises(PermissionDenied):
        client_update(actor=manager, client=client, manager=other_manager)
    client.refresh_from_db()
    assert client.manager == manager
    client_update(actor=head, client=client, manager=other_manager)
    client.refresh_from_db()
    assert client.manager == other_manager
