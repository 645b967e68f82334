"""A bad row is reported with its file, line and reason, in Russian, and nothing of that
import is written."""

from __future__ import annotations

import pytest
from django.utils import translation

from tests.factories import DealFactory, ManagerFactory
from tests.integrations.exchange.conftest import model_counts, replace_in
from vrop.crm.models import Client
from vrop.integrations.exchange.importer import import_path

pytestmark = pytest.mark.django_db

CASES = [
    pytest.param(
        "clients.csv",
        "7701234560",
        "7701234561",
        2,
        "ИНН «7701234561» неверен: в нём должно быть 10 или 12 цифр "
        "с правильной контрольной суммой.",
        id="bad-inn",
    ),
    pytest.param(
        "clients.csv",
        "5009876546,manufacturing,m2",
        "5009876546,manufacturing,m7",
        3,
        "Неизвестный manager_id «m7»: такого id нет ни в managers.csv, ни в базе.",
        id="unknown-manager",
    ),
    pytest.param(
        "deals.csv",
        "2026-11-02T10:15:00+03:00,quote",
        "2026-13-02T10:15:00+03:00,quote",
        2,
        "«2026-13-02T10:15:00+03:00» — не дата и время: используйте ISO 8601, "
        "например 2026-03-05T10:15:00+03:00 или 2026-03-05.",
        id="bad-date",
    ),
    pytest.param(
        "deal_lines.csv",
        "d1,p1,2.500",
        "d1,p1,-2.500",
        2,
        "qty должно быть больше нуля, а не -2.500.",
        id="negative-qty",
    ),
    pytest.param(
        # line 6: the row before it holds a quoted newline and spans lines 4 and 5
        "deals.csv",
        "2026-11-20,lead",
        "2026-11-20,paid",
        6,
        "Неизвестное значение stage «paid»: допустимы lead, contact, quote, won, lost.",
        id="unknown-stage",
    ),
    pytest.param(
        "clients.csv",
        "c3,ИП Кузнецов",
        "c2,ИП Кузнецов",
        4,
        "Id «c2» повторяется (впервые в строке 3).",
        id="repeated-id",
    ),
    pytest.param(
        "invoices.csv",
        "2026-10-23,2026-11-06",
        "2026-10-23,2026-10-06",
        2,
        "Срок оплаты раньше даты счёта.",
        id="due-before-issue",
    ),
    pytest.param(
        "stage_changes.csv",
        "d1,quote,2026-11-03T15:00:00+03:00",
        "d1,won,2026-11-03T15:00:00+03:00",
        4,
        "Последний переход сделки «d1» — на этап «won», а сделка на этапе «quote».",
        id="history-against-stage",
    ),
    pytest.param(
        "calls.csv",
        "transcripts/call1.json",
        "transcripts/missing.json",
        2,
        "Файл расшифровки «transcripts/missing.json» не найден.",
        id="missing-transcript",
    ),
    pytest.param(
        "deals.csv",
        "d4,,m1,phone,2026-11-20,lead,,150000.00",
        "d4,,m1,phone,2026-11-20,lead,,150000.00,лишнее",
        6,
        "В строке значений: 9, а в заголовке столбцов: 8.",
        id="too-many-values",
    ),
    pytest.param(
        "deals.csv",
        "channel,received_at,stage",
        "channel,received,stage",
        1,
        "Нет столбца «received_at».",
        id="missing-column",
    ),
]


@pytest.mark.parametrize("file, old, new, line, reason", CASES)
def test_a_bad_row_is_reported_and_nothing_is_written(basic_copy, file, old, new, line, reason):
    ManagerFactory()
    DealFactory()
    before = model_counts()
    replace_in(basic_copy / file, old, new)

    with translation.override("ru"):
        report = import_path(basic_copy)
        text = report.render()

    assert [(e.file, e.line, e.reason) for e in report.errors] == [(file, line, reason)]
    assert not report.ok
    assert model_counts() == before
    assert f"{file}, строка {line}: {reason}" in text
    assert "1 ошибка: ничего не импортировано." in text


def test_without_managers_csv_nothing_is_imported(basic_copy):
    (basic_copy / "managers.csv").unlink()
    before = model_counts()

    with translation.override("ru"):
        report = import_path(basic_copy)
        text = report.render()

    assert [(e.file, e.line, e.reason) for e in report.errors] == [
        ("managers.csv", 0, "Нужен файл managers.csv.")
    ]
    assert "managers.csv: Нужен файл managers.csv." in text
    assert model_counts() == before


def test_every_bad_row_is_reported_not_only_the_first(basic_copy):
    replace_in(basic_copy / "clients.csv", "7701234560", "123")
    replace_in(basic_copy / "products.csv", "50000.00,56000.00", "пятьдесят,56000.00")
    replace_in(basic_copy / "payments.csv", "300000.00", "0")

    with translation.override("ru"):
        report = import_path(basic_copy)

    assert [(e.file, e.line, e.column) for e in report.errors] == [
        ("clients.csv", 2, "inn"),
        ("products.csv", 2, "cost_price"),
        ("payments.csv", 2, "amount"),
    ]
    assert report.errors[2].reason == "amount не может быть нулём."
    assert Client.objects.count() == 0


def test_a_path_that_is_not_a_folder_or_zip_is_refused(tmp_path):
    target = tmp_path / "deals.txt"
    target.write_text("nothing", encoding="utf-8")

    with translation.override("ru"):
        report = import_path(target)

    assert [e.reason for e in report.errors] == [f"«{target}» — не папка и не файл .zip."]
