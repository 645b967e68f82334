"""`vrop demo --no-serve` creates the demo company once and prints the logins."""

from __future__ import annotations

import pytest
import time_machine

from tests.demo.conftest import NOW
from vrop.cli import main
from vrop.crm.models import Deal

pytestmark = pytest.mark.django_db


def test_vrop_demo_no_serve_creates_the_company_and_prints_logins(capsys):
    with time_machine.travel(NOW, tick=False):
        assert main(["demo", "--no-serve"]) == 0
        output = capsys.readouterr().out
        deals = Deal.objects.count()
        assert 18000 < deals < 26000  # twelve months of about 20 000 deals a year
        assert "demo12345" in output
        for email in ("owner@demo.vrop", "head@demo.vrop", "manager1@demo.vrop"):
            assert email in output
        # A second run finds the demo and only prints the logins.
        assert main(["demo", "--no-serve"]) == 0
        assert "Generating" not in capsys.readouterr().out
        assert Deal.objects.count() == deals
