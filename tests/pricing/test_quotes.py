"""Quotes (КП): the stage by fact, the activity, the documents, and promise confirmations."""

import datetime as dt
import io
import subprocess
from decimal import Decimal as D

import pytest
import time_machine
from django.utils import timezone
from openpyxl import load_workbook

from tests.factories import ClientFactory, ConfirmationFactory, ProductFactory
from vrop.core.errors import RuleViolation, ValidationError
from vrop.core.policy import company_settings
from vrop.crm.choices import ActivityKind, Stage
from vrop.crm.models import Activity, Deal, StageChange
from vrop.crm.services import LineInput, deal_create, deal_stage_change, deal_update
from vrop.pricing.documents import quote_pdf, quote_xlsx
from vrop.pricing.models import Quote
from vrop.pricing.services import quote_issue

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def make_deal(manager, *, qty="10", price="56000"):
    settings_row = company_settings()
    settings_row.name = "ООО «Металл-Трейд»"
    settings_row.inn = "7707083893"
    settings_row.save()
    product = ProductFactory(name="Лист г/к 10 мм", cost_price=D("48000"), list_price=D("56000"))
    deal = deal_create(
        actor=manager,
        client=ClientFactory(manager=manager, name="ООО «Стройка»"),
        lines=[LineInput(product=product, qty=D(qty), price=D(price))],
        next_step_title="Отправить КП",
        next_step_due_at=timezone.now() + dt.timedelta(days=1),
    )
    return deal, product


@time_machine.travel(NOW, tick=False)
def test_issuing_a_quote_sets_the_quote_stage_and_logs_the_activity(manager):
    deal, _product = make_deal(manager)

    quote = quote_issue(actor=manager, deal=deal, valid_days=5)

    deal.refresh_from_db()
    assert (deal.stage, deal.quote_sent_at) == (Stage.QUOTE, NOW)
    assert list(StageChange.objects.filter(deal=deal).values_list("stage", flat=True)) == [
        Stage.LEAD,
        Stage.QUOTE,
    ]
    assert (quote.number, quote.amount, quote.vat_amount, quote.valid_until) == (
        f"{deal.pk}-1",
        D("560000.00"),
        D("112000.00"),
        dt.date(2026, 11, 28),
    )
    activity = Activity.objects.get(deal=deal)
    assert (activity.kind, activity.subject, activity.user) == (
        ActivityKind.EMAIL,
        f"Выставлено КП {deal.pk}-1",
        manager,
    )


@time_machine.travel(NOW, tick=False)
def test_a_second_quote_keeps_the_stage_and_numbers_on(manager):
    deal, _product = make_deal(manager)
    quote_issue(actor=manager, deal=deal, valid_days=5)
    second = quote_issue(actor=manager, deal=deal, valid_days=10)
    assert second.number == f"{deal.pk}-2"
    assert StageChange.objects.filter(deal=deal).count() == 2


def test_a_lost_deal_gets_no_quote(manager):
    deal, _product = make_deal(manager)
    deal_stage_change(actor=manager, deal=deal, stage=Stage.LOST, lost_reason="Дорого")
    with pytest.raises(ValidationError):
        quote_issue(actor=manager, deal=deal)
    assert Quote.objects.count() == 0


def test_the_pdf_has_the_company_lines_vat_and_total(manager, tmp_path):
    deal, _product = make_deal(manager)
    quote = quote_issue(actor=manager, deal=deal, valid_days=5)

    path = tmp_path / "quote.pdf"
    path.write_bytes(quote_pdf(quote))
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout

    assert "ООО «Металл-Трейд»" in text
    assert "7707083893" in text
    assert "ООО «Стройка»" in text
    assert "Лист г/к 10 мм" in text
    assert "560 000,00 ₽" in text
    assert "112 000,00 ₽" in text  # VAT 20 %
    assert "672 000,00 ₽" in text  # total with VAT


def test_the_xlsx_has_the_lines_and_totals(manager):
    deal, _product = make_deal(manager)
    quote = quote_issue(actor=manager, deal=deal, valid_days=5)

    sheet = load_workbook(io.BytesIO(quote_xlsx(quote))).active
    values = [row for row in sheet.iter_rows(values_only=True) if any(row)]

    assert values[0][0] == "ООО «Металл-Трейд»"
    line = next(row for row in values if row[1] == "Лист г/к 10 мм")
    assert line[2:6] == (10, "т", 56000, 560000)
    totals = [row[5] for row in values if row[4] and row[5] and row[1] is None]
    assert totals[-3:] == [560000, 112000, 672000]


# --- promises -----------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_a_quote_promising_a_date_without_confirmation_is_refused(manager):
    deal, _product = make_deal(manager)

    with pytest.raises(RuleViolation) as error:
        quote_issue(actor=manager, deal=deal, delivery_date=dt.date(2026, 12, 1))

    assert error.value.code == "promise_unconfirmed"
    deal.refresh_from_db()
    assert (deal.stage, deal.promised_date, Quote.objects.count()) == (Stage.LEAD, None, 0)
    assert Activity.objects.filter(deal=deal).count() == 0


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    "qty, available_on, valid_days, accepted",
    [
        ("10", dt.date(2026, 12, 1), 1, True),  # exactly the quantity, exactly the date
        ("9.999", dt.date(2026, 12, 1), 1, False),  # less than the line's quantity
        ("10", dt.date(2026, 12, 2), 1, False),  # available after the promised date
        ("10", dt.date(2026, 12, 1), -1, False),  # expired
    ],
)
def test_a_promise_needs_a_confirmation_covering_qty_date_and_validity(
    manager, supply, qty, available_on, valid_days, accepted
):
    deal, product = make_deal(manager)
    ConfirmationFactory(
        product=product,
        qty=D(qty),
        available_on=available_on,
        valid_until=NOW + dt.timedelta(days=valid_days),
        confirmed_by=supply,
    )
    if accepted:
        quote_issue(actor=manager, deal=deal, delivery_date=dt.date(2026, 12, 1))
        assert Deal.objects.get(pk=deal.pk).stage == Stage.QUOTE
    else:
        with pytest.raises(RuleViolation):
            quote_issue(actor=manager, deal=deal, delivery_date=dt.date(2026, 12, 1))
        assert Deal.objects.get(pk=deal.pk).stage == Stage.LEAD
        assert Quote.objects.count() == 0


@time_machine.travel(NOW, tick=False)
def test_a_quoted_deal_cannot_promise_an_unconfirmed_date(manager):
    deal, _product = make_deal(manager)
    quote_issue(actor=manager, deal=deal)

    with pytest.raises(RuleViolation) as error:
        deal_update(actor=manager, deal=deal, promised_date=dt.date(2026, 12, 5))

    assert error.value.code == "promise_unconfirmed"
    assert Deal.objects.get(pk=deal.pk).promised_date is None
