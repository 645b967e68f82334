"""Bank statements and 1C payment files: reading, matching, applying, confirming."""

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.factories import ClientFactory, DealFactory, InvoiceFactory
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.core.validators import make_inn
from vrop.crm.choices import Stage
from vrop.receivables.models import Invoice, Payment, PaymentImport, PaymentImportRow
from vrop.receivables.services import (
    payment_import_load,
    payment_import_row_confirm,
    payment_import_row_ignore,
)
from vrop.receivables.statements import (
    Index,
    OpenInvoice,
    StatementRow,
    match_row,
    number_key,
    parse_commerceml,
    parse_statement,
    purpose_tokens,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
INN_ALFA, INN_BETA, INN_GAMMA = make_inn("770100001"), make_inn("770100002"), make_inn("770100003")
INN_STRANGER, INN_SUPPLIER = make_inn("770199999"), make_inn("500100001")


def open_invoice(client, number, amount, *, due_on=dt.date(2026, 11, 30)):
    deal = DealFactory(client=client, manager=client.manager, stage=Stage.WON)
    return InvoiceFactory(
        deal=deal,
        client=client,
        number=number,
        issued_on=dt.date(2026, 11, 10),
        due_on=due_on,
        amount=D(amount),
    )


def balance(invoice):
    invoice.refresh_from_db()
    return invoice.amount - invoice.paid_amount


# --- pure parts ------------------------------------------------------------------------


def test_invoice_numbers_are_compared_without_case_signs_or_lookalike_letters():
    assert number_key("СЧ-00012") == number_key("сч 00012") == number_key("CЧ00012")
    full, digits = purpose_tokens("Оплата по счету №СЧ-00012 от 10.11.2026, в т.ч. НДС 20%")
    assert number_key("СЧ-00012") in full
    assert "12" in digits
    assert not any(token.startswith("1011") for token in full)  # the date is not a number


def make_index(*invoices, clients=None):
    index = Index(clients_by_inn=clients or {})
    for item in invoices:
        index.add(item)
    return index


def row(amount, purpose="", inn=""):
    return StatementRow(
        line_no=2, paid_on=dt.date(2026, 11, 20), amount=D(amount), payer_inn=inn, purpose=purpose
    )


@pytest.mark.parametrize(
    ("statement_row", "status", "invoice_id"),
    [
        (row("1000", "Оплата счета 17", "1111111111"), "applied", 1),  # number + INN
        (row("400", "Оплата счета 17", "1111111111"), "applied", 1),  # partial, still sure
        (row("1000", "Оплата по сч. 17"), "applied", 1),  # number + exact amount, no INN
        (row("1000", "Оплата по сч. 17", "3333333333"), "suggested", 1),  # another payer
        (row("999", "Оплата по сч. 17"), "suggested", 1),  # number only
        (row("250", "Оплата", "2222222222"), "applied", 3),  # the client's only exact invoice
        (row("260", "Оплата", "2222222222"), "suggested", 2),  # the oldest is proposed
        (row("50", "Оплата", "4444444444"), "unmatched", None),
        (row("-100", "Возврат по счету 17", "1111111111"), "suggested", 1),  # a refund
        (row("-100", "Оплата поставщику", "4444444444"), "ignored", None),
    ],
)
def test_match_decisions(statement_row, status, invoice_id):
    index = make_index(
        OpenInvoice(1, "17", 10, D("1000"), D("0"), dt.date(2026, 11, 30)),
        OpenInvoice(2, "18", 20, D("300"), D("0"), dt.date(2026, 11, 1)),
        OpenInvoice(3, "19", 20, D("250"), D("0"), dt.date(2026, 11, 20)),
        clients={"1111111111": [10], "2222222222": [20]},
    )
    match = match_row(statement_row, index)
    assert (match.status, match.invoice.id if match.invoice else None) == (status, invoice_id)


# --- formats -----------------------------------------------------------------------------

CSV = (
    "Дата;Номер;Сумма;ИНН плательщика;Плательщик;Назначение платежа;Вид\n"
    f"20.11.2026;101;1 000,00;{INN_ALFA};ООО Альфа;Оплата по счету № СЧ-00012 от 10.11.2026, "
    "в т.ч. НДС 20%;Поступление\n"
    f"20.11.2026;102;400,00;{INN_ALFA};ООО Альфа;Частичная оплата сч. СЧ-00013;Поступление\n"
    f"21.11.2026;103;250,00;{INN_BETA};ООО Бета;Оплата за металлопрокат;Поступление\n"
    f"21.11.2026;104;700,00;{INN_GAMMA};ООО Гамма;Оплата по договору;Поступление\n"
    f"21.11.2026;105;1 500,00;{INN_STRANGER};ИП Иванов;Оплата счета СЧ-00016 за ООО Бета;"
    "Поступление\n"
    "22.11.2026;106;5 000,00;;Неизвестный;Перевод;Поступление\n"
    f"22.11.2026;107;1 200,00;{INN_ALFA};ООО Альфа;Оплата сч СЧ-00014;Поступление\n"
    f"22.11.2026;108;100,00;{INN_ALFA};ООО Альфа;Возврат переплаты по сч. СЧ-00014;Списание\n"
    f"22.11.2026;109;30 000,00;{INN_SUPPLIER};ООО Поставщик;Оплата за арматуру;Списание\n"
)


@pytest.fixture
def ledger(manager):
    alfa = ClientFactory(name="Альфа", inn=INN_ALFA, manager=manager)
    beta = ClientFactory(name="Бета", inn=INN_BETA, manager=manager)
    gamma = ClientFactory(name="Гамма", inn=INN_GAMMA, manager=manager)
    return {
        "alfa": alfa,
        "beta": beta,
        "gamma": gamma,
        "12": open_invoice(alfa, "СЧ-00012", "1000.00"),
        "13": open_invoice(alfa, "СЧ-00013", "1000.00"),
        "14": open_invoice(alfa, "СЧ-00014", "1000.00"),
        "15": open_invoice(beta, "СЧ-00015", "250.00"),
        "16": open_invoice(beta, "СЧ-00016", "1500.00"),
        "17": open_invoice(gamma, "СЧ-00017", "300.00", due_on=dt.date(2026, 11, 20)),
        "18": open_invoice(gamma, "СЧ-00018", "900.00", due_on=dt.date(2026, 11, 25)),
    }


def test_csv_statement_matches_applies_and_offers_the_rest(ledger, finance):
    batch = payment_import_load(
        actor=finance, content=CSV.encode("cp1251"), file_name="выписка.csv"
    )

    statuses = list(
        batch.rows.order_by("line_no").values_list("line_no", "status", "invoice__number")
    )
    assert statuses == [
        (2, "applied", "СЧ-00012"),
        (3, "applied", "СЧ-00013"),
        (4, "applied", "СЧ-00015"),
        (5, "suggested", "СЧ-00017"),
        (6, "suggested", "СЧ-00016"),
        (7, "unmatched", None),
        (8, "applied", "СЧ-00014"),
        (9, "suggested", "СЧ-00014"),
        (10, "ignored", None),
    ]
    assert (batch.file_format, batch.rows_total, batch.rows_applied, batch.rows_to_confirm) == (
        "csv",
        9,
        4,
        3,
    )
    assert batch.rows_unmatched == 1
    assert (balance(ledger["12"]), balance(ledger["15"])) == (D("0.00"), D("0.00"))
    # over-payment of СЧ-00014 (1 200): 1 000 to it, 200 to Альфа's other unpaid СЧ-00013
    assert (balance(ledger["14"]), balance(ledger["13"])) == (D("0.00"), D("400.00"))
    assert list(
        Payment.objects.filter(external_id__startswith=batch.rows.get(line_no=8).key)
        .order_by("id")
        .values_list("invoice__number", "amount")
    ) == [("СЧ-00014", D("1000.00")), ("СЧ-00013", D("200.00"))]
    assert Payment.objects.count() == 5


def test_the_same_statement_twice_changes_nothing(ledger, finance):
    payment_import_load(actor=finance, content=CSV.encode("utf-8"))
    payments = Payment.objects.count()
    paid = dict(Invoice.objects.values_list("pk", "paid_amount"))

    again = payment_import_load(actor=finance, content=CSV.encode("utf-8"))

    assert (again.rows_total, again.rows_duplicate, again.rows_applied) == (9, 9, 0)
    assert Payment.objects.count() == payments
    assert dict(Invoice.objects.values_list("pk", "paid_amount")) == paid


def test_a_person_confirms_or_sets_aside_what_was_offered(ledger, finance):
    batch = payment_import_load(actor=finance, content=CSV.encode("utf-8"))
    gamma_row = batch.rows.get(line_no=5)
    unknown = batch.rows.get(line_no=7)

    payment_import_row_confirm(actor=finance, row=gamma_row, invoice=ledger["18"])
    payment_import_row_ignore(actor=finance, row=unknown, reason="Заём учредителя")

    gamma_row.refresh_from_db()
    assert (gamma_row.status, gamma_row.decided_by) == ("applied", finance)
    assert balance(ledger["18"]) == D("200.00")
    assert PaymentImportRow.objects.get(pk=unknown.pk).reason == "Заём учредителя"
    batch.refresh_from_db()
    assert (batch.rows_applied, batch.rows_to_confirm, batch.rows_unmatched) == (5, 2, 0)
    with pytest.raises(ValidationError) as error:
        payment_import_row_confirm(actor=finance, row=gamma_row, invoice=ledger["17"])
    assert error.value.code == "already_decided"
    assert balance(ledger["17"]) == D("300.00")


def test_a_refund_confirmed_reopens_the_invoice(ledger, finance):
    batch = payment_import_load(actor=finance, content=CSV.encode("utf-8"))
    refund = batch.rows.get(line_no=9)
    payment_import_row_confirm(actor=finance, row=refund, invoice=ledger["14"])
    ledger["14"].refresh_from_db()
    assert (ledger["14"].paid_amount, ledger["14"].paid_on) == (D("900.00"), None)


def test_a_manager_cannot_load_statements(ledger, manager):
    with pytest.raises(PermissionDenied):
        payment_import_load(actor=manager, content=CSV.encode("utf-8"))
    assert (PaymentImport.objects.count(), Payment.objects.count()) == (0, 0)


def test_a_bad_line_refuses_the_whole_file(ledger, finance):
    bad = CSV + f"32.13.2026;110;1,00;{INN_ALFA};ООО Альфа;Оплата;Поступление\n"
    with pytest.raises(ValidationError) as error:
        payment_import_load(actor=finance, content=bad.encode("utf-8"))
    assert "11" in str(error.value.message)  # the line number
    assert (PaymentImport.objects.count(), Payment.objects.count()) == (0, 0)


CLIENT_BANK = f"""1CClientBankExchange
ВерсияФормата=1.03
Кодировка=Windows
Отправитель=Бухгалтерия предприятия
ДатаНачала=20.11.2026
ДатаКонца=20.11.2026
СекцияРасчСчет
РасчСчет=40702810900000000001
КонецРасчСчет
СекцияДокумент=Платежное поручение
Номер=517
Дата=20.11.2026
Сумма=1000.00
ПлательщикСчет=40702810100000000777
Плательщик=ИНН {INN_ALFA} ООО "Альфа"
ПлательщикИНН={INN_ALFA}
Плательщик1=ООО "Альфа"
ПолучательСчет=40702810900000000001
ПолучательИНН=7700000001
Получатель1=ООО "Металл-Сервис"
ДатаПоступило=20.11.2026
НазначениеПлатежа=Оплата по счету СЧ-00012 от 10.11.2026. В том числе НДС 20 % - 166.67 рублей.
КонецДокумента
СекцияДокумент=Платежное поручение
Номер=88
Дата=21.11.2026
Сумма=5000.00
ПлательщикИНН=7700000001
Плательщик1=ООО "Металл-Сервис"
ПолучательИНН={INN_SUPPLIER}
Получатель1=ООО "Поставщик"
ДатаСписано=21.11.2026
НазначениеПлатежа=Оплата за арматуру
КонецДокумента
КонецФайла
"""


def test_1c_client_bank_exchange_statement(ledger, finance):
    file_format, rows = parse_statement(CLIENT_BANK.encode("cp1251"))
    assert file_format == "1c_bank"
    assert [(r.paid_on, r.amount, r.payer_inn, r.payer_name, r.document_number) for r in rows] == [
        (dt.date(2026, 11, 20), D("1000.00"), INN_ALFA, 'ООО "Альфа"', "517"),
        (dt.date(2026, 11, 21), D("-5000.00"), INN_SUPPLIER, 'ООО "Поставщик"', "88"),
    ]
    batch = payment_import_load(actor=finance, content=CLIENT_BANK.encode("cp1251"))
    assert list(batch.rows.values_list("status", flat=True)) == ["applied", "ignored"]
    assert balance(ledger["12"]) == D("0.00")


def test_commerceml_orders_paid_in_1c_are_read_as_payments(finance, manager):
    """A real CommerceML 3.1 export: order 490 of «НЦВО – Фотоника» (INN 7736523556),
    2 340 ₽, paid in 1C on 16.08.2017."""
    content = (DATA / "1c" / "commerceml_documents_bitrix_module_1.xml").read_bytes()
    rows = parse_commerceml(content)
    assert [(r.paid_on, r.amount, r.payer_inn, r.document_number) for r in rows] == [
        (dt.date(2017, 8, 16), D("2340"), "7736523556", "О0000001008")
    ]
    assert "490" in rows[0].purpose
    assert rows[0].payer_name.startswith("Общество c ограниченной ответственностью")

    client = ClientFactory(name="Фотоника", inn="7736523556", manager=manager)
    order = open_invoice(client, "490", "2340.00")
    order.issued_on = dt.date(2017, 8, 14)
    order.save()
    batch = payment_import_load(actor=finance, content=content, file_name="documents.xml")
    assert (batch.file_format, batch.rows_applied) == ("commerceml", 1)
    order.refresh_from_db()
    assert (order.paid_amount, order.paid_on) == (D("2340.00"), dt.date(2017, 8, 16))


@pytest.mark.parametrize(
    "content",
    [b"\x00\x01\x02", b"", "Дата;Сумма\n01.01.2026;abc\n".encode(), b"<xml", "\ufeff".encode()],
)
def test_files_that_cannot_be_read_are_refused_cleanly(finance, content):
    with pytest.raises(ValidationError):
        payment_import_load(actor=finance, content=content)
    assert PaymentImport.objects.count() == 0
