"""API: the viewer's in-app notifications and their Telegram link code."""

from __future__ import annotations

from datetime import datetime

from ninja import Query, Router, Schema

from vrop.core.api_utils import DEFAULT_PAGE_SIZE, Id, Limit, Offset, paginate
from vrop.notifications import selectors, services

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    subject: str
    text: str
    link: str
    created_at: datetime
    read_at: datetime | None
    is_read: bool


class NotificationPage(Schema):
    items: list[NotificationOut]
    next: str | None
    unread: int


class NotificationFilters(Schema):
    unread: bool = False
    limit: Limit = DEFAULT_PAGE_SIZE
    offset: Offset = 0


class MarkedOut(Schema):
    marked: int


class LinkCodeOut(Schema):
    code: str
    command: str
    expires_at: datetime
    start_link: str


@router.get("/notifications", response=NotificationPage)
def notification_list(request, filters: Query[NotificationFilters]):
    """My in-app notifications: unread first, then the newest."""
    queryset = selectors.notification_list(viewer=request.auth, unread_only=filters.unread)
    page = paginate(request, queryset, limit=filters.limit, offset=filters.offset)
    page["unread"] = selectors.notification_unread_count(viewer=request.auth)
    return page


@router.post("/notifications/read-all", response=MarkedOut)
def notification_read_all(request):
    """Mark all my notifications read."""
    return {"marked": services.notification_mark_all_read(user=request.auth)}


@router.post("/notifications/{notification_id}/read", response=NotificationOut)
def notification_read(request, notification_id: Id):
    """Mark one of my notifications read."""
    return services.notification_mark_read(user=request.auth, notification_id=notification_id)


@router.post("/notifications/telegram/link-code", response=LinkCodeOut)
def telegram_link_code(request):
    """A one-time code to link my Telegram: send ``/start CODE`` to the bot."""
    link = services.telegram_link_code_create(user=request.auth)
    return {
        "code": link.code,
        "command": f"/start {link.code}",
        "expires_at": link.expires_at,
        "start_link": selectors.telegram_start_link(link.code),
    }
