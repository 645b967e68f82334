"""The rulebook's set-based evaluation of several events at once (imports)."""

from __future__ import annotations

import pytest

from tests.factories import DealFactory
from vrop.core import rulebook
from vrop.core.rulebook import Violation
from vrop.crm.models import Deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def test_rules(monkeypatch):
    """Two events of their own sharing one set-based rule, a third with another."""
    monkeypatch.setattr(rulebook, "_RULES", rulebook.defaultdict(list))
    monkeypatch.setattr(rulebook, "_BULK", {})
    calls = []

    def big_bulk(deals):
        calls.append(("big", sorted(deals.values_list("pk", flat=True))))
        return {d.pk: [Violation("big", f"big {d.pk}")] for d in deals if d.amount >= 100}

    def won_bulk(deals):
        calls.append(("won", sorted(deals.values_list("pk", flat=True))))
        return {d.pk: [Violation("won", "won")] for d in deals if d.stage == "won"}

    @rulebook.rule("test.a", "test.b", bulk=big_bulk)
    def big(deal, *, actor, context):
        return [Violation("big", f"big {deal.pk}")] if deal.amount >= 100 else []

    @rulebook.rule("test.b", bulk=won_bulk)
    def won(deal, *, actor, context):
        return [Violation("won", "won")] if deal.stage == "won" else []

    return calls


def test_a_shared_rule_runs_once_and_each_event_keeps_its_own_objects(test_rules):
    small = DealFactory(amount=10, stage="won")
    big_open = DealFactory(amount=500, stage="lead")
    big_won = DealFactory(amount=700, stage="won")
    deals = Deal.objects.all()
    pairs = [("test.a", deals.filter(stage="lead")), ("test.b", deals.filter(stage="won"))]

    together = rulebook.evaluate_bulk_events(pairs)

    assert [name for name, _pks in test_rules] == ["big", "won"]  # big once, over both
    assert sorted(test_rules[0][1]) == sorted([small.pk, big_open.pk, big_won.pk])
    test_rules.clear()
    alone = [rulebook.evaluate_bulk(event, objects) for event, objects in pairs]
    assert together == alone
    assert together[0] == {big_open.pk: [Violation("big", f"big {big_open.pk}")]}
    assert together[1] == {
        big_won.pk: [Violation("big", f"big {big_won.pk}"), Violation("won", "won")],
        small.pk: [Violation("won", "won")],
    }
