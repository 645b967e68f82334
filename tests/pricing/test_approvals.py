import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from tests.factories import ClientFactory, ProductFactory
from vrop.core.errors import PermissionDenied, RuleViolation, ValidationError
from vrop.crm.choices import Stage
from vrop.crm.models import Deal, StageChange
from vrop.crm.services import LineInput, deal_copy, deal_create, deal_lines_set, deal_stage_change
from vrop.pricing.models import ApprovalRequest, ApprovalStatus
from vrop.pricing.services import approval_decide
from vrop.receivables.models import Invoice
from vrop.receivables.services import invoice_create

pytestmark = pytest.mark.django_db


def make_deal(manager, price, cost="48000"):
    product = ProductFactory(cost_price=D(cost), list_price=D("56000"))
    return deal_create(
        actor=manager,
        client=ClientFactory(manager=manager),
        lines=[LineInput(product=product, qty=D("10"), price=D(price))],
        next_step_title="Согласовать",
        next_step_due_at=timezone.now() + dt.timedelta(days=1),
    )


def test_discount_over_the_manager_limit_opens_a_request_for_the_head(manager):
    deal = make_deal(manager, "53200")  # 5 % off list
    approval = ApprovalRequest.objects.get(deal=deal)
    assert (approval.status, approval.level) == (ApprovalStatus.PENDING, "head")
    assert approval.reasons[0]["code"] == "discount_over_manager"


def test_until_approved_the_deal_is_not_won_invoiced_or_quoted(manager, head):
    deal = make_deal(manager, "53200")
    for stage in (Stage.WON, Stage.QUOTE):
        with pytest.raises(RuleViolation) as error:
            deal_stage_change(actor=manager, deal=deal, stage=stage)
        assert error.value.code == "approval_required"
    with pytest.raises(RuleViolation):
        invoice_create(
            actor=head, deal=deal, number="1", issued_on=dt.date(2026, 11, 23), amount=D("532000")
        )
    deal.refresh_from_db()
    assert deal.stage == Stage.LEAD
    assert StageChange.objects.filter(deal=deal).count() == 1
    assert Invoice.objects.count() == 0


def test_head_approves_once_and_a_price_change_reopens(manager, head):
    deal = make_deal(manager, "53200")
    approval = ApprovalRequest.objects.get(deal=deal)
    with pytest.raises(PermissionDenied):
        approval_decide(actor=manager, approval=approval, approve=True)
    approval_decide(actor=head, approval=approval, approve=True)
    with pytest.raises(ValidationError) as error:
        approval_decide(actor=head, approval=approval, approve=True)
    assert error.value.code == "already_decided"
    deal_stage_change(actor=manager, deal=deal, stage=Stage.QUOTE)

    product = deal.lines.get().product
    deal_lines_set(
        actor=manager, deal=deal, lines=[LineInput(product=product, qty=D("12"), price=D("53200"))]
    )
    assert ApprovalRequest.objects.filter(deal=deal, status=ApprovalStatus.PENDING).count() == 1
    with pytest.raises(RuleViolation):
        deal_stage_change(actor=manager, deal=deal, stage=Stage.WON)


def test_margin_below_minimum_goes_to_the_owner_even_for_the_head(head, owner):
    deal = make_deal(head, "54000", cost="50000")  # 3.6 % off, margin 7.4 %
    approval = ApprovalRequest.objects.get(deal=deal)
    assert approval.level == "owner"
    with pytest.raises(PermissionDenied):
        approval_decide(actor=head, approval=approval, approve=True)
    approval_decide(actor=owner, approval=approval, approve=False, comment="Не продаём в минус")
    assert ApprovalRequest.objects.get(pk=approval.pk).status == ApprovalStatus.REJECTED


def test_head_setting_prices_within_authority_approves_itself(head):
    deal = make_deal(head, "53200")
    approval = ApprovalRequest.objects.get(deal=deal)
    assert (approval.status, approval.decided_by) == (ApprovalStatus.APPROVED, head)
    deal_stage_change(actor=head, deal=deal, stage=Stage.WON)


def test_a_copy_of_an_approved_deal_needs_its_own_approval(manager, head):
    deal = make_deal(manager, "53200")
    approval_decide(actor=head, approval=ApprovalRequest.objects.get(deal=deal), approve=True)
    copy = deal_copy(
        actor=manager,
        deal=deal,
        next_step_title="Звонок",
        next_step_due_at=timezone.now() + dt.timedelta(days=1),
    )
    assert ApprovalRequest.objects.get(deal=copy).status == ApprovalStatus.PENDING
    with pytest.raises(RuleViolation):
        deal_stage_change(actor=manager, deal=copy, stage=Stage.WON)
    assert Deal.objects.get(pk=copy.pk).stage == Stage.LEAD
