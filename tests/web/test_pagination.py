"""Keyset pagination: every row exactly once, forwards and backwards, and no COUNT(*) or
OFFSET in the queries of a list page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from vrop.crm.models import Deal
from vrop.web.pagination import decode_cursor, encode_cursor, keyset_page

pytestmark = pytest.mark.django_db

ORDERING = ["-received_at", "-id"]


@pytest.fixture
def deals(manager):
    customer = factories.ClientFactory(manager=manager)
    moment = timezone.now().replace(microsecond=123456)
    # Pairs share a received_at: the id breaks the tie.
    return [
        factories.DealFactory(
            client=customer, manager=manager, received_at=moment - dt.timedelta(hours=i // 2)
        )
        for i in range(11)
    ]


def expected_order(deals):
    return [d.pk for d in sorted(deals, key=lambda d: (d.received_at, d.pk), reverse=True)]


def test_walking_forwards_and_backwards_visits_every_row_once(deals):
    queryset = Deal.objects.all()
    seen, cursor, pages = [], "", []
    while True:
        page = keyset_page(queryset, ordering=ORDERING, after=cursor, size=3)
        pages.append(page)
        seen += [d.pk for d in page]
        if not page.has_next:
            break
        cursor = page.next_cursor
    assert seen == expected_order(deals)
    assert [len(p) for p in pages] == [3, 3, 3, 2]
    assert [p.has_previous for p in pages] == [False, True, True, True]

    back, cursor = [], pages[-1].previous_cursor
    while cursor:
        page = keyset_page(queryset, ordering=ORDERING, before=cursor, size=3)
        back = [d.pk for d in page] + back
        cursor = page.previous_cursor
    assert back == expected_order(deals)[:9]


def test_a_forged_cursor_means_the_first_page(deals):
    page = keyset_page(Deal.objects.all(), ordering=ORDERING, after="not-a-cursor", size=3)

    assert [d.pk for d in page] == expected_order(deals)[:3]
    assert page.has_previous is False


def test_cursor_round_trip_keeps_microseconds(deals):
    deal = deals[0]

    values = decode_cursor(encode_cursor(deal, ORDERING), Deal, ORDERING)

    assert values == [deal.received_at, deal.pk]


def test_deal_list_pages_without_count_or_offset(client, manager):
    customer = factories.ClientFactory(manager=manager)
    factories.DealFactory.create_batch(52, client=customer, manager=manager)
    client.force_login(manager)

    with CaptureQueriesContext(connection) as queries:
        first = client.get(reverse("deal-list"))
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "COUNT(" not in sql
    assert " OFFSET " not in sql
    assert len(first.context["page"]) == 50
    assert first.context["page"].has_next

    second = client.get(reverse("deal-list"), {"after": first.context["page"].next_cursor})
    assert len(second.context["page"]) == 2
    assert not second.context["page"].has_next
    ids = {d.pk for d in first.context["page"]} | {d.pk for d in second.context["page"]}
    assert len(ids) == 52


@pytest.mark.parametrize("role", ["owner", "manager", "finance"])
def test_deal_list_query_count_does_not_grow_with_rows(
    client, django_assert_max_num_queries, role, owner, manager, finance
):
    user = {"owner": owner, "manager": manager, "finance": finance}[role]
    customer = factories.ClientFactory(manager=manager)
    factories.DealFactory.create_batch(40, client=customer, manager=manager)
    client.force_login(user)

    with django_assert_max_num_queries(6):
        response = client.get(reverse("deal-list"), {"state": "open", "q": "Сделка"})

    assert response.status_code == 200
    assert len(response.context["page"]) == 40


def test_client_and_product_lists_query_count(client, django_assert_max_num_queries, head, manager):
    factories.ClientFactory.create_batch(30, manager=manager)
    factories.ProductFactory.create_batch(30)
    client.force_login(head)

    with django_assert_max_num_queries(6):
        clients = client.get(reverse("client-list"))
    with django_assert_max_num_queries(5):
        products = client.get(reverse("product-list"))

    assert len(clients.context["page"]) == 30
    assert len(products.context["page"]) == 30


@pytest.mark.parametrize(("role", "budget"), [("head", 10), ("manager", 16)])
def test_deal_page_query_count_is_bounded(
    client, django_assert_max_num_queries, head, manager, role, budget
):
    # A manager's budget is larger: each ``visible_to`` reads the company settings
    # (managers_see_all) once per related list.
    deal = factories.DealFactory(manager=manager, client=factories.ClientFactory(manager=manager))
    factories.DealLineFactory.create_batch(5, deal=deal)
    factories.TaskFactory.create_batch(5, deal=deal)
    factories.ActivityFactory.create_batch(5, deal=deal)
    for invoice in factories.InvoiceFactory.create_batch(3, deal=deal):
        factories.PaymentFactory.create_batch(2, invoice=invoice)
    client.force_login({"head": head, "manager": manager}[role])

    with django_assert_max_num_queries(budget):
        response = client.get(reverse("deal-detail", args=[deal.pk]))

    assert response.status_code == 200
    assert len(response.context["page"].lines) == 5
    assert len(response.context["page"].invoices) == 3


def test_list_filters(client, head, manager, other_manager):
    mine = factories.ClientFactory(manager=manager, name="ООО «Альфа»")
    theirs = factories.ClientFactory(manager=other_manager, name="ООО «Бета»")
    won = factories.DealFactory(client=mine, manager=manager, stage="won", title="Выиграна")
    lead = factories.DealFactory(client=mine, manager=manager, stage="lead", title="Лид")
    tender = factories.DealFactory(
        client=theirs, manager=other_manager, channel="tender", title="Тендер"
    )
    client.force_login(head)

    def ids(**params):
        return {d.pk for d in client.get(reverse("deal-list"), params).context["page"]}

    assert ids() == {won.pk, lead.pk, tender.pk}
    assert ids(state="open") == {lead.pk, tender.pk}
    assert ids(state="closed") == {won.pk}
    assert ids(stage="won") == {won.pk}
    assert ids(manager=other_manager.pk) == {tender.pk}
    assert ids(channel="tender") == {tender.pk}
    assert ids(q="Альфа") == {won.pk, lead.pk}
    assert ids(q=mine.inn) == {won.pk, lead.pk}
    assert ids(q=str(tender.pk)) == {tender.pk}
    assert ids(manager="abc") == {won.pk, lead.pk, tender.pk}  # a bad filter is ignored


def test_a_manager_lists_only_own_deals(client, manager, other_manager):
    mine = factories.DealFactory(client=factories.ClientFactory(manager=manager), manager=manager)
    factories.DealFactory(
        client=factories.ClientFactory(manager=other_manager), manager=other_manager
    )
    client.force_login(manager)

    page = client.get(reverse("deal-list")).context["page"]

    assert [d.pk for d in page] == [mine.pk]
