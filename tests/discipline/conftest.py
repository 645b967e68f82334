import pytest

from tests.api.conftest import ApiClient


@pytest.fixture
def api():
    """``api(user)`` → a JSON client of /api/v1/ with a fresh token of ``user``."""
    return ApiClient
