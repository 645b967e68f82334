"""A new client gets credit terms only from someone who sets credit, on every path that
creates clients through the service."""

from decimal import Decimal

import pytest

from vrop.core.errors import RuleViolation
from vrop.crm.models import Client
from vrop.crm.services import client_create

pytestmark = pytest.mark.django_db


def test_manager_cannot_create_a_client_with_deferral_or_limit(manager):
    with pytest.raises(RuleViolation) as error:
        client_create(actor=manager, name="ООО «Отсрочка»", payment_terms_days=30)
    assert error.value.code == "credit_terms_protected"
    with pytest.raises(RuleViolation):
        client_create(actor=manager, name="ООО «Лимит»", credit_limit=Decimal("100000"))
    assert Client.objects.count() == 0


def test_manager_creates_a_prepayment_client_and_finance_gives_terms(manager, finance, head):
    client = client_create(actor=manager, name="ООО «Предоплата»")
    assert (client.payment_terms_days, client.credit_limit) == (0, Decimal("0"))
    with_terms = client_create(
        actor=head, name="ООО «Доверие»", payment_terms_days=14, credit_limit=Decimal("500000")
    )
    assert with_terms.payment_terms_days == 14
