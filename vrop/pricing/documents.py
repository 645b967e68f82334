"""Quote documents (КП): PDF through WeasyPrint, XLSX through XlsxWriter."""

from __future__ import annotations

import io
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from vrop.core.money import format_money
from vrop.core.policy import company_settings
from vrop.pricing.models import Quote


def _context(quote: Quote) -> dict:
    company = company_settings()
    lines = []
    for index, line in enumerate(quote.lines_snapshot, start=1):
        lines.append(
            {
                "n": index,
                "product": line["product"],
                "unit": line.get("unit", ""),
                "qty": Decimal(line["qty"]),
                "price": Decimal(line["price"]),
                "amount": Decimal(line["amount"]),
            }
        )
    return {
        "quote": quote,
        "company": company,
        "client": quote.deal.client,
        "lines": lines,
        "vat_rate": company.vat_rate_pct,
        "total": quote.amount + quote.vat_amount,
    }


def quote_pdf(quote: Quote) -> bytes:
    from weasyprint import HTML

    with translation.override(translation.get_language() or "ru"):
        html = render_to_string("pricing/quote_pdf.html", _context(quote))
    return HTML(string=html).write_pdf()


def quote_xlsx(quote: Quote) -> bytes:
    import xlsxwriter

    context = _context(quote)
    company = context["company"]
    output = io.BytesIO()
    book = xlsxwriter.Workbook(output, {"in_memory": True})
    sheet = book.add_worksheet(_("Quote"))
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    money = book.add_format({"num_format": "#,##0.00"})
    money_bold = book.add_format({"num_format": "#,##0.00", "bold": True})
    qty = book.add_format({"num_format": "#,##0.###"})
    sheet.set_column(0, 0, 5)
    sheet.set_column(1, 1, 42)
    sheet.set_column(2, 5, 15)
    row = 0
    sheet.write(row, 0, company.name, title)
    row += 1
    details = " · ".join(
        part
        for part in (
            _("INN %(inn)s") % {"inn": company.inn} if company.inn else "",
            _("KPP %(kpp)s") % {"kpp": company.kpp} if company.kpp else "",
            company.address,
            company.phone,
        )
        if part
    )
    sheet.write(row, 0, details)
    row += 2
    sheet.write(
        row,
        0,
        _("Quote No. %(number)s of %(date)s")
        % {"number": quote.number, "date": quote.issued_at.strftime("%d.%m.%Y")},
        title,
    )
    row += 1
    client = context["client"]
    if client is not None:
        sheet.write(row, 0, _("To: %(client)s") % {"client": client.name})
        row += 1
    row += 1
    headers = [_("No."), _("Product"), _("Quantity"), _("Unit"), _("Price"), _("Amount")]
    for column, header in enumerate(headers):
        sheet.write(row, column, header, bold)
    row += 1
    for line in context["lines"]:
        sheet.write_number(row, 0, line["n"])
        sheet.write(row, 1, line["product"])
        sheet.write_number(row, 2, float(line["qty"]), qty)
        sheet.write(row, 3, line["unit"])
        sheet.write_number(row, 4, float(line["price"]), money)
        sheet.write_number(row, 5, float(line["amount"]), money)
        row += 1
    row += 1
    totals = [
        (_("Total without VAT"), quote.amount),
        (_("VAT %(rate)s %%") % {"rate": context["vat_rate"].normalize()}, quote.vat_amount),
        (_("Total with VAT"), context["total"]),
    ]
    for label, value in totals:
        sheet.write(row, 4, label, bold)
        sheet.write_number(row, 5, float(value), money_bold)
        row += 1
    row += 1
    sheet.write(
        row, 0, _("Valid until %(date)s.") % {"date": quote.valid_until.strftime("%d.%m.%Y")}
    )
    if quote.delivery_date:
        row += 1
        sheet.write(
            row,
            0,
            _("Delivery by %(date)s.") % {"date": quote.delivery_date.strftime("%d.%m.%Y")},
        )
    row += 1
    sheet.write(row, 0, _("Total with VAT: %(total)s") % {"total": format_money(context["total"])})
    book.close()
    return output.getvalue()
