"""Navigation per role."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# (url name, label, roles that see it; empty = everyone)
# Pages that do not exist yet are skipped (NoReverseMatch), so apps add pages freely.
NAVIGATION = [
    ("owner-dashboard", _("Five minutes"), ("owner",)),
    ("today", _("Today"), ("manager", "head")),
    ("board", _("Control board"), ("head", "owner")),
    ("inbox", _("Inbox"), ("manager", "head", "owner")),
    ("distribution", _("Distribution"), ("head", "owner")),
    ("deal-list", _("Deals"), ("owner", "head", "manager", "finance", "supply")),
    ("client-list", _("Clients"), ("owner", "head", "manager", "finance")),
    ("product-list", _("Products"), ()),
    ("price-list-list", _("Price lists"), ("head", "owner", "supply")),
    ("approval-list", _("Approvals"), ("head", "owner")),
    ("margin-report", _("Margin"), ("head", "owner")),
    ("receivables", _("Receivables"), ("owner", "head", "finance", "manager")),
    ("head-dashboard", _("Numbers"), ("head", "owner")),
    ("report-list", _("Reports"), ("head", "owner", "finance")),
    ("call-list", _("Calls"), ("head", "owner", "manager")),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    for name, label, roles in NAVIGATION:
        if roles and user.role not in roles and not user.is_superuser:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append({"name": name, "label": label, "url": url, "active": False})
    # The item whose address is the longest prefix of the page's is the active one.
    matching = [
        item
        for item in items
        if request.path == item["url"]
        or (item["url"] != "/" and request.path.startswith(item["url"]))
    ]
    if matching:
        max(matching, key=lambda item: len(item["url"]))["active"] = True
    return {"nav_items": items}
