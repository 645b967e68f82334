"""Export of an import reproduces the same files; export → import into an empty database →
export again is byte-identical; encodings and delimiters people's tools write; the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.utils import translation

from tests.factories import (
    CallFactory,
    ClientFactory,
    InvoiceFactory,
    ManagerFactory,
    PaymentFactory,
    PlanFactory,
    ProductFactory,
    ShipmentFactory,
)
from tests.integrations.exchange.conftest import BASIC, model_counts
from vrop.accounts.models import User
from vrop.cli import main
from vrop.crm.models import Deal, Product
from vrop.crm.services import LineInput, deal_create
from vrop.integrations.exchange.exporter import export_path
from vrop.integrations.exchange.importer import import_path
from vrop.planning.models import Metric

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=MSK)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.django_db
def test_export_of_an_import_reproduces_the_files_byte_for_byte(tmp_path):
    assert import_path(BASIC).ok

    counts = export_path(tmp_path / "out")

    assert counts["deals.csv"] == 4 and counts["stage_changes.csv"] == 9
    assert files_of(tmp_path / "out") == files_of(BASIC)


def _app_company() -> None:
    """A small company made in the app, not imported: its objects get vrop-<pk> ids."""
    manager = ManagerFactory()
    client = ClientFactory(manager=manager, payment_terms_days=10, credit_limit=Decimal("250000"))
    rebar, sheet = ProductFactory(), ProductFactory(name="Лист г/к 4 мм", unit="t")
    deal = deal_create(
        actor=None,
        client=client,
        manager=manager,
        channel="email",
        lines=[
            LineInput(product=rebar, qty=Decimal("3.250"), price=Decimal("55500")),
            LineInput(product=sheet, qty=Decimal("1"), price=Decimal("66000")),
        ],
        next_step_title="Позвонить",
        next_step_due_at=NOW + dt.timedelta(days=2),
    )
    won = deal_create(
        actor=None,
        client=client,
        manager=manager,
        stage="won",
        lines=[LineInput(product=rebar, qty=Decimal("1"))],
    )
    invoice = InvoiceFactory(deal=won, client=client, manager=manager, amount=Decimal("56000.00"))
    PaymentFactory(invoice=invoice, client=client, amount=Decimal("56000.00"))
    ShipmentFactory(deal=won, client=client, manager=manager, amount=Decimal("56000.00"))
    PlanFactory(manager=manager, metric=Metric.REVENUE, target=Decimal("900000"))
    CallFactory(deal=deal, client=client, manager=manager)
    assert Deal.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_export_import_into_an_empty_database_export_again_is_byte_identical(tmp_path):
    _app_company()
    first = tmp_path / "first"
    export_path(first)
    assert "vrop-" in (first / "deals.csv").read_text(encoding="utf-8")

    # the app's objects are found again by their vrop-<pk> ids: nothing is created
    report = import_path(first)
    assert report.ok, report.render()
    assert sum(c.created for c in report.counts.values()) == 0
    assert Deal.objects.count() == 2

    call_command("flush", interactive=False, verbosity=0)
    assert import_path(first).ok
    second = tmp_path / "second"
    export_path(second)

    assert files_of(second) == files_of(first)
    assert Product.objects.filter(source="exchange", external_id__startswith="vrop-").count() == 2


def _convert(source: Path, target: Path, *, encoding: str, delimiter: str, crlf: bool) -> None:
    """Rewrite the fixture's CSVs the way another tool would (cp1251 cannot hold ⌀)."""
    target.mkdir()
    (target / "transcripts").mkdir()
    (target / "transcripts" / "call1.json").write_bytes(
        (source / "transcripts" / "call1.json").read_bytes()
    )
    for path in source.glob("*.csv"):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
        for row in rows:
            if delimiter == ";":  # a Russian Excel writes decimal commas
                row = [re.sub(r"^(-?\d+)\.(\d+)$", r"\1,\2", cell) for cell in row]
            writer.writerow(row)
        text = out.getvalue()
        if encoding == "cp1251":
            text = text.replace("⌀", "d")
        (target / path.name).write_bytes(text.encode(encoding))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "encoding, delimiter, crlf",
    [
        ("utf-8-sig", ",", False),
        ("utf-8", ";", True),
        ("cp1251", ";", True),
        ("cp1251", ",", False),
        ("utf-8", "\t", False),
    ],
    ids=["utf8-bom-comma", "utf8-semicolon-crlf", "cp1251-semicolon", "cp1251-comma", "tab"],
)
def test_encodings_and_delimiters_import_the_same_data(tmp_path, encoding, delimiter, crlf):
    variant = tmp_path / "variant"
    _convert(BASIC, variant, encoding=encoding, delimiter=delimiter, crlf=crlf)

    report = import_path(variant)

    assert report.ok, report.render()
    export_path(tmp_path / "out")
    expected = files_of(BASIC)
    if encoding == "cp1251":
        expected["products.csv"] = expected["products.csv"].decode().replace("⌀", "d").encode()
    assert files_of(tmp_path / "out") == expected
    assert Deal.objects.get(external_id="d3").lost_reason == "Дорого,\nушли к конкуренту"


@pytest.mark.django_db
def test_cli_imports_and_exports(tmp_path, capsys):
    with translation.override("ru"):
        assert main(["import", str(BASIC)]) == 0
    printed = capsys.readouterr().out
    assert "deals.csv: строк 4 — создано 4, обновлено 0, без изменений 0" in printed
    assert "1 сделка нарушает правила и отмечена флажком." in printed

    assert main(["export", str(tmp_path / "out")]) == 0
    assert "deals.csv: 4" in capsys.readouterr().out
    assert files_of(tmp_path / "out") == files_of(BASIC)


@pytest.mark.django_db
def test_cli_import_of_a_bad_folder_returns_1_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "managers.csv").write_text(
        "id,name,email,role,team,hired_on,left_on\nm1,Анна,not-an-email,head,,,\n",
        encoding="utf-8",
    )
    before = model_counts()

    with translation.override("ru"):
        assert main(["import", str(bad)]) == 1

    printed = capsys.readouterr().out
    assert "managers.csv, строка 2: «not-an-email» — не адрес e-mail." in printed
    assert "1 ошибка: ничего не импортировано." in printed
    assert model_counts() == before


@pytest.mark.django_db
def test_a_cp1251_file_that_begins_with_a_page_of_ascii_is_read_as_cp1251(tmp_path):
    padding = "".join(f"x{i},Manager {i},x{i}@metall.example,manager,,,\n" for i in range(3000))
    text = "id,name,email,role,team,hired_on,left_on\n" + padding
    text += "m1,Анна Смирнова,anna@metall.example,head,Отдел продаж,,\n"
    (tmp_path / "managers.csv").write_bytes(text.encode("cp1251"))
    assert len(text) > 64 * 1024

    report = import_path(tmp_path)

    assert report.ok, report.render()
    assert User.objects.get(email="anna@metall.example").team.name == "Отдел продаж"
