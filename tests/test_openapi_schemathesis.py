"""Schemathesis over /api/v1/openapi.json: generated requests never get a 5xx.

The API is called in process through its WSGI application with an owner's token (the
owner may do everything, so the requests reach the services). Each operation gets a
bounded number of examples so that the whole run stays under a minute.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.factories import (
    ClientFactory,
    DealFactory,
    DealLineFactory,
    ManagerFactory,
    OwnerFactory,
    ProductFactory,
    TaskFactory,
)
from vrop.accounts.services import api_token_create
from vrop.core.policy import company_settings
from vrop.wsgi import application

EXAMPLES_PER_OPERATION = 10


@pytest.fixture
def owner_key(db):
    """An owner's token, and a few objects with small ids for the generated ids to hit."""
    company_settings()
    owner = OwnerFactory()
    manager = ManagerFactory()
    for _ in range(3):
        client = ClientFactory(manager=manager)
        product = ProductFactory(cost_price=Decimal("50000"), list_price=Decimal("56000"))
        deal = DealFactory(client=client)
        DealLineFactory(deal=deal, product=product)
        TaskFactory(deal=deal, due_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    _token, key = api_token_create(user=owner, name="schemathesis")
    return key


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Like Django's test client: a request must not close the test's database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# Loaded at collection through the WSGI application, as a client would read it.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case, owner_key):
    response = case.call(headers={"Authorization": f"Bearer {owner_key}"})

    case.validate_response(response, checks=[not_a_server_error])
