"""The hook through which every business rule holds on every path.

Services call ``check(event, obj, mode=..., actor=...)`` inside their transaction after
writing; every registered rule for that event looks at the data as it would be after
the write. In ``enforce`` mode (web, API, admin, Telegram, copy, tasks) a violation
raises ``RuleViolation`` and the transaction rolls back, leaving the data as it was; in
``flag`` mode (import and sync from another CRM) the violations are returned for the
caller to record as flags, and the write stands.

Apps register their rules at import time (``AppConfig.ready``):

    @rulebook.rule("deal.save")
    def next_step_rule(deal, *, actor, context): -> list[Violation]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vrop.core.errors import RuleViolation

ENFORCE = "enforce"
FLAG = "flag"


@dataclass(frozen=True)
class Violation:
    code: str
    message: str
    params: dict = field(default_factory=dict)


_RULES: dict[str, list[Callable[..., list[Violation]]]] = defaultdict(list)
# Set-based variants for imports and sweeps: fn(queryset) -> {pk: [Violation, ...]}
_BULK: dict[Callable, Callable] = {}


def rule(*events: str, bulk: Callable | None = None):
    """Register a rule for events; ``bulk`` is its set-based variant over a queryset."""

    def register(function):
        for event in events:
            if function not in _RULES[event]:
                _RULES[event].append(function)
        if bulk is not None:
            _BULK[function] = bulk
        return function

    return register


def evaluate_bulk(event: str, queryset, *, actor=None) -> dict:
    """Violations per object pk for every object of ``queryset`` (flag mode: imports, sweeps).

    Rules with a set-based variant run it once; the others run per object.
    """
    result: dict = defaultdict(list)
    for function in _RULES.get(event, []):
        bulk = _BULK.get(function)
        if bulk is not None:
            for pk, violations in bulk(queryset).items():
                result[pk].extend(violations)
        else:
            for obj in queryset.iterator(chunk_size=2000):
                found = function(obj, actor=actor, context={})
                if found:
                    result[obj.pk].extend(found)
    return dict(result)


def evaluate_bulk_events(pairs: list[tuple[str, Any]], *, actor=None) -> list[dict]:
    """``evaluate_bulk`` for several ``(event, queryset)`` at once (an import: every event
    its objects went through); one result per pair, in order, each as ``evaluate_bulk``
    gives it. A set-based variant that several of the events share, over querysets of the
    same model, runs once over their union and each event keeps the objects of its own
    queryset: a set-based variant is a per-object rule, so an object's violations do not
    depend on the others."""
    users: dict[tuple, list[int]] = defaultdict(list)  # (variant, model) -> pair indexes
    for index, (event, queryset) in enumerate(pairs):
        for function in _RULES.get(event, []):
            bulk = _BULK.get(function)
            if bulk is not None and index not in users[(bulk, queryset.model)]:
                users[(bulk, queryset.model)].append(index)
    found: dict[tuple, dict] = {}
    for key, indexes in users.items():
        union = pairs[indexes[0]][1]
        for index in indexes[1:]:
            union = union | pairs[index][1]
        found[key] = key[0](union)
    results = []
    for event, queryset in pairs:
        result: dict = defaultdict(list)
        own: set | None = None  # the pks of this pair, when a shared variant flagged some
        for function in _RULES.get(event, []):
            bulk = _BULK.get(function)
            if bulk is None:
                for obj in queryset.iterator(chunk_size=2000):
                    violations = function(obj, actor=actor, context={})
                    if violations:
                        result[obj.pk].extend(violations)
                continue
            key = (bulk, queryset.model)
            flagged = found[key]
            if flagged and len(users[key]) > 1 and own is None:
                own = set(queryset.values_list("pk", flat=True).iterator(chunk_size=5000))
            for pk, violations in flagged.items():
                if len(users[key]) == 1 or pk in own:
                    result[pk].extend(violations)
        results.append(dict(result))
    return results


def rules_for(event: str) -> list[Callable[..., list[Violation]]]:
    return list(_RULES.get(event, []))


def evaluate(event: str, obj: Any, *, actor=None, context: dict | None = None) -> list[Violation]:
    violations: list[Violation] = []
    for function in _RULES.get(event, []):
        violations.extend(function(obj, actor=actor, context=context or {}))
    return violations


def check(
    event: str, obj: Any, *, mode: str = ENFORCE, actor=None, context: dict | None = None
) -> list[Violation]:
    """Evaluate the rules of ``event``; raise on the first violation in enforce mode."""
    violations = evaluate(event, obj, actor=actor, context=context)
    if violations and mode == ENFORCE:
        first = violations[0]
        raise RuleViolation(first.message, code=first.code, params=first.params)
    return violations
