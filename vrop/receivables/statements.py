"""Bank statements and 1C payment files: reading them, and matching their rows to invoices.

Formats read (``parse_statement`` picks by content):

- ``1CClientBankExchange``: the text format every Russian bank exports for 1C
  (``СекцияДокумент`` … ``КонецДокумента`` with ``Сумма``, ``ПлательщикИНН``,
  ``НазначениеПлатежа``, ``ДатаПоступило`` / ``ДатаСписано``), UTF-8 or Windows-1251.
- CSV from a bank or 1C with a header row: ``;``, ``,`` or tab; Russian or English
  column names (date, amount or credit/debit, INN, payer, purpose, number); dates
  ``ДД.ММ.ГГГГ`` or ISO; amounts with a comma or a dot and spaces.
- CommerceML documents (1C ↔ site exchange) whose orders carry "Дата оплаты по 1С":
  each paid order is a payment of its amount by the buyer's INN for the order number.

Matching (``match_row``, pure) uses the invoice number found in the purpose text, the
payer's INN and the amount; see docs/receivables.md for the table of decisions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from xml.etree import ElementTree

from django.utils.translation import gettext as _

from vrop.core.errors import ValidationError
from vrop.core.money import to_decimal

# --- rows -------------------------------------------------------------------------------


@dataclass
class StatementRow:
    line_no: int
    paid_on: date
    amount: Decimal  # money in is positive; money out (a refund) negative
    payer_inn: str = ""
    payer_name: str = ""
    purpose: str = ""
    document_number: str = ""
    key: str = ""


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(_("The file is neither UTF-8 nor Windows-1251 text."))


def parse_day(text: str, *, line: int) -> date:
    value = (text or "").strip()
    for pattern in ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%y", "%d/%m/%Y"):
        try:
            return datetime.strptime(value[:10] if len(value) > 10 else value, pattern).date()
        except ValueError:
            continue
    raise ValidationError(
        _("Line %(line)s: “%(value)s” is not a date.") % {"line": line, "value": value},
        field="paid_on",
    )


def _amount(text: str, *, line: int) -> Decimal:
    try:
        return to_decimal(text)
    except ValidationError:
        raise ValidationError(
            _("Line %(line)s: “%(value)s” is not an amount.") % {"line": line, "value": text},
            field="amount",
        )


def _clean_inn(text: str) -> str:
    digits = re.sub(r"\D", "", text or "")
    return digits if len(digits) in (10, 12) else ""


def with_keys(rows: list[StatementRow]) -> list[StatementRow]:
    """A stable key per row: the same statement loaded twice gives the same keys."""
    seen: Counter = Counter()
    for row in rows:
        base = "|".join(
            [
                row.paid_on.isoformat(),
                f"{row.amount:.2f}",
                row.payer_inn,
                row.document_number,
                row.purpose,
            ]
        )
        seen[base] += 1
        row.key = hashlib.sha1(f"{base}|{seen[base]}".encode()).hexdigest()
    return rows


# --- 1CClientBankExchange ---------------------------------------------------------------


def parse_client_bank_exchange(text: str, *, company_inn: str = "") -> list[StatementRow]:
    rows: list[StatementRow] = []
    document: dict[str, str] | None = None
    start_line = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("СекцияДокумент"):
            document, start_line = {}, number
            continue
        if line == "КонецДокумента" and document is not None:
            rows.append(_bank_document(document, line=start_line, company_inn=company_inn))
            document = None
            continue
        if document is not None and "=" in line:
            name, _sep, value = line.partition("=")
            document[name.strip()] = value.strip()
    return [row for row in rows if row is not None]


def _bank_document(doc: dict[str, str], *, line: int, company_inn: str) -> StatementRow | None:
    amount = _amount(doc.get("Сумма", ""), line=line)
    payer_inn = _clean_inn(doc.get("ПлательщикИНН", ""))
    receiver_inn = _clean_inn(doc.get("ПолучательИНН", ""))
    outgoing = bool(doc.get("ДатаСписано")) and not doc.get("ДатаПоступило")
    if company_inn:
        outgoing = payer_inn == company_inn and receiver_inn != company_inn
    day = doc.get("ДатаПоступило") or doc.get("ДатаСписано") or doc.get("Дата", "")
    if outgoing:
        inn = receiver_inn
        name = doc.get("Получатель1") or doc.get("Получатель", "")
    else:
        inn = payer_inn
        name = doc.get("Плательщик1") or doc.get("Плательщик", "")
    return StatementRow(
        line_no=line,
        paid_on=parse_day(day, line=line),
        amount=-amount if outgoing else amount,
        payer_inn=inn,
        payer_name=re.sub(r"^ИНН\s*\d+\s*", "", name)[:300],
        purpose=doc.get("НазначениеПлатежа", "")[:500],
        document_number=doc.get("Номер", "")[:64],
    )


# --- CSV --------------------------------------------------------------------------------

COLUMNS = {
    "date": (
        "date",
        "paid_on",
        "дата",
        "дата платежа",
        "дата операции",
        "дата поступления",
        "дата документа",
    ),
    "amount": ("amount", "сумма", "сумма платежа", "сумма операции"),
    "credit": ("credit", "in", "поступление", "приход", "кредит", "сумма поступления"),
    "debit": ("debit", "out", "списание", "расход", "дебет", "сумма списания"),
    "inn": ("inn", "payer_inn", "инн", "инн плательщика", "инн контрагента"),
    "name": ("payer", "payer_name", "плательщик", "контрагент", "наименование плательщика"),
    "purpose": ("purpose", "description", "назначение", "назначение платежа", "комментарий"),
    "number": ("number", "document", "номер", "номер документа", "№", "№ документа"),
    "direction": ("direction", "вид", "тип", "вид операции", "направление"),
}
OUT_WORDS = ("спис", "расход", "возврат", "out", "debit", "дебет")


def _column_map(header: list[str]) -> dict[str, int]:
    names = [re.sub(r"\s+", " ", (cell or "").strip().lower()) for cell in header]
    found: dict[str, int] = {}
    for key, aliases in COLUMNS.items():
        for index, name in enumerate(names):
            if name in aliases and key not in found:
                found[key] = index
    return found


def parse_csv(text: str) -> list[StatementRow]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=";,\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ";" if sample.count(";") >= sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise ValidationError(_("The file is empty."))
    columns = _column_map(header)
    if "date" not in columns or not ({"amount", "credit", "debit"} & set(columns)):
        raise ValidationError(
            _("Line 1: the file needs a date column and an amount (or credit and debit) column.")
        )
    rows = []
    for line, cells in enumerate(reader, start=2):
        if not any((cell or "").strip() for cell in cells):
            continue

        def cell(key: str, cells=cells) -> str:
            index = columns.get(key)
            return (cells[index] if index is not None and index < len(cells) else "").strip()

        if "amount" in columns:
            amount = _amount(cell("amount"), line=line)
            direction = cell("direction").lower()
            if amount > 0 and direction and any(word in direction for word in OUT_WORDS):
                amount = -amount
        else:
            credit = _amount(cell("credit"), line=line) if cell("credit") else Decimal("0")
            debit = _amount(cell("debit"), line=line) if cell("debit") else Decimal("0")
            amount = credit - debit
        if amount == 0:
            continue
        rows.append(
            StatementRow(
                line_no=line,
                paid_on=parse_day(cell("date"), line=line),
                amount=amount,
                payer_inn=_clean_inn(cell("inn")),
                payer_name=cell("name")[:300],
                purpose=cell("purpose")[:500],
                document_number=cell("number")[:64],
            )
        )
    return rows


# --- CommerceML (1C documents with payment status) ---------------------------------------


def parse_commerceml(content: bytes) -> list[StatementRow]:
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        raise ValidationError(_("The XML file cannot be read: %(error)s") % {"error": error})

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    def child(element, name: str):
        for item in element:
            if local(item.tag) == name:
                return item
        return None

    def text(element, name: str) -> str:
        item = child(element, name) if element is not None else None
        return (item.text or "").strip() if item is not None and item.text else ""

    rows = []
    for index, document in enumerate(
        (el for el in root.iter() if local(el.tag) == "Документ"), start=1
    ):
        details = {}
        for holder in document:
            if local(holder.tag) != "ЗначенияРеквизитов":
                continue
            for value in holder:
                details[text(value, "Наименование")] = text(value, "Значение")
        paid_at = details.get("Дата оплаты по 1С", "")
        if not paid_at:
            continue
        buyer = None
        for counterparties in document:
            if local(counterparties.tag) == "Контрагенты":
                for party in counterparties:
                    if text(party, "Роль") in ("Покупатель", ""):
                        buyer = party
                        break
        number = text(document, "Номер")
        rows.append(
            StatementRow(
                line_no=index,
                paid_on=parse_day(paid_at, line=index),
                amount=_amount(text(document, "Сумма"), line=index),
                payer_inn=_clean_inn(text(buyer, "ИНН")),
                payer_name=(text(buyer, "ОфициальноеНаименование") or text(buyer, "Наименование"))[
                    :300
                ],
                purpose=_("Payment of order № %(number)s") % {"number": number},
                document_number=details.get("Номер оплаты по 1С", "")[:64],
            )
        )
    return rows


def parse_statement(content: bytes, *, company_inn: str = "") -> tuple[str, list[StatementRow]]:
    """(format, rows with keys) of a statement file, whatever of the three formats it is."""
    try:
        return _parse_statement(content, company_inn=company_inn)
    except (csv.Error, ValueError, UnicodeError) as error:
        raise ValidationError(_("The file cannot be read: %(error)s") % {"error": error})


def _parse_statement(content: bytes, *, company_inn: str) -> tuple[str, list[StatementRow]]:
    head = content[:2048].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        return "commerceml", with_keys(parse_commerceml(content))
    text = _decode(content)
    if text.lstrip().startswith("1CClientBankExchange"):
        return "1c_bank", with_keys(parse_client_bank_exchange(text, company_inn=company_inn))
    return "csv", with_keys(parse_csv(text))


# --- matching ---------------------------------------------------------------------------

LOOKALIKE = str.maketrans("АВЕКМНОРСТУХ", "ABEKMHOPCTYX")
TOKEN = re.compile(r"[0-9A-Za-zА-Яа-яЁё][0-9A-Za-zА-Яа-яЁё\-/_.]*")


def number_key(number: str) -> str:
    """An invoice number as compared: upper case, look-alike Cyrillic as Latin, no signs."""
    return re.sub(r"[^0-9A-Z\u0400-\u04FF]", "", (number or "").upper().translate(LOOKALIKE))


def digits_key(number: str) -> str:
    digits = re.sub(r"\D", "", number or "").lstrip("0")
    return digits


def purpose_tokens(purpose: str) -> tuple[set[str], set[str]]:
    """(full keys, digit keys) of the tokens with a digit in a payment purpose."""
    full, digits = set(), set()
    for token in TOKEN.findall((purpose or "").replace("№", " ")):
        token = token.strip(".-/_")
        if not any(ch.isdigit() for ch in token):
            continue
        if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{2,4}", token):  # a date
            continue
        full.add(number_key(token))
        if digits_key(token):
            digits.add(digits_key(token))
    return full, digits


@dataclass
class OpenInvoice:
    id: int
    number: str
    client_id: int | None
    amount: Decimal
    paid: Decimal
    due_on: date

    @property
    def balance(self) -> Decimal:
        return self.amount - self.paid


@dataclass
class Index:
    by_number: dict[str, list[OpenInvoice]] = field(default_factory=dict)
    by_digits: dict[str, list[OpenInvoice]] = field(default_factory=dict)
    by_client: dict[int, list[OpenInvoice]] = field(default_factory=dict)
    clients_by_inn: dict[str, list[int]] = field(default_factory=dict)

    def add(self, invoice: OpenInvoice) -> None:
        self.by_number.setdefault(number_key(invoice.number), []).append(invoice)
        if digits_key(invoice.number):
            self.by_digits.setdefault(digits_key(invoice.number), []).append(invoice)
        if invoice.client_id is not None and invoice.balance > 0:
            self.by_client.setdefault(invoice.client_id, []).append(invoice)


@dataclass(frozen=True)
class Match:
    status: str  # applied, suggested, unmatched, ignored (RowStatus values)
    invoice: OpenInvoice | None
    client_id: int | None
    reason: str


def _unique(items):
    unique = {item.id: item for item in items}
    return list(unique.values())


def match_row(row: StatementRow, index: Index) -> Match:
    """Decide what a statement row pays (pure: the index holds the invoices and clients).

    Money in: number and INN → applied (partial or over-payment is spread by the
    service); number and exact amount with no INN → applied; a client's only open
    invoice of exactly this amount → applied; anything less sure → offered to a person
    with the best guess; nothing at all → not matched. Money out (a refund) to a client
    is always offered to a person; to anybody else it is not ours (ignored).
    """
    full, digits = purpose_tokens(row.purpose)
    clients = index.clients_by_inn.get(row.payer_inn, []) if row.payer_inn else []
    by_full = _unique(inv for key in full for inv in index.by_number.get(key, []))
    by_digits = _unique(inv for key in digits for inv in index.by_digits.get(key, []))
    client_id = clients[0] if len(clients) == 1 else None
    if row.amount < 0:
        if not clients:
            return Match("ignored", None, None, _("Money out to someone who is not a client."))
        candidates = [inv for inv in by_full + by_digits if inv.client_id in clients]
        return Match(
            "suggested",
            candidates[0] if candidates else None,
            candidates[0].client_id if candidates else client_id,
            _("A refund to a client: confirm the invoice."),
        )
    if clients:
        own_full = [inv for inv in by_full if inv.client_id in clients]
        if len(own_full) == 1:
            invoice = own_full[0]
            if invoice.balance > 0:
                return Match(
                    "applied", invoice, invoice.client_id, _("Invoice number and INN match.")
                )
            return Match(
                "suggested",
                invoice,
                invoice.client_id,
                _("Invoice %(number)s is already paid: an overpayment?")
                % {"number": invoice.number},
            )
        own_digits = [inv for inv in by_digits if inv.client_id in clients and inv.balance > 0]
        if len(own_digits) == 1 and own_digits[0].balance == row.amount:
            invoice = own_digits[0]
            return Match(
                "applied",
                invoice,
                invoice.client_id,
                _("Invoice number, INN and amount match."),
            )
        if own_full or own_digits:
            invoice = (own_full or own_digits)[0]
            return Match(
                "suggested",
                invoice,
                invoice.client_id,
                _("The purpose names invoice %(number)s: confirm.") % {"number": invoice.number},
            )
        open_invoices = [
            inv for client in clients for inv in index.by_client.get(client, []) if inv.balance > 0
        ]
        exact = [inv for inv in open_invoices if inv.balance == row.amount]
        if len(exact) == 1:
            return Match(
                "applied",
                exact[0],
                exact[0].client_id,
                _("The client's only unpaid invoice of this amount."),
            )
        if open_invoices:
            best = sorted(exact or open_invoices, key=lambda inv: (inv.due_on, inv.id))[0]
            return Match(
                "suggested",
                best,
                best.client_id,
                _("The client is known, the invoice is not: the oldest is proposed."),
            )
        return Match(
            "suggested",
            None,
            client_id,
            _("The client has no unpaid invoice: record it as an advance?"),
        )
    if len(by_full) == 1 and by_full[0].balance == row.amount:
        invoice = by_full[0]
        if not row.payer_inn:
            return Match(
                "applied", invoice, invoice.client_id, _("Invoice number and amount match.")
            )
        return Match(
            "suggested",
            invoice,
            invoice.client_id,
            _("Number and amount match, but the payer's INN is not the client's."),
        )
    if by_full:
        invoice = by_full[0]
        return Match(
            "suggested",
            invoice,
            invoice.client_id,
            _("The purpose names invoice %(number)s, the payer is unknown: confirm.")
            % {"number": invoice.number},
        )
    return Match("unmatched", None, None, _("No invoice or client found."))
