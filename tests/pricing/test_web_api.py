"""Approvals page and decisions, the deal's pricing panel, the pricing API, bypass paths."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import ClientFactory, OwnerFactory, ProductFactory
from vrop.accounts.services import api_token_create
from vrop.crm.choices import Stage
from vrop.crm.models import Deal, StageChange
from vrop.crm.services import LineInput, deal_create
from vrop.pricing.models import ApprovalRequest, ApprovalStatus

pytestmark = pytest.mark.django_db


def make_deal(manager, price, cost="48000", qty="10"):
    product = ProductFactory(name="Арматура А500С ⌀12", cost_price=D(cost), list_price=D("56000"))
    return deal_create(
        actor=manager,
        client=ClientFactory(manager=manager),
        lines=[LineInput(product=product, qty=D(qty), price=D(price))],
        next_step_title="Согласовать",
        next_step_due_at=timezone.now() + dt.timedelta(days=1),
    )


def browser(user):
    client = Client()
    client.force_login(user)
    return client


def api(user):
    _token, key = api_token_create(user=user, name="test")
    return Client(headers={"Authorization": f"Bearer {key}"})


def snapshot(deal):
    approval = ApprovalRequest.objects.get(deal=deal)
    deal.refresh_from_db()
    return (
        deal.stage,
        StageChange.objects.filter(deal=deal).count(),
        approval.status,
        approval.decided_by_id,
        approval.comment,
    )


def test_the_approvals_page_lists_pending_requests_for_the_head(manager, head):
    deal = make_deal(manager, "53200")  # 5 % off: the head decides

    response = browser(head).get(reverse("approval-list"))

    assert response.status_code == 200
    assert deal.title.encode() in response.content
    assert response.content.decode().count("5.0 %") == 2
    assert reverse(
        "approval-decide", args=[ApprovalRequest.objects.get(deal=deal).pk]
    ).encode() in (response.content)


@pytest.mark.parametrize("role", ["manager", "finance", "supply"])
def test_the_approvals_page_is_for_head_and_owner_only(role, request):
    user = request.getfixturevalue(role)
    assert browser(user).get(reverse("approval-list")).status_code == 403


def test_the_head_approves_in_the_web_ui_once(manager, head):
    deal = make_deal(manager, "53200")
    approval = ApprovalRequest.objects.get(deal=deal)
    url = reverse("approval-decide", args=[approval.pk])
    client = browser(head)

    first = client.post(url, {"decision": "approve", "comment": "Ок, объём большой"})
    second = client.post(url, {"decision": "reject", "comment": "Передумал"}, follow=True)

    assert first.status_code == 302
    approval.refresh_from_db()
    assert (approval.status, approval.decided_by, approval.comment) == (
        ApprovalStatus.APPROVED,
        head,
        "Ок, объём большой",
    )
    assert "уже принято".encode() in second.content or b"already" in second.content
    assert ApprovalRequest.objects.filter(deal=deal, status=ApprovalStatus.APPROVED).count() == 1


def test_rejecting_needs_a_reason_and_changes_nothing_without_one(manager, head):
    deal = make_deal(manager, "53200")
    approval = ApprovalRequest.objects.get(deal=deal)
    before = snapshot(deal)

    browser(head).post(reverse("approval-decide", args=[approval.pk]), {"decision": "reject"})

    assert snapshot(deal) == before == (Stage.LEAD, 1, ApprovalStatus.PENDING, None, "")


def test_a_manager_cannot_decide_in_the_web_ui(manager):
    deal = make_deal(manager, "53200")
    approval = ApprovalRequest.objects.get(deal=deal)
    before = snapshot(deal)

    response = browser(manager).post(
        reverse("approval-decide", args=[approval.pk]), {"decision": "approve"}
    )

    assert response.status_code == 403
    assert snapshot(deal) == before


def test_the_head_cannot_decide_an_owner_level_request(manager, head):
    deal = make_deal(manager, "50000")  # 10.7 % off: the owner decides
    approval = ApprovalRequest.objects.get(deal=deal)
    assert approval.level == "owner"
    before = snapshot(deal)

    browser(head).post(reverse("approval-decide", args=[approval.pk]), {"decision": "approve"})

    assert snapshot(deal) == before


def test_the_pricing_panel_shows_figures_reasons_and_history(manager):
    deal = make_deal(manager, "53200")  # cost 48000: margin 9.77 %, markup 10.83 %

    response = browser(manager).get(reverse("pricing-deal-panel", args=[deal.pk]))

    assert response.status_code == 200
    text = response.content.decode()
    assert "9,8\xa0%" in text  # margin 9.77 %
    assert "10,8\xa0%" in text  # markup 10.83 %
    assert "5,0\xa0%" in text  # discount
    assert "52\xa0000,00\xa0₽" in text  # gross profit 10 × 5200
    assert "discount_over_manager" not in text
    assert text.count("5.0 %") == 2  # the line's and the deal's reason


def test_the_deal_page_loads_the_pricing_panel(manager):
    deal = make_deal(manager, "56000")
    response = browser(manager).get(reverse("deal-detail", args=[deal.pk]))
    assert reverse("pricing-deal-panel", args=[deal.pk]).encode() in response.content


def test_the_panel_of_someone_elses_deal_is_404(manager, other_manager):
    deal = make_deal(manager, "56000")
    response = browser(other_manager).get(reverse("pricing-deal-panel", args=[deal.pk]))
    assert response.status_code == 404


# --- API ----------------------------------------------------------------------------------


def test_api_evaluates_a_deal(manager):
    deal = make_deal(manager, "53200")

    response = api(manager).get(f"/api/v1/deals/{deal.pk}/pricing")

    assert response.status_code == 200
    body = response.json()
    assert (body["level"], body["cleared"]) == ("head", False)
    assert [r["code"] for r in body["reasons"]] == [
        "discount_over_manager",
        "discount_over_manager",
    ]
    assert (body["amount"], body["gross_profit"], body["margin_pct"], body["discount_pct"]) == (
        "532000.00",
        "52000.00",
        "9.77",
        "5.00",
    )
    assert body["lines"][0]["markup_pct"] == "10.83"


def test_api_lists_and_decides_approvals_once(manager, head):
    deal = make_deal(manager, "53200")
    approval = ApprovalRequest.objects.get(deal=deal)
    client = api(head)

    listed = client.get("/api/v1/approvals?status=pending")
    first = client.post(
        f"/api/v1/approvals/{approval.pk}/decide",
        {"approve": True},
        content_type="application/json",
    )
    second = client.post(
        f"/api/v1/approvals/{approval.pk}/decide",
        {"approve": False, "comment": "нет"},
        content_type="application/json",
    )

    assert [item["id"] for item in listed.json()["items"]] == [approval.pk]
    assert (first.status_code, first.json()["status"]) == (200, "approved")
    assert (second.status_code, second.json()["code"]) == (422, "already_decided")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED


def test_api_refuses_the_manager_a_decision(manager):
    deal = make_deal(manager, "53200")
    approval = ApprovalRequest.objects.get(deal=deal)
    before = snapshot(deal)

    response = api(manager).post(
        f"/api/v1/approvals/{approval.pk}/decide",
        {"approve": True},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert snapshot(deal) == before


# --- bypass paths -------------------------------------------------------------------------


def test_web_stage_change_to_won_is_refused_until_approved(manager):
    deal = make_deal(manager, "53200")
    before = snapshot(deal)

    response = browser(manager).post(
        reverse("deal-stage", args=[deal.pk]), {"stage": "won"}, follow=True
    )

    assert response.status_code == 200
    assert "approval" in response.content.decode() or "согласован" in response.content.decode()
    assert snapshot(deal) == before


@pytest.mark.parametrize("stage", ["won", "quote"])
def test_api_stage_change_is_refused_until_approved(manager, stage):
    deal = make_deal(manager, "53200")
    before = snapshot(deal)

    response = api(manager).post(
        f"/api/v1/deals/{deal.pk}/stage", {"stage": stage}, content_type="application/json"
    )

    assert (response.status_code, response.json()["code"]) == (409, "approval_required")
    assert snapshot(deal) == before


def test_admin_cannot_change_the_stage_around_the_service(manager):
    deal = make_deal(manager, "53200")
    superuser = OwnerFactory(is_staff=True, is_superuser=True)
    before = snapshot(deal)

    response = browser(superuser).post(
        reverse("admin:crm_deal_change", args=[deal.pk]),
        {"stage": "won", "title": deal.title, "client": deal.client_id, "channel": "phone"},
    )

    assert response.status_code == 403
    assert snapshot(deal) == before


def test_api_quote_is_refused_until_approved_and_issued_after(manager, head):
    deal = make_deal(manager, "53200")
    client = api(manager)

    refused = client.post(f"/api/v1/deals/{deal.pk}/quotes", {}, content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (409, "approval_required")
    assert deal.quotes.count() == 0
    assert Deal.objects.get(pk=deal.pk).stage == Stage.LEAD

    approval = ApprovalRequest.objects.get(deal=deal)
    api(head).post(
        f"/api/v1/approvals/{approval.pk}/decide",
        {"approve": True},
        content_type="application/json",
    )
    issued = client.post(
        f"/api/v1/deals/{deal.pk}/quotes", {"valid_days": 7}, content_type="application/json"
    )

    assert issued.status_code == 201
    body = issued.json()
    assert (body["amount"], body["vat_amount"]) == ("532000.00", "106400.00")
    assert Deal.objects.get(pk=deal.pk).stage == Stage.QUOTE
    pdf = client.get(body["pdf"])
    xlsx = client.get(body["xlsx"])
    assert (pdf.status_code, pdf.content[:5]) == (200, b"%PDF-")
    assert (xlsx.status_code, xlsx.content[:2]) == (200, b"PK")
