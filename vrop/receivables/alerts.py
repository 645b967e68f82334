"""The one door through which receivables raise alerts and tell people.

Alerts go to the outbox of ``vrop.notifications`` (in the app and in Telegram) with a
dedupe key per kind and object, so a sweep that runs twice tells nobody twice. The
discipline app's ``Alert`` model covers deals and requests only; receivables alerts are
about invoices and clients, so they live in the outbox until alerts get a generic target.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from vrop.accounts.choices import Role
from vrop.accounts.models import User

logger = logging.getLogger(__name__)


def people(*roles: str) -> list[User]:
    return list(User.objects.active_staff().filter(role__in=roles))


def owners() -> list[User]:
    return people(Role.OWNER)


def alert_raise(
    kind: str,
    *,
    key: str,
    users: Iterable[User | None],
    text: str,
    link: str = "",
    buttons=None,
) -> int:
    """Tell each of ``users`` once about ``kind`` of ``key``; returns how many were told."""
    from vrop.notifications.services import notify

    told = 0
    unique = {user.pk: user for user in users if user is not None and user.is_active}
    for user in unique.values():
        written = notify(
            user=user,
            text=text,
            link=link,
            buttons=buttons,
            dedupe_key=f"recv:{kind}:{key}",
        )
        told += bool(written)
    if told:
        logger.info("receivables alert %s %s: %s people", kind, key, told)
    return told
