"""The home page sends each person where their day starts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse

from vrop.accounts.choices import Role

# Where each role starts; the first name that resolves wins, the deal list is the fallback.
START_PAGES = {
    Role.OWNER: ("owner-dashboard", "board"),
    Role.HEAD: ("board", "head-dashboard"),
    Role.MANAGER: ("today",),
    Role.FINANCE: ("receivables",),
    Role.SUPPLY: ("product-list",),
}


def start_url(user) -> str:
    for name in (*START_PAGES.get(user.role, ()), "deal-list"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return reverse("profile")


@login_required
def home(request):
    return redirect(start_url(request.user))
