"""Shared fixtures. Services the suite needs but cannot reach: skip with a printed
reason outside CI, fail in CI (``CI=true``)."""

from __future__ import annotations

import os

import pytest

from tests import factories

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_service(reason: str) -> None:
    """Fail in CI, skip with the reason elsewhere."""
    if IN_CI:
        pytest.fail(f"required service unavailable in CI: {reason}")
    print(f"SKIP: {reason}")
    pytest.skip(reason)


@pytest.fixture
def owner(db):
    return factories.OwnerFactory()


@pytest.fixture
def head(db):
    return factories.HeadFactory()


@pytest.fixture
def manager(db):
    return factories.ManagerFactory()


@pytest.fixture
def other_manager(db):
    return factories.ManagerFactory()


@pytest.fixture
def finance(db):
    return factories.FinanceFactory()


@pytest.fixture
def supply(db):
    return factories.SupplyFactory()


@pytest.fixture
def redis_url():
    url = os.environ.get("VROP_TEST_REDIS_URL", "")
    if not url:
        need_service("VROP_TEST_REDIS_URL is not set")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as error:  # noqa: BLE001
        need_service(f"Redis at {url} is not reachable: {error}")
    return url
