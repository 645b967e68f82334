"""An import from another CRM flags, not refuses: every rule event a deal went through
(price approval on its lines, quote, win, invoice, shipment, save) runs in flag mode,
and the deal that breaks a rule is imported with the rule's flag."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import DealFactory
from vrop.crm.models import Deal
from vrop.integrations.exchange.importer import import_path

pytestmark = pytest.mark.django_db
MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=MSK)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    base = {
        "managers.csv": "id,name,email,role\nm1,Иван Петров,ivan@metall.example,manager\n",
        "clients.csv": (
            "id,name,inn,segment,manager_id,payment_terms_days,credit_limit\n"
            "prepaid,ООО Аванс,,,m1,0,0\n"
            "terms14,ООО Отсрочка,,,m1,14,1000000.00\n"
            "nolimit,ООО Без лимита,,,m1,14,0\n"
        ),
        "products.csv": (
            "id,name,category,unit,cost_price,list_price\n"
            "p1,Арматура А500С 12,rebar,t,50000.00,60000.00\n"
        ),
    }
    for name, text in {**base, **files}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def flags_of(ident: str) -> dict:
    return Deal.objects.get(source="exchange", external_id=ident).flags


def test_lines_below_cost_flag_the_price_approval_and_the_deal_is_imported(tmp_path):
    folder = write(
        tmp_path / "x",
        {
            "deals.csv": (
                "id,client_id,manager_id,channel,received_at,stage,lost_reason,amount\n"
                "cheap,terms14,m1,phone,2026-11-20 10:00,contact,,\n"
                "fair,terms14,m1,phone,2026-11-20 10:00,contact,,\n"
            ),
            "deal_lines.csv": (
                "deal_id,product_id,qty,price\ncheap,p1,1.000,40000.00\nfair,p1,1.000,60000.00\n"
            ),
            "tasks.csv": (
                "id,deal_id,title,due_at\n"
                "t1,cheap,Перезвонить,2026-11-25 11:00\nt2,fair,Перезвонить,2026-11-25 11:00\n"
            ),
        },
    )

    report = import_path(folder)

    assert report.ok, report.render()
    assert list(flags_of("cheap")) == ["approval_required"]
    assert flags_of("cheap")["approval_required"].startswith(
        "Сначала цены должны быть согласованы собственником."
    )
    assert flags_of("fair") == {}
    assert Deal.objects.get(external_id="cheap").amount == Decimal("40000.00")


def test_a_quote_promising_a_date_without_confirmation_is_flagged(tmp_path):
    deal = DealFactory(stage="contact", promised_date=dt.date(2026, 12, 1))
    folder = write(
        tmp_path / "x",
        {
            "deals.csv": (
                "id,client_id,manager_id,channel,received_at,stage,lost_reason,amount\n"
                f"vrop-{deal.pk},terms14,m1,phone,2026-11-20 10:00,quote,,\n"
            ),
            "deal_lines.csv": f"deal_id,product_id,qty\nvrop-{deal.pk},p1,2.000\n",
            "tasks.csv": f"id,deal_id,title,due_at\nt1,vrop-{deal.pk},Звонок,2026-11-25 11:00\n",
        },
    )

    report = import_path(folder)

    assert report.ok, report.render()
    deal.refresh_from_db()
    assert (deal.stage, list(deal.flags)) == ("quote", ["promise_unconfirmed"])


def test_an_invoice_with_more_deferral_than_the_terms_is_flagged(tmp_path):
    folder = write(
        tmp_path / "x",
        {
            "deals.csv": (
                "id,client_id,manager_id,channel,received_at,stage,lost_reason,amount\n"
                "long,terms14,m1,phone,2026-11-10 10:00,won,,\n"
                "ok,terms14,m1,phone,2026-11-10 10:00,won,,\n"
                "advance,prepaid,m1,phone,2026-11-10 10:00,won,,\n"
            ),
            "deal_lines.csv": (
                "deal_id,product_id,qty\nlong,p1,1.000\nok,p1,1.000\nadvance,p1,1.000\n"
            ),
            # issued 2026-11-12: 14 days of terms allow 2026-11-26 at the latest
            "invoices.csv": (
                "id,deal_id,number,issued_on,due_on,amount\n"
                "i1,long,1,2026-11-12,2026-12-12,60000.00\n"
                "i2,ok,2,2026-11-12,2026-11-26,60000.00\n"
                "i3,advance,3,2026-11-12,2026-11-20,60000.00\n"
            ),
        },
    )

    report = import_path(folder)

    assert report.ok, report.render()
    assert list(flags_of("long")) == ["credit_terms_exceeded"]
    assert "26.11.2026" in flags_of("long")["credit_terms_exceeded"]
    assert flags_of("ok") == {}
    assert list(flags_of("advance")) == ["credit_no_deferral"]
    assert Deal.objects.filter(source="exchange").count() == 3


def test_a_shipment_on_deferral_without_a_limit_is_flagged(tmp_path):
    folder = write(
        tmp_path / "x",
        {
            "deals.csv": (
                "id,client_id,manager_id,channel,received_at,stage,lost_reason,amount\n"
                "shipped,nolimit,m1,phone,2026-11-10 10:00,won,,\n"
                "paidfirst,prepaid,m1,phone,2026-11-10 10:00,won,,\n"
            ),
            "deal_lines.csv": "deal_id,product_id,qty\nshipped,p1,1.000\npaidfirst,p1,1.000\n",
            "shipments.csv": (
                "id,deal_id,shipped_on,amount,cost\n"
                "s1,shipped,2026-11-15,60000.00,50000.00\n"
                "s2,paidfirst,2026-11-15,60000.00,50000.00\n"
            ),
        },
    )

    report = import_path(folder)

    assert report.ok, report.render()
    assert "credit_no_deferral" in flags_of("shipped")
    # a client on prepayment gets no deferred shipment: nothing to judge
    assert flags_of("paidfirst") == {}
    assert Deal.objects.get(external_id="shipped").shipments.count() == 1
