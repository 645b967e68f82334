"""Pages of the numbers, the reports as XLSX and PDF, the CLI, delivery and the digest."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from django.test import Client

from tests import factories
from tests.analytics.conftest import d
from vrop.analytics.models import ReportSubscription
from vrop.analytics.periods import Period
from vrop.analytics.reports import (
    owner_digest,
    report_build,
    report_pdf,
    report_xlsx,
    reports_deliver_due,
)
from vrop.analytics.services import report_subscriptions_set
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.planning.models import Metric


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


PAGES = [
    ("/analytics/owner/", {"owner"}),
    ("/analytics/", {"owner", "head"}),
    ("/analytics/reports/", {"owner", "head", "finance"}),
    ("/analytics/reports/month/", {"owner", "head", "finance"}),
    ("/planning/", {"owner", "head", "finance", "manager"}),
    ("/planning/forecast/", {"owner", "head", "finance", "manager"}),
]


@pytest.mark.parametrize("role", ["owner", "head", "finance", "manager", "supply"])
@pytest.mark.parametrize(("path", "roles"), PAGES)
def test_page_access(db, frozen, role, path, roles):
    user = factories.UserFactory(role=role)

    response = _client(user).get(path)

    expected = 200 if role in roles or (role == "head" and path == "/analytics/owner/") else 403
    assert response.status_code == expected


def test_owner_page_shows_the_numbers(company, owner):
    factories.PlanFactory(metric=Metric.GROSS_PROFIT, target=Decimal("70000"))

    page = _client(owner).get("/analytics/owner/", {"date": "2026-11-20"}).content.decode()

    assert "35\u00a0000\u00a0₽" in page  # gross profit month to date
    assert "190\u00a0000\u00a0₽" in page  # overdue receivables
    assert company.d4.title in page


def test_head_page_has_managers_funnel_and_charts(company, head):
    page = _client(head).get("/analytics/", {"date": "2026-11-20"}).content.decode()

    assert str(company.a) in page and str(company.b) in page
    assert "vendor/echarts/echarts.min.js" in page
    assert 'id="chart-data"' in page


def test_report_downloads(company, owner):
    client = _client(owner)

    xlsx = client.get("/analytics/reports/month/", {"date": "2026-11-20", "format": "xlsx"})
    pdf = client.get("/analytics/reports/month/", {"date": "2026-11-20", "format": "pdf"})

    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_report_numbers_in_the_workbook(company, owner):
    report = report_build(viewer=owner, kind="month", day=d(20))

    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(report)))
    summary = {row[0]: row[1:] for row in book.worksheets[0].iter_rows(min_row=5, values_only=True)}

    assert report.period == Period(d(1), d(20), "month")
    assert summary["Выручка"][:2] == (350000, 0)  # 1–20 October: the 999 is on 31.10
    assert summary["Валовая прибыль"][0] == 35000.0
    managers = [row for row in book.worksheets[1].iter_rows(min_row=2, values_only=True)]
    assert sorted(row[2] for row in managers) == [15000.0, 20000.0]


def test_report_previous_period_is_as_long(company, owner):
    report = report_build(viewer=owner, kind="month", day=d(20))

    # 1–20 October: nothing shipped (the 999 is on 31.10).
    assert report.previous.revenue == Decimal("0.00")


def test_pdf_has_text_in_russian(company, owner):
    pdf = report_pdf(report_build(viewer=owner, kind="month", day=d(20)))

    assert pdf.startswith(b"%PDF") and len(pdf) > 5000


def test_cli_report(company, owner, tmp_path):
    from vrop.cli import main

    target = tmp_path / "r.xlsx"
    code = main(
        [
            "report",
            "--period",
            "week",
            "--format",
            "xlsx",
            "--date",
            "2026-11-20",
            "--out",
            str(target),
        ]
    )

    assert code == 0
    book = openpyxl.load_workbook(target)
    assert book.worksheets[0]["A1"].value.startswith("Еженедельный") or book.worksheets[0][
        "A1"
    ].value.startswith("Неделя")


def test_subscriptions_and_delivery_once(company, owner, finance):
    report_subscriptions_set(user=owner, kinds=["week", "month"])

    first = reports_deliver_due(today=d(20))
    second = reports_deliver_due(today=d(20))

    from vrop.notifications.models import OutboxMessage

    messages = OutboxMessage.objects.filter(user=owner, channel="inapp")
    assert first >= 2 and second == 0
    assert messages.count() == 2
    assert {m.dedupe_key.split(":")[2] for m in messages} == {"2026-11-09", "2026-10-01"}
    assert all(m.link.startswith("/analytics/reports/") for m in messages)


def test_subscriptions_refused_for_a_manager_and_unknown_kinds(manager, owner):
    with pytest.raises(PermissionDenied):
        report_subscriptions_set(user=manager, kinds=["month"])
    with pytest.raises(ValidationError):
        report_subscriptions_set(user=owner, kinds=["decade"])

    assert ReportSubscription.objects.count() == 0


def test_owner_digest_text(company, owner):
    text = owner_digest(user=owner, day=d(21))

    assert "20.11.2026" in text
    assert "10\u00a0000\u00a0₽" in text  # gross profit of 20.11
    assert "190\u00a0000\u00a0₽" in text


def test_owner_digest_is_registered(owner):
    from vrop.notifications.services import digest_builder_for

    assert digest_builder_for(owner) is owner_digest


def test_report_to_date_compares_with_the_whole_month_plan(company, owner):
    factories.PlanFactory(metric=Metric.GROSS_PROFIT, target=Decimal("70000"))

    report = report_build(viewer=owner, kind="month", day=d(20))

    assert report.plan.plan == Decimal("70000")
    assert report.plan.plan_pct == Decimal("50.00")
    assert report.plan.projection == Decimal("50000.00")  # 35 000 / 14 × 20 working days


def test_a_printed_report_shows_the_best_and_the_worst_of_a_large_team(frozen, owner, tmp_path):
    """45 managers with gross profit 1 000 × n (n = 1…45): the PDF prints the 20 best
    (45…26) and the 20 worst (20…1) and says that 5 are left out; the page lists all."""
    import subprocess

    from vrop.analytics.reports import PRINTED_MANAGERS, printed_managers

    assert PRINTED_MANAGERS == 40
    for n in range(1, 46):
        manager = factories.ManagerFactory(first_name=f"Менеджер{n:02d}", last_name="Тестов")
        factories.ShipmentFactory(
            deal__manager=manager,
            manager=manager,
            shipped_on=d(10),
            amount=Decimal(10_000 * n),
            cost=Decimal(9_000 * n),
        )
    report = report_build(viewer=owner, kind="month", day=d(20))
    assert len(report.managers) == 45
    rows, omitted = printed_managers(report.managers)
    profits = [row.sales.gross_profit for row in rows if row is not None]
    assert omitted == 5 and rows[20] is None and len(rows) == 41
    assert profits == [Decimal(1_000 * n) for n in [*range(45, 25, -1), *range(20, 0, -1)]]

    path = tmp_path / "report.pdf"
    path.write_bytes(report_pdf(report))
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    assert "Менеджер45" in text and "Менеджер01" in text and "Менеджер23" not in text
    assert "ещё 5 менеджеров" in text
    page = _client(owner).get("/analytics/reports/month/?day=2026-11-20").content.decode()
    assert "Менеджер23" in page
