"""The import writes simple-history rows for the deals, lines, clients and products it
creates or changes, in bulk; importing the same data again writes none."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import DealFactory
from tests.integrations.exchange.conftest import replace_in
from vrop.crm.models import Client, Deal, DealLine, Product
from vrop.integrations.exchange.importer import import_path

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def kinds(model) -> list[str]:
    return list(model.history.order_by("history_id").values_list("history_type", flat=True))


def test_an_import_records_one_created_row_per_object_and_a_reimport_none(basic_copy):
    assert import_path(basic_copy).ok

    assert kinds(Deal) == ["+"] * Deal.objects.count() == ["+"] * 4
    assert kinds(DealLine) == ["+"] * 3
    assert kinds(Client) == ["+"] * 3
    assert kinds(Product) == ["+"] * 2
    d1 = Deal.objects.get(external_id="d1")
    row = d1.history.get()
    assert (row.amount, row.stage, row.history_change_reason, row.history_user) == (
        Decimal("205000.00"),
        "quote",
        "import",
        None,
    )
    assert row.history_date == NOW
    d4 = Deal.objects.get(external_id="d4")
    assert d4.history.get().flags == d4.flags != {}  # the flags as the import left them

    assert import_path(basic_copy).ok

    assert (len(kinds(Deal)), len(kinds(DealLine)), len(kinds(Client))) == (4, 3, 3)


def test_a_changed_line_replaces_the_lines_in_history_and_the_deal_gets_a_change(basic_copy):
    assert import_path(basic_copy).ok
    d1 = Deal.objects.get(external_id="d1")
    old_lines = set(d1.lines.values_list("pk", flat=True))
    lines = basic_copy / "deal_lines.csv"
    text = lines.read_text(encoding="utf-8")
    first_d1 = next(row for row in text.splitlines() if row.startswith("d1,"))
    cells = first_d1.split(",")
    cells[3] = "60000.00"  # the price of d1's first line
    replace_in(lines, first_d1, ",".join(cells))
    replace_in(basic_copy / "clients.csv", "ключевой, с 2019", "ключевой, с 2018")

    assert import_path(basic_copy).ok

    d1.refresh_from_db()
    assert list(d1.history.order_by("history_id").values_list("history_type", "amount")) == [
        ("+", Decimal("205000.00")),
        ("~", d1.amount),
    ]
    assert d1.amount != Decimal("205000.00")
    removed = DealLine.history.filter(history_type="-")
    assert set(removed.values_list("id", flat=True)) == old_lines
    added = DealLine.history.filter(history_type="+", id__in=d1.lines.values("pk"))
    assert added.count() == d1.lines.count() == 2
    # the other deals and lines have no new rows
    assert Deal.history.filter(history_type="~").count() == 1
    c2 = Client.objects.get(external_id="c2")
    assert list(c2.history.order_by("history_id").values_list("history_type", flat=True)) == [
        "+",
        "~",
    ]
    assert c2.history.latest("history_id").extra == {"crm_note": "ключевой, с 2018"}


def test_a_deal_made_in_the_app_and_changed_by_an_import_gets_a_change_row(tmp_path):
    deal = DealFactory(stage="contact")
    assert kinds(Deal) == ["+"]  # saved by the app
    bulk = DealFactory(stage="contact")
    bulk.history.all().delete()  # as if written in bulk (the demo, an older import)
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "managers.csv").write_text(
        "id,name,email\nm1,Иван Петров,ivan@metall.example\n", encoding="utf-8"
    )
    (folder / "deals.csv").write_text(
        "id,manager_id,received_at,stage,amount\n"
        f"vrop-{deal.pk},m1,2026-11-20 10:00,lost,1000.00\n"
        f"vrop-{bulk.pk},m1,2026-11-20 10:00,lost,1000.00\n",
        encoding="utf-8",
    )

    assert import_path(folder).ok

    assert list(deal.history.order_by("history_id").values_list("history_type", "stage")) == [
        ("+", "contact"),
        ("~", "lost"),
    ]
    # its first history row, but not a creation: the import did not create it
    assert list(bulk.history.values_list("history_type", "stage")) == [("~", "lost")]
