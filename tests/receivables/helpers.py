"""Helpers for the receivables tests."""

import datetime as dt
from decimal import Decimal as D

from django.utils import timezone

from tests.factories import ClientFactory, ProductFactory
from vrop.crm.services import LineInput, deal_create

MSK = dt.timezone(dt.timedelta(hours=3))
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=MSK)  # a Monday


def deferral_client(manager, *, limit="560000.00", terms=14, **fields):
    return ClientFactory(manager=manager, payment_terms_days=terms, credit_limit=D(limit), **fields)


def quote_deal(manager, client, *, qty="10", price="56000"):
    """A deal at list price (no price approval needed): qty × 56 000 ₽."""
    product = ProductFactory(cost_price=D("50000"), list_price=D("56000"))
    return deal_create(
        actor=manager,
        client=client,
        lines=[LineInput(product=product, qty=D(qty), price=D(price))],
        next_step_title="Выставить счёт",
        next_step_due_at=timezone.now() + dt.timedelta(days=1),
    )
