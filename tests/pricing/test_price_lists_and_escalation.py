"""Price lists from XLSX (all or nothing), effective dates, and escalation of approvals."""

import datetime as dt
import io
from decimal import Decimal as D

import pytest
import time_machine
import xlsxwriter
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    ClientFactory,
    PriceListFactory,
    PriceListItemFactory,
    ProductFactory,
)
from vrop.core.errors import PermissionDenied, ValidationError
from vrop.core.policy import company_settings
from vrop.crm.models import Product
from vrop.crm.services import LineInput, deal_create
from vrop.pricing.models import ApprovalRequest, PriceList, PriceListItem
from vrop.pricing.services import (
    PriceListErrors,
    approvals_escalate,
    price_list_import_xlsx,
    price_lists_apply_due,
)
from vrop.pricing.tasks import approvals_escalate_task, price_lists_apply_task

pytestmark = pytest.mark.django_db

MONDAY = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))


def xlsx(rows) -> bytes:
    output = io.BytesIO()
    book = xlsxwriter.Workbook(output, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    book.close()
    return output.getvalue()


def prices():
    return list(Product.objects.order_by("pk").values_list("name", "list_price", "cost_price"))


@time_machine.travel(MONDAY, tick=False)
def test_a_price_list_loads_by_id_or_name_and_applies_today(head):
    first = ProductFactory(name="Швеллер 10П", list_price=D("60000"), cost_price=D("50000"))
    ProductFactory(name="Уголок 50×5", list_price=D("61000"), cost_price=D("52000"))
    content = xlsx(
        [
            ["Товар", "Цена прайса", "Себестоимость"],
            [first.pk, 62500, 54000.5],
            ["уголок 50×5", "63 000,00", None],
        ]
    )

    price_list = price_list_import_xlsx(
        actor=head, content=content, name="Прайс 23.11", effective_from=dt.date(2026, 11, 23)
    )

    assert price_list.items.count() == 2
    assert price_list.applied_at is not None
    assert prices() == [
        ("Швеллер 10П", D("62500.00"), D("54000.50")),
        ("Уголок 50×5", D("63000.00"), D("52000.00")),
    ]
    assert PriceListItem.history.count() == 2


@time_machine.travel(MONDAY, tick=False)
def test_a_bad_row_loads_nothing_and_names_every_error(head):
    ProductFactory(name="Швеллер 10П", list_price=D("60000"), cost_price=D("50000"))
    before = prices()
    content = xlsx(
        [
            ["product", "list price", "cost price"],
            ["Швеллер 10П", 62500, 54000],
            ["Нет такого", 1000, 900],
            ["Швеллер 10П", 0, None],
            ["Швеллер 10П", "дорого", None],
        ]
    )

    with pytest.raises(PriceListErrors) as error:
        price_list_import_xlsx(
            actor=head, content=content, name="x", effective_from=dt.date(2026, 11, 23)
        )

    assert error.value.rows == [
        "Строка 3: товар «Нет такого» не найден.",
        "Строка 4: цена прайса должна быть больше нуля.",
        "Строка 5: цена не является числом.",
    ]
    assert (prices(), PriceList.objects.count(), PriceListItem.objects.count()) == (before, 0, 0)


def test_a_price_list_needs_its_columns_and_a_real_file(head):
    with pytest.raises(ValidationError):
        price_list_import_xlsx(
            actor=head, content=b"not a zip", name="x", effective_from=dt.date(2026, 11, 23)
        )
    with pytest.raises(ValidationError) as error:
        price_list_import_xlsx(
            actor=head,
            content=xlsx([["a", "b"], [1, 2]]),
            name="x",
            effective_from=dt.date(2026, 11, 23),
        )
    assert "товар" in error.value.message
    assert PriceList.objects.count() == 0


def test_a_manager_cannot_load_prices(manager):
    ProductFactory(name="Швеллер 10П")
    with pytest.raises(PermissionDenied):
        price_list_import_xlsx(
            actor=manager,
            content=xlsx([["product", "price"], ["Швеллер 10П", 1]]),
            name="x",
            effective_from=dt.date(2026, 11, 23),
        )
    assert PriceList.objects.count() == 0


def test_a_future_price_list_takes_effect_on_its_date_once():
    product = ProductFactory(list_price=D("60000"), cost_price=D("50000"))
    item = PriceListItemFactory(
        product=product,
        price_list=PriceListFactory(effective_from=dt.date(2026, 12, 1)),
        list_price=D("65000"),
        cost_price=D("55000"),
    )

    with time_machine.travel(dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC), tick=False):
        assert price_lists_apply_task.call_local() == 0
    product.refresh_from_db()
    assert (product.list_price, product.cost_price) == (D("60000.00"), D("50000.00"))

    with time_machine.travel(dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC), tick=False):
        assert price_lists_apply_task.call_local() == 1
        assert price_lists_apply_due() == 0  # applied once
    product.refresh_from_db()
    item.price_list.refresh_from_db()
    assert (product.list_price, product.cost_price) == (D("65000.00"), D("55000.00"))
    assert item.price_list.applied_at is not None


def test_the_import_page_loads_a_file(head):
    ProductFactory(name="Швеллер 10П", list_price=D("60000"))
    browser = Client()
    browser.force_login(head)
    upload = io.BytesIO(xlsx([["товар", "цена"], ["Швеллер 10П", 61000]]))
    upload.name = "прайс.xlsx"

    response = browser.post(
        reverse("price-list-import"),
        {"name": "Прайс", "effective_from": "2000-01-01", "file": upload},
    )

    assert response.status_code == 302
    assert Product.objects.get().list_price == D("61000.00")


# --- escalation ---------------------------------------------------------------------------


def make_pending(manager):
    product = ProductFactory(cost_price=D("48000"), list_price=D("56000"))
    deal = deal_create(
        actor=manager,
        client=ClientFactory(manager=manager),
        lines=[LineInput(product=product, qty=D("10"), price=D("53200"))],
        next_step_title="Согласовать",
        next_step_due_at=timezone.now() + dt.timedelta(days=1),
    )
    return ApprovalRequest.objects.get(deal=deal)


def test_an_undecided_request_escalates_to_the_owner_after_working_hours_once(manager):
    hours = company_settings().approval_escalation_hours
    with time_machine.travel(MONDAY, tick=False) as traveller:
        approval = make_pending(manager)
        traveller.shift(dt.timedelta(hours=hours) - dt.timedelta(minutes=1))
        assert approvals_escalate_task.call_local() == 0
        traveller.shift(dt.timedelta(minutes=1))
        assert approvals_escalate() == 1
        escalated_at = timezone.now()
        traveller.shift(dt.timedelta(hours=hours))
        assert approvals_escalate() == 0

    approval.refresh_from_db()
    assert (approval.level, approval.status, approval.escalated_at) == (
        "owner",
        "pending",
        escalated_at,
    )


def test_escalation_counts_working_hours_only(manager):
    hours = company_settings().approval_escalation_hours
    friday_evening = dt.datetime(2026, 11, 27, 17, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    with time_machine.travel(friday_evening, tick=False) as traveller:
        approval = make_pending(manager)
        traveller.move_to(
            dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
        )  # Monday before work: one working hour has passed
        assert hours > 1
        assert approvals_escalate() == 0
    approval.refresh_from_db()
    assert (approval.level, approval.escalated_at) == ("head", None)
