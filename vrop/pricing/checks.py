"""Price rules registered on the service events (see vrop.core.rulebook)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from vrop.core.rulebook import Violation, rule


@rule("deal.lines")
def approval_follows_lines(deal, *, actor, context) -> list[Violation]:
    """Changing prices or quantities opens (or reopens) the approval they need."""
    from vrop.pricing.services import approval_sync

    approval_sync(deal=deal, actor=actor)
    return []


@rule("deal.won", "deal.invoice", "deal.quote")
def approval_required(deal, *, actor, context) -> list[Violation]:
    """Until its prices are approved, a deal is not won, invoiced or quoted."""
    from vrop.pricing.services import deal_approval_state

    decision, _approval, cleared = deal_approval_state(deal)
    if cleared:
        return []
    who = _("the owner") if decision.role == "owner" else _("the head of sales")
    first = decision.reasons[0].message if decision.reasons else ""
    return [
        Violation(
            "approval_required",
            _("The prices need approval by %(who)s first. %(reason)s")
            % {"who": who, "reason": first},
        )
    ]
