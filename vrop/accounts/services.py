"""Writes on users and tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vrop.accounts.choices import Role
from vrop.accounts.models import ApiToken, Team, User
from vrop.core.errors import ValidationError

TOKEN_PREFIX = "vrop_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def team_get_or_create(*, name: str) -> Team | None:
    name = (name or "").strip()
    if not name:
        return None
    team, _created = Team.objects.get_or_create(name=name)
    return team


@transaction.atomic
def user_upsert(
    *,
    email: str,
    name: str = "",
    role: str = Role.MANAGER,
    team: str = "",
    hired_on: date | None = None,
    left_on: date | None = None,
    password: str | None = None,
    source: str = "",
    external_id: str = "",
    extra: dict | None = None,
) -> tuple[User, bool]:
    """Create or update a user matched by e-mail. Returns (user, created)."""
    email = (email or "").strip().lower()
    if not email or "@" not in email:
        raise ValidationError(_("A valid e-mail is required."), field="email")
    if role not in Role.values:
        raise ValidationError(
            _("Unknown role “%(role)s”: use owner, head, manager, finance or supply.")
            % {"role": role},
            field="role",
        )
    first, _sep, last = (name or "").strip().partition(" ")
    user = User.objects.filter(email__iexact=email).first()
    created = user is None
    if created:
        user = User(email=email, username=email)
        user.set_unusable_password()
    user.first_name, user.last_name = first[:150], last[:150]
    user.role = role
    user.team = team_get_or_create(name=team)
    user.hired_on, user.left_on = hired_on, left_on
    user.is_active = left_on is None or left_on > timezone.localdate()
    if source:
        user.source, user.external_id = source, external_id
    if extra is not None:
        user.extra = extra
    if password:
        user.set_password(password)
    user.save()
    return user, created


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; returns it and the plain key, which is never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Give the token a name."), field="name")
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=key[:12], key_hash=_hash(key)
    )
    return token, key


def api_token_revoke(*, token: ApiToken) -> None:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])


def api_token_authenticate(key: str) -> User | None:
    if not key or not key.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(key), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
