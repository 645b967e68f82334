"""Periodic reports: daily, weekly, monthly, quarterly, annual.

A report holds the financial indicators of the period (revenue, gross profit, margin,
markup, cash receipts) beside the previous period, % of plan with the run-rate, the
table per manager, the KPIs, the lost reasons and the outlook from the payment
forecast. It is shown on screen, written as XLSX (XlsxWriter) and PDF (WeasyPrint),
delivered on a schedule (``ReportSubscription``), and made by ``vrop report``.

Which period: the one of ``kind`` that contains ``day``, up to ``day`` (so "month" on
the 20th is the month to date); scheduled delivery sends the last complete period.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.analytics.models import ReportKind
from vrop.analytics.periods import Period, last_complete_period, period_of
from vrop.analytics.selectors.dashboards import ManagerRow, plan_fact_by_manager
from vrop.analytics.selectors.kpi import Kpi, Sales, cash_receipts, kpi, sales_totals
from vrop.analytics.selectors.lost import LostRow, lost_summary
from vrop.core.money import percent
from vrop.core.policy import company_settings_cached
from vrop.planning.forecast import Forecast, forecast
from vrop.planning.models import Metric
from vrop.planning.selectors import RunRate, plan_target, run_rate

FORMATS = ("pdf", "xlsx")


@dataclass
class Report:
    kind: str
    period: Period
    made_at: datetime
    company: str
    kpi: Kpi
    previous: Sales
    cash: Decimal
    managers: list[ManagerRow]
    lost: list[LostRow]
    outlook: Forecast
    plan: RunRate  # the whole period's gross-profit plan, with the run-rate to its end

    @property
    def title(self) -> str:
        return _("%(kind)s report, %(start)s – %(end)s") % {
            "kind": str(ReportKind(self.kind).label).capitalize(),
            "start": self.period.start.strftime("%d.%m.%Y"),
            "end": self.period.end.strftime("%d.%m.%Y"),
        }

    @property
    def sales(self) -> Sales:
        return self.kpi.sales

    @property
    def change_pct(self) -> Decimal | None:
        """Gross profit against the previous period of the same length, in %."""
        if not self.previous.gross_profit:
            return None
        return percent(
            self.sales.gross_profit - self.previous.gross_profit, abs(self.previous.gross_profit)
        )

    def indicators(self) -> list[tuple[str, Decimal | None, Decimal | None, str]]:
        """(label, this period, previous period, format) rows of the financial table."""
        sales, previous = self.sales, self.previous
        return [
            (_("Revenue"), sales.revenue, previous.revenue, "money"),
            (_("Gross profit"), sales.gross_profit, previous.gross_profit, "money"),
            (_("Margin, %"), sales.margin_pct, previous.margin_pct, "pct"),
            (_("Markup, %"), sales.markup_pct, previous.markup_pct, "pct"),
            (_("Cost of sales"), sales.cost, previous.cost, "money"),
            (_("Volume"), sales.volume, previous.volume, "qty"),
            (_("Cash receipts"), self.cash, None, "money"),
        ]


def report_period(kind: str, day: date) -> Period:
    full = period_of(kind, day)
    return Period(full.start, min(full.end, day), kind)


def report_build(
    *, viewer, kind: str, day: date | None = None, period: Period | None = None
) -> Report:
    """Everything a report shows, read from the number selectors."""
    day = day or timezone.localdate()
    period = period or report_period(kind, day)
    previous_start = period_of(kind, period.start).previous().start
    previous = Period(previous_start, previous_start + (period.end - period.start), kind)
    full = period_of(kind, period.start)
    with company_settings_cached() as policy:
        numbers = kpi(viewer=viewer, period=period)
        target = plan_target(viewer=viewer, metric=Metric.GROSS_PROFIT, period=full)
        return Report(
            kind=kind,
            period=period,
            made_at=timezone.now(),
            company=policy.name,
            kpi=numbers,
            plan=run_rate(fact=numbers.sales.gross_profit, plan=target, period=full, at=period.end),
            previous=sales_totals(viewer=viewer, period=previous),
            cash=cash_receipts(viewer=viewer, period=period),
            managers=plan_fact_by_manager(viewer=viewer, period=full, at=period.end),
            lost=lost_summary(viewer=viewer, period=period, by="reason")[:10],
            outlook=forecast(viewer=viewer, at=min(period.end, timezone.localdate())),
        )


# --- XLSX ---------------------------------------------------------------------------------


def report_xlsx(report: Report) -> bytes:
    """The report as an Excel workbook: the indicators, managers, KPIs and outlook."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    money = book.add_format({"num_format": "# ##0.00"})
    pct = book.add_format({"num_format": "0.00"})
    qty = book.add_format({"num_format": "# ##0.000"})
    formats = {"money": money, "pct": pct, "qty": qty}

    def number(value) -> float | None:
        return None if value is None else float(value)

    sheet = book.add_worksheet(_("Summary")[:31])
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 3, 18)
    sheet.write(0, 0, report.title, title)
    sheet.write(1, 0, report.company)
    sheet.write_row(3, 0, [_("Indicator"), _("Period"), _("Previous period")], bold)
    row = 4
    for label, value, previous, kind in report.indicators():
        sheet.write(row, 0, label)
        sheet.write(row, 1, number(value), formats[kind])
        sheet.write(row, 2, number(previous), formats[kind])
        row += 1
    row += 1
    plan = report.plan
    for label, value, kind in (
        (_("Gross profit plan"), plan.plan, "money"),
        (_("Plan, %"), plan.plan_pct, "pct"),
        (_("Run-rate projection"), plan.projection, "money"),
        (_("Run-rate to plan, %"), plan.projection_pct, "pct"),
        (_("Conversion quote → payment, %"), report.kpi.quote_to_payment.pct, "pct"),
        (_("Days to payment, median"), report.kpi.days_to_payment.median, "pct"),
        (_("Requests processed on time, %"), report.kpi.requests.on_time_pct, "pct"),
        (_("Stalled deals"), report.kpi.stalled.count, "qty"),
        (_("Stalled deals, amount"), report.kpi.stalled.amount, "money"),
        (_("Overdue receivables"), report.kpi.overdue.total, "money"),
    ):
        sheet.write(row, 0, label)
        sheet.write(row, 1, number(value), formats[kind])
        row += 1

    managers = book.add_worksheet(_("Managers")[:31])
    managers.set_column(0, 0, 30)
    managers.set_column(1, 7, 16)
    managers.write_row(
        0,
        0,
        [
            _("Manager"),
            _("Revenue"),
            _("Gross profit"),
            _("Margin, %"),
            _("Plan"),
            _("Plan, %"),
            _("Run-rate"),
            _("Run-rate to plan, %"),
        ],
        bold,
    )
    for index, manager in enumerate(report.managers, start=1):
        managers.write(index, 0, manager.name)
        managers.write(index, 1, number(manager.sales.revenue), money)
        managers.write(index, 2, number(manager.sales.gross_profit), money)
        managers.write(index, 3, number(manager.sales.margin_pct), pct)
        managers.write(index, 4, number(manager.plan.plan), money)
        managers.write(index, 5, number(manager.plan.plan_pct), pct)
        managers.write(index, 6, number(manager.plan.projection), money)
        managers.write(index, 7, number(manager.plan.projection_pct), pct)

    outlook = book.add_worksheet(_("Outlook")[:31])
    outlook.set_column(0, 1, 14)
    outlook.set_column(2, 4, 18)
    outlook.write_row(0, 0, [_("From"), _("To"), _("Deals"), _("Invoices"), _("Total")], bold)
    dates = book.add_format({"num_format": "dd.mm.yyyy"})
    for index, bucket in enumerate(report.outlook.buckets("week"), start=1):
        outlook.write_datetime(index, 0, datetime.combine(bucket.start, datetime.min.time()), dates)
        outlook.write_datetime(index, 1, datetime.combine(bucket.end, datetime.min.time()), dates)
        outlook.write(index, 2, number(bucket.deals), money)
        outlook.write(index, 3, number(bucket.invoices), money)
        outlook.write(index, 4, number(bucket.total), money)

    lost = book.add_worksheet(_("Lost deals")[:31])
    lost.set_column(0, 0, 40)
    lost.set_column(1, 2, 16)
    lost.write_row(0, 0, [_("Reason"), _("Deals"), _("Amount")], bold)
    for index, item in enumerate(report.lost, start=1):
        lost.write(index, 0, item.key or "—")
        lost.write(index, 1, item.deals)
        lost.write(index, 2, number(item.amount), money)
    book.close()
    return buffer.getvalue()


