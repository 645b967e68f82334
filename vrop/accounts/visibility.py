"""Who sees what: one place, used by the UI, the API and the admin alike.

``Model.objects.visible_to(user)`` narrows any query to what the user may see;
``can(user, action, kind)`` says whether the user may do an action on a kind of object
at all. A manager sees own clients and deals (and what hangs off them) unless the
company setting widens it; head and owner see everything; finance sees the money side
(clients, deals, invoices, payments, shipments) read-mostly; supply sees products and
the deals that need stock.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from vrop.accounts.choices import Role

# What each role may see, per kind of object: "all", "own" or nothing.
SEE = {
    Role.OWNER: {"*": "all"},
    Role.HEAD: {"*": "all"},
    Role.MANAGER: {
        "client": "own",
        "deal": "own",
        "task": "own",
        "activity": "own",
        "request": "own",
        "invoice": "own",
        "payment": "own",
        "shipment": "own",
        "call": "own",
        "product": "all",
        "plan": "own",
        "user": "all",
        "alert": "own",
    },
    Role.FINANCE: {
        "client": "all",
        "deal": "all",
        "invoice": "all",
        "payment": "all",
        "shipment": "all",
        "product": "all",
        "plan": "all",
        "user": "all",
    },
    Role.SUPPLY: {"product": "all", "deal": "all", "shipment": "all", "user": "all"},
}

# What each role may change, per kind of object.
CHANGE = {
    Role.OWNER: {"*"},
    Role.HEAD: {"*"},
    Role.MANAGER: {"client", "deal", "task", "activity", "request", "call"},
    Role.FINANCE: {"invoice", "payment", "client_credit", "task", "activity"},
    Role.SUPPLY: {"product", "confirmation", "task"},
}

# How "own" is decided for each kind: the lookups that point at the manager.
OWN_LOOKUPS = {
    "client": ("manager",),
    "deal": ("manager", "client__manager"),
    "task": ("manager", "deal__manager"),
    "activity": ("user", "deal__manager", "client__manager"),
    "request": ("manager",),
    "invoice": ("deal__manager",),
    "payment": ("invoice__deal__manager",),
    "shipment": ("deal__manager",),
    "call": ("manager",),
    "plan": ("manager",),
    "alert": ("manager",),
}


def _scope(user, kind: str) -> str | None:
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return "all"
    rules = SEE.get(user.role, {})
    scope = rules.get(kind, rules.get("*"))
    if scope == "own" and kind != "plan":
        from vrop.core.policy import company_settings

        if company_settings().managers_see_all:
            return "all"
    return scope


def can_see(user, kind: str) -> bool:
    return _scope(user, kind) is not None


def can(user, action: str, kind: str) -> bool:
    """May ``user`` do ``action`` ("view", "change") on objects of ``kind`` at all."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if action == "view":
        return can_see(user, kind)
    if user.is_superuser:
        return True
    allowed = CHANGE.get(user.role, set())
    return "*" in allowed or kind in allowed


def visibility_filter(user, kind: str) -> Q | None:
    """A Q that keeps what ``user`` sees of ``kind``; None means nothing."""
    scope = _scope(user, kind)
    if scope is None:
        return None
    if scope == "all":
        return Q()
    condition = Q()
    for lookup in OWN_LOOKUPS.get(kind, ("manager",)):
        condition |= Q(**{lookup: user})
    return condition


class VisibleQuerySet(models.QuerySet):
    visibility_kind = ""

    def visible_to(self, user):
        condition = visibility_filter(user, self.visibility_kind)
        if condition is None:
            return self.none()
        return self.filter(condition) if condition else self
