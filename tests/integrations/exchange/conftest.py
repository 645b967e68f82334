"""Helpers for the exchange format tests: fixture folders, copies to edit, and a
snapshot of how many rows every model holds (to assert that a refused import wrote
nothing)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.apps import apps

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BASIC = FIXTURES / "basic"
SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def model_counts() -> dict[str, int]:
    """Rows per model of every vrop app: the whole database at a glance."""
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label
        in {"accounts", "crm", "receivables", "planning", "callaudit", "pricing", "discipline"}
    }


@pytest.fixture
def basic_copy(tmp_path) -> Path:
    """A copy of the basic fixture folder that a test may edit."""
    target = tmp_path / "basic"
    shutil.copytree(BASIC, target)
    return target


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