# --- HTML and PDF -------------------------------------------------------------------------


# Rows of the managers table in a printed (PDF) report: a larger team is shown by its best
# and its worst by gross profit, with the count of the others (decisions/0010); the page
# and the XLSX list every manager.
PRINTED_MANAGERS = 40


def printed_managers(rows: list, limit: int = PRINTED_MANAGERS) -> tuple[list, int]:
    """(rows to print, how many are left out): all rows when there are at most ``limit``;
    else the ``limit // 2`` best and the ``limit // 2`` worst by gross profit, with ``None``
    between them where the others are left out."""
    if len(rows) <= limit:
        return rows, 0
    ordered = sorted(rows, key=lambda row: (-row.sales.gross_profit, row.name))
    half = limit // 2
    return [*ordered[:half], None, *ordered[-half:]], len(rows) - 2 * half


def report_context(report: Report, *, printed: bool = False) -> dict:
    managers, omitted = printed_managers(report.managers) if printed else (report.managers, 0)
    return {
        "report": report,
        "weeks": report.outlook.buckets("week")[:8],
        "managers": managers,
        "managers_omitted": omitted,
    }


def report_pdf(report: Report) -> bytes:
    """The report as PDF: the same template as on screen, with the DejaVu fonts."""
    from weasyprint import HTML

    html = render_to_string("analytics/report_pdf.html", report_context(report, printed=True))
    return HTML(string=html).write_pdf()


