"""The in-app list, the bell, the Telegram link page and the notifications API."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.api.conftest import ApiClient
from tests.factories import InAppNotificationFactory, ManagerFactory
from vrop.notifications.models import OutboxMessage, TelegramLinkCode

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def inbox(manager):
    """Three notifications of the manager (the middle one read) and one of someone else."""
    with time_machine.travel(NOW - dt.timedelta(hours=3), tick=False):
        oldest = InAppNotificationFactory(user=manager, text="Старое непрочитанное")
    with time_machine.travel(NOW - dt.timedelta(hours=2), tick=False):
        read = InAppNotificationFactory(user=manager, text="Прочитанное", read_at=NOW)
    with time_machine.travel(NOW - dt.timedelta(hours=1), tick=False):
        newest = InAppNotificationFactory(user=manager, text="Новое непрочитанное")
    others = InAppNotificationFactory(user=ManagerFactory(), text="Чужое")
    return {"oldest": oldest, "read": read, "newest": newest, "others": others}


def read_states():
    return dict(OutboxMessage.objects.values_list("text", "read_at"))


# --- pages ----------------------------------------------------------------------------


def test_the_list_shows_mine_unread_first(client, manager, inbox, django_assert_num_queries):
    client.force_login(manager)

    with django_assert_num_queries(5):  # session, user, page count, page, unread count
        response = client.get(reverse("notification-list"))

    assert response.status_code == 200
    texts = [n.text for n in response.context["notifications"]]
    assert texts == ["Новое непрочитанное", "Старое непрочитанное", "Прочитанное"]
    assert response.context["unread_count"] == 2
    assert "Чужое" not in response.content.decode()


def test_mark_read_from_the_page(client, manager, inbox):
    client.force_login(manager)

    response = client.post(reverse("notification-read", args=[inbox["newest"].pk]))

    assert response.status_code == 302
    inbox["newest"].refresh_from_db()
    assert inbox["newest"].read_at is not None
    assert OutboxMessage.objects.filter(user=manager, read_at__isnull=True).count() == 1


def test_mark_read_with_htmx_returns_the_row(client, manager, inbox):
    client.force_login(manager)

    response = client.post(
        reverse("notification-read", args=[inbox["oldest"].pk]), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert f'id="notification-{inbox["oldest"].pk}"' in response.content.decode()
    assert "list-group-item-warning" not in response.content.decode()


def test_someone_elses_notification_cannot_be_marked(client, manager, inbox):
    client.force_login(manager)
    before = read_states()

    response = client.post(reverse("notification-read", args=[inbox["others"].pk]))

    assert response.status_code == 404
    assert "Такого уведомления нет." in response.content.decode()
    assert read_states() == before


def test_mark_all_read(client, manager, inbox):
    client.force_login(manager)

    client.post(reverse("notification-read-all"))

    assert OutboxMessage.objects.filter(user=manager, read_at__isnull=True).count() == 0
    assert OutboxMessage.objects.get(pk=inbox["others"].pk).read_at is None


def test_the_list_needs_a_login(client):
    response = client.get(reverse("notification-list"))

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_bell_loads_its_badge_after_the_page(client, manager, inbox):
    client.force_login(manager)

    page = client.get(reverse("notification-list")).content.decode()
    badge = client.get(reverse("notification-bell")).content.decode()

    assert f'hx-get="{reverse("notification-bell")}"' in page
    assert (
        badge.strip()
        == '<span class="badge rounded-pill text-bg-danger ms-1" id="bell-unread">2</span>'
    )


def test_the_bell_is_empty_without_unread_and_caps_at_99(client, manager):
    client.force_login(manager)
    empty = client.get(reverse("notification-bell")).content.decode()
    InAppNotificationFactory.create_batch(100, user=manager)

    full = client.get(reverse("notification-bell")).content.decode()

    assert empty.strip() == ""
    assert ">99+</span>" in full


def test_the_telegram_page_gives_a_code_and_unlinks(client, manager, settings):
    settings.TELEGRAM_BOT_TOKEN = "123456:TEST-token"
    settings.TELEGRAM_BOT_USERNAME = "vrop_bot"
    client.force_login(manager)

    empty = client.get(reverse("telegram-link"))
    client.post(reverse("telegram-link"), {"action": "code"})
    page = client.get(reverse("telegram-link")).content.decode()

    code = TelegramLinkCode.objects.get(user=manager)
    assert 'id="telegram-code"' not in empty.content.decode()
    assert f"/start {code.code}" in page
    assert f"https://t.me/vrop_bot?start={code.code}" in page
    assert "Отправьте это сообщение @vrop_bot в Telegram:" in page

    manager.telegram_chat_id = 4242
    manager.save()
    client.post(reverse("telegram-link"), {"action": "unlink"})
    manager.refresh_from_db()
    assert manager.telegram_chat_id is None


# --- API ------------------------------------------------------------------------------


def test_api_lists_mine_unread_first(manager, inbox):
    response = ApiClient(manager).get("/notifications")

    assert response.status_code == 200
    body = response.json()
    assert [item["text"] for item in body["items"]] == [
        "Новое непрочитанное",
        "Старое непрочитанное",
        "Прочитанное",
    ]
    assert body["unread"] == 2 and body["next"] is None
    assert body["items"][2]["is_read"] is True


def test_api_unread_filter_and_paging(manager, inbox):
    api = ApiClient(manager)

    unread = api.get("/notifications", unread="true").json()
    first = api.get("/notifications", limit=1).json()

    assert [item["id"] for item in unread["items"]] == [inbox["newest"].pk, inbox["oldest"].pk]
    assert [item["id"] for item in first["items"]] == [inbox["newest"].pk]
    assert "offset=1" in first["next"]


def test_api_marks_read(manager, inbox):
    api = ApiClient(manager)

    one = api.post(f"/notifications/{inbox['oldest'].pk}/read")
    rest = api.post("/notifications/read-all")

    assert one.status_code == 200 and one.json()["is_read"] is True
    assert rest.json() == {"marked": 1}
    assert OutboxMessage.objects.filter(user=manager, read_at__isnull=True).count() == 0


def test_api_refuses_someone_elses_notification(manager, inbox):
    before = read_states()

    response = ApiClient(manager).post(f"/notifications/{inbox['others'].pk}/read")

    assert response.status_code == 404
    assert response.json() == {"detail": "Такого уведомления нет.", "code": "not_found"}
    assert read_states() == before


def test_api_link_code(manager, settings):
    settings.TELEGRAM_BOT_USERNAME = "vrop_bot"

    with time_machine.travel(NOW, tick=False):
        response = ApiClient(manager).post("/notifications/telegram/link-code")

    body = response.json()
    code = TelegramLinkCode.objects.get(user=manager)
    assert response.status_code == 200
    assert body == {
        "code": code.code,
        "command": f"/start {code.code}",
        "expires_at": "2026-11-23T10:30:00Z",
        "start_link": f"https://t.me/vrop_bot?start={code.code}",
    }
    assert code.expires_at == NOW + dt.timedelta(minutes=30)


def test_api_needs_a_token():
    assert ApiClient().get("/notifications").status_code == 401
    assert ApiClient().post("/notifications/telegram/link-code").status_code == 401
    assert TelegramLinkCode.objects.count() == 0
    assert timezone.now()  # the clock is real outside time_machine
