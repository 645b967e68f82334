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


def rule(*events: str):
    def register(function):
        for event in events:
            if function not in _RULES[event]:
                _RULES[event].append(function)
        return function

    return register


def rules_for(event: str) -> list[Callable[..., list[Violation]]]:
    return list(_RULES.get(event, []))


def evaluate(event: str, obj: Any, *, actor=None, context: dict | None = None) -> list[Violation]:
    violations: list[Violation] = []
    for function in _RULES.get(event, []):
        violations.extend(function(obj, actor=actor, context=context or {}))
    return violations


def check(event: str, obj: Any, *, mode: str = ENFORCE, actor=None,
          context: dict | None = None) -> list[Violation]:
    """Evaluate the rules of ``event``; raise on the first violation in enforce mode."""
    violations = evaluate(event, obj, actor=actor, context=context)
    if violations and mode == ENFORCE:
        first = violations[0]
        raise RuleViolation(first.message, code=first.code, params=first.params)
    return violations
