"""Credit policy as pure functions over plain data (DESIGN.md "Rules", credit).

- Deferral only with a limit: a shipment on deferral to a client without deferral terms
  or without a credit limit is refused.
- Any invoice overdue by more than ``stop_shipment_overdue_days`` (5) stops new
  shipments on deferral.
- Exposure over the limit needs the owner: winning a deal (or shipping on deferral)
  that would take the client's exposure over the limit is refused unless the owner
  overrode that deal. Exactly at the limit passes; one kopeck over is refused.
- An invoice overdue by more than ``client_stop_overdue_days`` (30) puts the client on
  stop, as does a stop set by a person: no deal is won and nothing ships on deferral.
- A client on "prepayment only": deals are won, nothing ships on deferral and invoices
  are due on their date.
- An invoice may not give more deferral than the client's terms (a due date that falls
  on a day off moves to the next working day, Civil Code art. 193).

Overdue days are calendar days after the due date. Each function returns the list of
refusals (empty: allowed); the services turn them into ``RuleViolation`` or flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils.translation import gettext as _

from vrop.core.calendar import add_working_days
from vrop.core.money import format_money
from vrop.core.rulebook import Violation
from vrop.crm.choices import CreditStatus


@dataclass(frozen=True)
class CreditPolicy:
    stop_shipment_overdue_days: int = 5
    client_stop_overdue_days: int = 30


@dataclass(frozen=True)
class CreditFacts:
    """What the credit rules need to know about a client at a moment."""

    client_name: str
    payment_terms_days: int
    credit_limit: Decimal
    credit_status: str
    credit_status_reason: str
    exposure: Decimal
    oldest_overdue_days: int = 0
    oldest_overdue_number: str = ""

    @property
    def has_deferral(self) -> bool:
        return self.payment_terms_days > 0 and self.credit_status == CreditStatus.ACTIVE


def due_date_for(issued_on: date, terms_days: int) -> date:
    """The due date for terms of N days: a day off moves it to the next working day."""
    return add_working_days(issued_on + timedelta(days=terms_days), 0)


def effective_status(facts: CreditFacts, policy: CreditPolicy) -> str:
    """The status the rules apply: a long overdue invoice is a stop whatever is set."""
    if facts.oldest_overdue_days > policy.client_stop_overdue_days:
        return CreditStatus.STOP
    return facts.credit_status


def _stop(facts: CreditFacts, policy: CreditPolicy) -> list[Violation]:
    if facts.oldest_overdue_days > policy.client_stop_overdue_days:
        return [
            Violation(
                "credit_client_stop",
                _(
                    "%(client)s is on stop: invoice %(number)s is overdue by %(days)s days "
                    "(more than %(limit)s). Only the owner can let this deal through."
                )
                % {
                    "client": facts.client_name,
                    "number": facts.oldest_overdue_number,
                    "days": facts.oldest_overdue_days,
                    "limit": policy.client_stop_overdue_days,
                },
                {"days": facts.oldest_overdue_days, "invoice": facts.oldest_overdue_number},
            )
        ]
    if facts.credit_status == CreditStatus.STOP:
        return [
            Violation(
                "credit_client_stop",
                _("%(client)s is on stop (%(reason)s). Only the owner can let this deal through.")
                % {
                    "client": facts.client_name,
                    "reason": facts.credit_status_reason or _("no reason given"),
                },
            )
        ]
    return []


def _over_limit(facts: CreditFacts) -> list[Violation]:
    if facts.exposure <= facts.credit_limit:
        return []
    return [
        Violation(
            "credit_over_limit",
            _(
                "The exposure of %(client)s would be %(exposure)s, over the credit limit of "
                "%(limit)s by %(excess)s: the owner decides."
            )
            % {
                "client": facts.client_name,
                "exposure": format_money(facts.exposure),
                "limit": format_money(facts.credit_limit),
                "excess": format_money(facts.exposure - facts.credit_limit),
            },
            {
                "exposure": str(facts.exposure),
                "limit": str(facts.credit_limit),
            },
        )
    ]


def won_refusals(facts: CreditFacts, policy: CreditPolicy) -> list[Violation]:
    """May a deal of this client be won? (``facts.exposure`` includes the deal.)"""
    refusals = _stop(facts, policy)
    if refusals:
        return refusals
    if facts.has_deferral:
        return _over_limit(facts)
    return []


def shipment_refusals(facts: CreditFacts, policy: CreditPolicy) -> list[Violation]:
    """May this client get a shipment on deferral? (Prepaid shipments are not limited.)"""
    refusals = _stop(facts, policy)
    if refusals:
        return refusals
    if facts.credit_status == CreditStatus.PREPAYMENT_ONLY:
        return [
            Violation(
                "credit_prepayment_only",
                _("%(client)s is on prepayment only (%(reason)s): ship after payment.")
                % {
                    "client": facts.client_name,
                    "reason": facts.credit_status_reason or _("no reason given"),
                },
            )
        ]
    if facts.payment_terms_days == 0 or facts.credit_limit <= 0:
        return [
            Violation(
                "credit_no_deferral",
                _(
                    "%(client)s has no deferral (payment terms and a credit limit): ship after "
                    "payment."
                )
                % {"client": facts.client_name},
            )
        ]
    if facts.oldest_overdue_days > policy.stop_shipment_overdue_days:
        return [
            Violation(
                "credit_overdue_shipment",
                _(
                    "Invoice %(number)s of %(client)s is overdue by %(days)s days (more than "
                    "%(limit)s): no shipments on deferral until it is paid."
                )
                % {
                    "client": facts.client_name,
                    "number": facts.oldest_overdue_number,
                    "days": facts.oldest_overdue_days,
                    "limit": policy.stop_shipment_overdue_days,
                },
                {"days": facts.oldest_overdue_days, "invoice": facts.oldest_overdue_number},
            )
        ]
    return _over_limit(facts)


def invoice_refusals(
    facts: CreditFacts, policy: CreditPolicy, *, issued_on: date, due_on: date
) -> list[Violation]:
    """May an invoice give this deferral? (Due on its date is always allowed.)"""
    if due_on <= issued_on:
        return []
    status = effective_status(facts, policy)
    if status != CreditStatus.ACTIVE or facts.payment_terms_days == 0:
        return [
            Violation(
                "credit_no_deferral",
                _("%(client)s pays in advance: issue the invoice due on its date, not on %(due)s.")
                % {"client": facts.client_name, "due": due_on.strftime("%d.%m.%Y")},
            )
        ]
    latest = due_date_for(issued_on, facts.payment_terms_days)
    if due_on > latest:
        return [
            Violation(
                "credit_terms_exceeded",
                _(
                    "The payment terms of %(client)s are %(days)s days: the invoice is due by "
                    "%(latest)s at the latest."
                )
                % {
                    "client": facts.client_name,
                    "days": facts.payment_terms_days,
                    "latest": latest.strftime("%d.%m.%Y"),
                },
            )
        ]
    return []
