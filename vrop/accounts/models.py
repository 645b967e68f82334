"""Users with roles, teams, API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from vrop.accounts.choices import Role
from vrop.core.models import ExternalRecord


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class VrpUserManager(UserManager):
    def active_staff(self):
        return self.filter(is_active=True, left_on__isnull=True)


class User(AbstractUser, ExternalRecord):
    """A person of the sales department. Matched by e-mail on import."""

    email = models.EmailField(_("e-mail"), unique=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MANAGER)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    hired_on = models.DateField(_("hired on"), null=True, blank=True)
    left_on = models.DateField(_("left on"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True, default="")
    is_absent = models.BooleanField(_("absent (vacation, sick leave)"), default=False)
    telegram_chat_id = models.BigIntegerField(_("Telegram chat"), null=True, blank=True)
    digest_time = models.TimeField(_("daily digest at"), null=True, blank=True)
    language = models.CharField(_("language"), max_length=8, default="ru")

    objects = VrpUserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["last_name", "first_name", "username"]
        indexes = [models.Index(fields=["role"])]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return str(self)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    @property
    def is_head(self) -> bool:
        return self.role == Role.HEAD

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER

    @property
    def is_dismissed(self) -> bool:
        return self.left_on is not None or not self.is_active


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 hash is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
