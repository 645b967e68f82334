"""Who kills the margin: a hand-computed example, the API, and the demo's discounter on top."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse

from tests.demo.conftest import TODAY, demo  # noqa: F401  (the module-scoped demo)
from tests.factories import (
    ClientFactory,
    DealFactory,
    DealLineFactory,
    ManagerFactory,
    ProductFactory,
)
from vrop.accounts.models import User
from vrop.accounts.services import api_token_create
from vrop.crm.choices import Stage
from vrop.crm.services import deal_recalculate
from vrop.pricing.selectors import margin_report

pytestmark = pytest.mark.django_db

CLOSED = dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC)


def won(manager, lines, closed_at=CLOSED, stage=Stage.WON):
    deal = DealFactory(client=ClientFactory(manager=manager), stage=stage, closed_at=closed_at)
    for product, qty, price in lines:
        DealLineFactory(deal=deal, product=product, qty=D(qty), price=D(price))
    return deal_recalculate(deal)


def test_weighted_discount_margin_and_order_by_manager(head):
    rebar = ProductFactory(category="rebar", list_price=D("100"), cost_price=D("80"))
    sheet = ProductFactory(category="sheet", list_price=D("200"), cost_price=D("150"))
    ivanov = ManagerFactory(first_name="Иван", last_name="Иванов")
    petrov = ManagerFactory(first_name="Пётр", last_name="Петров")
    won(ivanov, [(rebar, "10", "90"), (sheet, "1", "200")])  # list 1200, sold 1100
    won(petrov, [(rebar, "10", "99")])  # list 1000, sold 990
    won(petrov, [(rebar, "10", "50")], stage=Stage.LOST)  # not won: not counted
    won(petrov, [(rebar, "10", "50")], closed_at=CLOSED - dt.timedelta(days=60))  # outside

    rows = margin_report(
        viewer=head, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30), by="manager"
    )

    assert [(r["name"], r["discount_pct"], r["discount_amount"]) for r in rows] == [
        ("Иван Иванов", D("8.33"), D("100.00")),  # 100 / 1200
        ("Пётр Петров", D("1.00"), D("10.00")),
    ]
    assert (rows[0]["revenue"], rows[0]["gross_profit"], rows[0]["margin_pct"]) == (
        D("1100.00"),
        D("150.00"),  # 1100 − (800 + 150)
        D("13.64"),
    )
    by_category = margin_report(
        viewer=head, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30), by="category"
    )
    assert [(r["name"], r["discount_pct"]) for r in by_category] == [
        ("rebar", D("5.50")),  # (100 + 10) / 2000
        ("sheet", D("0.00")),
    ]


def test_managers_do_not_see_the_report(manager):
    from vrop.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        margin_report(viewer=manager, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))


def test_the_demo_discounter_is_on_top(demo, owner):  # noqa: F811
    _token, key = api_token_create(user=owner, name="t")
    start = (TODAY - dt.timedelta(days=70)).isoformat()

    response = Client().get(
        f"/api/v1/reports/margin?from={start}&to={TODAY.isoformat()}&by=manager",
        headers={"Authorization": f"Bearer {key}"},
    )

    assert response.status_code == 200
    top = response.json()[0]
    discounter = next(
        u for u in User.objects.filter(role="manager") if u.extra["demo_behaviour"] == "discounter"
    )
    assert top["key"] == discounter.pk
    page = Client()
    page.force_login(owner)
    html = page.get(reverse("margin-report") + f"?from={start}&to={TODAY.isoformat()}")
    assert html.status_code == 200
    text = html.content.decode()
    first_row = text[text.index("<tbody>") : text.index("</tr>", text.index("<tbody>"))]
    assert str(discounter) in first_row
