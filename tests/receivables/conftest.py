import pytest
import time_machine

from tests.receivables.helpers import NOW


@pytest.fixture
def frozen():
    """Time stands at Monday 23.11.2026 12:00 Moscow time."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
