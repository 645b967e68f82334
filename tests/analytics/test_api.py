"""The stable endpoints of the numbers: /kpi, /dashboard/owner, /funnel, /forecast."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests import factories
from tests.api.conftest import ApiClient
from vrop.planning.models import Metric


@pytest.fixture
def plan(company):
    return factories.PlanFactory(metric=Metric.GROSS_PROFIT, target=Decimal("70000"))


def test_kpi_endpoint(company, plan, owner):
    response = ApiClient(owner).get("/kpi", **{"from": "2026-11-01", "to": "2026-11-30"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert {
        key: body[key]
        for key in (
            "from",
            "to",
            "gross_profit",
            "revenue",
            "margin_pct",
            "markup_pct",
            "plan_pct",
            "quote_to_payment_pct",
            "days_to_payment_median",
            "requests_on_time_pct",
        )
    } == {
        "from": "2026-11-01",
        "to": "2026-11-30",
        "gross_profit": "35000.00",
        "revenue": "350000.00",
        "margin_pct": "10.00",
        "markup_pct": "11.11",
        "plan_pct": "50.00",
        "quote_to_payment_pct": "33.33",
        "days_to_payment_median": "10",
        "requests_on_time_pct": "33.3",
    }
    assert body["stalled_deals"] == {"count": 1, "amount": "25000.00"}
    assert body["overdue_receivables"]["total"] == "190000.00"
    assert body["overdue_receivables"]["buckets"]["8-30"] == "150000.00"


def test_kpi_of_a_manager(company, owner):
    response = ApiClient(owner).get(
        "/kpi", **{"from": "2026-11-01", "to": "2026-11-30", "manager": company.a.pk}
    )

    assert response.json()["gross_profit"] == "20000.00"


def test_a_manager_gets_own_kpis_and_not_others(company):
    client = ApiClient(company.b)

    own = client.get("/kpi", **{"from": "2026-11-01", "to": "2026-11-30"})
    other = client.get(
        "/kpi", **{"from": "2026-11-01", "to": "2026-11-30", "manager": company.a.pk}
    )

    assert own.json()["gross_profit"] == "15000.00"
    assert own.json()["manager"] == company.b.pk
    assert other.status_code == 403
    assert other.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-11-30", "to": "2026-11-01"},
        {"from": "not-a-date"},
        {"from": "1900-01-01", "to": "1900-01-02"},
        {"manager": "0"},
    ],
)
def test_kpi_refuses_bad_periods(company, owner, params):
    response = ApiClient(owner).get("/kpi", **params)

    assert response.status_code == 422
    assert response.json()["code"] == "invalid"


def test_owner_dashboard(company, plan, owner, django_assert_max_num_queries):
    client = ApiClient(owner)
    client.get("/dashboard/owner", date="2026-11-20")  # builds the working calendar once

    with django_assert_max_num_queries(12):  # 10 of the dashboard + token and its touch
        response = client.get("/dashboard/owner", date="2026-11-20")

    body = response.json()
    assert body["day"] == {"revenue": "50000.00", "gross_profit": "10000.00", "margin_pct": "20.00"}
    assert body["month_to_date"] == {
        "revenue": "350000.00",
        "gross_profit": "35000.00",
        "margin_pct": "10.00",
        "from": "2026-11-01",
        "plan": "70000.00",
        "plan_pct": "50.00",
        "run_rate": "50000.00",
        "run_rate_pct": "71.43",
    }
    deals = [(d["id"], d["amount"], d["risks"]) for d in body["largest_open_deals"]]
    assert deals == [
        (company.d4.pk, "70000.00", []),
        (company.d5.pk, "25000.00", ["no_next_step", "stalled"]),
    ]
    overdue = body["overdue_receivables"]
    assert overdue["total"] == "190000.00"
    assert [(i["balance"], i["days_overdue"]) for i in overdue["largest"]] == [
        ("150000.00", 10),
        ("30000.00", 3),
        ("10000.00", 80),
    ]
    assert overdue["largest"][0]["action"].startswith("Отгрузки")
    assert body["requests"] == {"total": 3, "on_time": 1, "on_time_pct": "33.3"}
    assert body["stalled_deals"] == {"count": 1, "amount": "25000.00"}


def test_owner_dashboard_dashboard_query_count(company, plan, owner, django_assert_max_num_queries):
    from vrop.analytics.selectors.dashboards import owner_dashboard

    owner_dashboard(viewer=owner)
    with django_assert_max_num_queries(10):
        owner_dashboard(viewer=owner)


def test_funnel_endpoint(company, owner):
    response = ApiClient(owner).get("/funnel", **{"from": "2026-11-01", "to": "2026-11-30"})

    body = response.json()
    assert response.status_code == 200
    assert [s["step"] for s in body["steps"]] == ["lead", "contact", "quote", "won", "paid"]
    assert body["diagnosis"]


def test_forecast_endpoint_sums_its_buckets(company, owner):
    response = ApiClient(owner).get("/forecast", by="month")

    body = response.json()
    assert response.status_code == 200, response.content
    assert sum(Decimal(b["total"]) for b in body["buckets"]) == Decimal(body["total"])
    assert Decimal(body["deals"]) + Decimal(body["invoices"]) == Decimal(body["total"])
    assert [a["by"] for a in body["accuracy"]] == ["week", "month"]


ENDPOINTS = ["/kpi", "/dashboard/owner", "/funnel", "/forecast", "/lost", "/plans/fact"]
ALLOWED = {
    "owner": set(ENDPOINTS),
    "head": set(ENDPOINTS),
    "finance": {"/kpi", "/forecast", "/plans/fact"},
    "manager": {"/kpi", "/funnel", "/forecast", "/lost", "/plans/fact"},
    "supply": set(),
}


@pytest.mark.parametrize("role", sorted(ALLOWED))
@pytest.mark.parametrize("path", ENDPOINTS)
def test_access_matrix(db, frozen, role, path):
    user = factories.UserFactory(role=role)

    response = ApiClient(user).get(path)

    assert response.status_code == (200 if path in ALLOWED[role] else 403), response.content


@pytest.mark.parametrize("path", ENDPOINTS)
def test_anonymous_is_refused(db, path):
    assert ApiClient().get(path).status_code == 401