def report_file(report: Report, fmt: str) -> tuple[bytes, str, str]:
    """(content, file name, content type)."""
    name = f"report-{report.kind}-{report.period.start:%Y-%m-%d}"
    if fmt == "xlsx":
        return (
            report_xlsx(report),
            f"{name}.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    if fmt == "pdf":
        return report_pdf(report), f"{name}.pdf", "application/pdf"
    raise ValueError(fmt)


# --- delivery -------------------------------------------------------------------------------


def report_summary_text(report: Report) -> str:
    from vrop.core.money import format_money, format_percent

    sales = report.sales
    return _(
        "%(title)s\n"
        "Revenue: %(revenue)s\nGross profit: %(gross_profit)s (margin %(margin)s)\n"
        "Plan: %(plan_pct)s, run-rate %(run_rate_pct)s\n"
        "Overdue receivables: %(overdue)s\nStalled deals: %(stalled)s"
    ) % {
        "title": report.title,
        "revenue": format_money(sales.revenue, 0),
        "gross_profit": format_money(sales.gross_profit, 0),
        "margin": format_percent(sales.margin_pct),
        "plan_pct": format_percent(report.plan.plan_pct),
        "run_rate_pct": format_percent(report.plan.projection_pct),
        "overdue": format_money(report.kpi.overdue.total, 0),
        "stalled": report.kpi.stalled.count,
    }


def reports_deliver_due(*, today: date | None = None) -> int:
    """Send every subscription the report of its last complete period, once: the
    notification's dedupe key is the subscription and the period. Returns how many
    were written. Safe to run every hour."""
    from django.urls import reverse
    from django.utils import translation

    from vrop.analytics.access import may_read
    from vrop.analytics.models import ReportSubscription

    try:
        from vrop.notifications.services import notify
    except ImportError:  # pragma: no cover - notifications ship with the project
        return 0
    today = today or timezone.localdate()
    sent = 0
    for subscription in ReportSubscription.objects.select_related("user").order_by("pk"):
        user = subscription.user
        if not user.is_active or user.left_on or not may_read(user, "reports"):
            continue
        period = last_complete_period(subscription.kind, today)
        with translation.override(user.language or "ru"):
            report = report_build(viewer=user, kind=subscription.kind, period=period)
            link = (
                reverse("report-view", kwargs={"kind": subscription.kind})
                + f"?date={period.end.isoformat()}"
            )
            written = notify(
                user=user,
                text=report_summary_text(report),
                subject=report.title,
                link=link,
                channels=subscription.channels or ("inapp", "email", "telegram"),
                dedupe_key=f"report:{subscription.pk}:{period.start.isoformat()}",
            )
        sent += len(written)
    return sent


def owner_digest(*, user, day: date) -> str:
    """The owner's morning message: the five minutes as text (registered as the
    owner's daily digest)."""
    from vrop.analytics.selectors.dashboards import owner_dashboard
    from vrop.core.money import format_money, format_percent

    yesterday = day - timedelta(days=1)
    board = owner_dashboard(viewer=user, day=yesterday)
    lines = [
        _("Good morning! The numbers of %(date)s:") % {"date": board.day.strftime("%d.%m.%Y")},
        _("Day: gross profit %(gross_profit)s, revenue %(revenue)s, margin %(margin)s.")
        % {
            "gross_profit": format_money(board.sales_day.gross_profit, 0),
            "revenue": format_money(board.sales_day.revenue, 0),
            "margin": format_percent(board.sales_day.margin_pct),
        },
        _(
            "Month to date: gross profit %(gross_profit)s, %(plan_pct)s of plan, run-rate %(run_rate_pct)s."
        )
        % {
            "gross_profit": format_money(board.sales_month.gross_profit, 0),
            "plan_pct": format_percent(board.plan.plan_pct),
            "run_rate_pct": format_percent(board.plan.projection_pct),
        },
    ]
    risky = [row for row in board.deals if row.risks]
    if risky:
        lines.append(_("Large deals at risk:"))
        for row in risky:
            lines.append(
                f"• {row.deal.title} — {format_money(row.deal.amount, 0)}: "
                + ", ".join(row.risk_labels)
            )
    lines.append(
        _("Overdue receivables: %(total)s in %(count)s invoices.")
        % {"total": format_money(board.overdue.total, 0), "count": board.overdue.count}
    )
    for invoice in board.overdue_invoices[:3]:
        lines.append(
            f"• {invoice.client or '—'} — {format_money(invoice.overdue_balance, 0)}, "
            + _("%(days)s days: %(action)s")
            % {"days": invoice.days_overdue, "action": invoice.action}
        )
    lines.append(
        _(
            "Requests processed on time this month: %(pct)s. Stalled deals: %(count)s for %(amount)s."
        )
        % {
            "pct": format_percent(board.requests.on_time_pct),
            "count": board.stalled.count,
            "amount": format_money(board.stalled.amount, 0),
        }
    )
    return "\n".join(lines)


# --- the CLI ---------------------------------------------------------------------------------


def cli_report(*, period: str, fmt: str, day: str | None, out: str | None, user: str | None) -> int:
    """``vrop report --period month --format pdf|xlsx [--date D] [--out FILE] [--user E]``."""
    import sys
    from pathlib import Path

    from django.utils import translation

    from vrop.accounts.models import User

    viewer = (
        User.objects.filter(email__iexact=user).first()
        if user
        else User.objects.filter(is_active=True, role="owner").order_by("pk").first()
        or User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
    )
    if viewer is None:
        print("No owner to make the report for: give --user EMAIL.", file=sys.stderr)
        return 2
    chosen = date.fromisoformat(day) if day else timezone.localdate()
    with translation.override(viewer.language or "ru"):
        report = report_build(viewer=viewer, kind=period, day=chosen)
        content, name, _type = report_file(report, fmt)
    target = Path(out) if out else Path.cwd() / name
    target.write_bytes(content)
    print(f"{target} ({len(content)} bytes)")
    return 0
