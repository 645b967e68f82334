"""The receivables endpoints in the access matrix: every role × every endpoint, with the
world and the checks of tests/test_access_matrix.py (a refusal changes nothing; an
allowed write changes something)."""

import pytest
from django.urls import reverse

from tests.test_access_matrix import (  # noqa: F401  (world is a fixture)
    ALLOWED,
    LOGIN,
    ROLES,
    _caller,
    _request,
    api,
    fingerprint,
    outcome,
    page,
    world,
)

# fmt: off
ENDPOINTS = [
    api("get", "/api/v1/receivables", outcome(200, 200, 200, 200, 200, 403, 401)),
    api("get", "/api/v1/receivables/ageing", outcome(200, 200, 200, 200, 200, 403, 401)),
    api("get", "/api/v1/clients/{client}/credit", outcome(200, 200, 200, 404, 200, 403, 401)),
    api("put", "/api/v1/clients/{client}/credit", outcome(200, 200, 403, 403, 200, 403, 401),
        body=lambda w: {"payment_terms_days": 14, "credit_limit": "100000"}),
    api("get", "/api/v1/receivables/overrides", outcome(200, 200, 200, 200, 200, 200, 401)),
    api("post", "/api/v1/deals/{deal}/credit-override", outcome(422, 422, 422, 404, 403, 403, 401),
        body=lambda w: {"reason": "Нужна отсрочка"}, note="nothing to override"),
    page("get", "receivables", outcome(200, 200, 200, 200, 200, 403, LOGIN)),
    page("get", "client-credit", outcome(200, 200, 200, 404, 200, 403, LOGIN),
         client_id="client"),
    page("post", "client-credit", outcome(302, 302, 403, 403, 302, 403, LOGIN),
         client_id="client",
         body=lambda w: {"payment_terms_days": "10", "credit_limit": "1000",
                         "credit_status": "active", "reason": ""}),
    page("get", "deal-credit", outcome(200, 200, 200, 404, 200, 200, LOGIN), deal_id="deal"),
    page("get", "credit-override-list", outcome(200, 200, 200, 200, 200, 200, LOGIN)),
    page("get", "statement-list", outcome(200, 200, 403, 403, 200, 403, LOGIN)),
]
# fmt: on


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.label)
def test_access(world, endpoint, role):  # noqa: F811
    browser, headers = _caller(world, role, endpoint)
    before = fingerprint()

    response = _request(browser, endpoint, world, headers)

    expected = endpoint.expect[role]
    after = fingerprint()
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == expected, getattr(response, "content", b"")[:500]
    if expected in ALLOWED and endpoint.writes:
        assert sorted(label for label in after if after[label] != before.get(label))
    else:
        assert after == before
