"""Reads of the notifications app; each takes the viewer and shows only their own."""

from __future__ import annotations

from django.conf import settings
from django.db.models import BooleanField, Case, QuerySet, Value, When
from django.utils import timezone

from vrop.notifications.choices import NotificationChannel
from vrop.notifications.models import OutboxMessage, TelegramLinkCode


def notification_list(*, viewer, unread_only: bool = False) -> QuerySet[OutboxMessage]:
    """The viewer's in-app notifications: unread first, then the newest."""
    if viewer is None or not viewer.is_authenticated:
        return OutboxMessage.objects.none()
    queryset = OutboxMessage.objects.filter(user=viewer, channel=NotificationChannel.INAPP)
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset.annotate(
        is_unread=Case(
            When(read_at__isnull=True, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    ).order_by("-is_unread", "-created_at", "-id")


def notification_unread_count(*, viewer) -> int:
    if viewer is None or not viewer.is_authenticated:
        return 0
    return OutboxMessage.objects.filter(
        user=viewer, channel=NotificationChannel.INAPP, read_at__isnull=True
    ).count()


BADGE_LIMIT = 99


def notification_unread_badge(*, viewer) -> str:
    """The unread count as the bell shows it: "" for none, "1"…"99", "99+" beyond."""
    if viewer is None or not viewer.is_authenticated:
        return ""
    ids = list(
        OutboxMessage.objects.filter(
            user=viewer, channel=NotificationChannel.INAPP, read_at__isnull=True
        ).values_list("id", flat=True)[: BADGE_LIMIT + 1]
    )
    if not ids:
        return ""
    return f"{BADGE_LIMIT}+" if len(ids) > BADGE_LIMIT else str(len(ids))


def telegram_start_link(code: str) -> str:
    """The deep link that opens the bot with ``/start CODE``, when the bot's name is known."""
    username = getattr(settings, "TELEGRAM_BOT_USERNAME", "").lstrip("@")
    return f"https://t.me/{username}?start={code}" if username else ""


def telegram_link_state(*, viewer) -> dict:
    """Whether the viewer's Telegram is linked, and their current unused code if any."""
    code = (
        TelegramLinkCode.objects.filter(
            user=viewer, used_at__isnull=True, expires_at__gt=timezone.now()
        )
        .order_by("-created_at")
        .first()
    )
    username = getattr(settings, "TELEGRAM_BOT_USERNAME", "").lstrip("@")
    return {
        "is_linked": bool(viewer.telegram_chat_id),
        "is_configured": bool(getattr(settings, "TELEGRAM_BOT_TOKEN", "")),
        "bot_name": "@" + username if username else "",
        "code": code,
        "start_link": telegram_start_link(code.code) if code else "",
    }
