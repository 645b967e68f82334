from __future__ import annotations

import pytest

from tests.notifications.fake_telegram import FakeTelegram


@pytest.fixture
def fake_telegram(settings):
    """A local Bot API server; the app's Telegram settings point at it."""
    server = FakeTelegram().start()
    settings.TELEGRAM_BOT_TOKEN = server.token
    settings.TELEGRAM_BASE_URL = server.base_url
    settings.NOTIFICATIONS_BACKOFF_BASE = 0.2
    settings.NOTIFICATIONS_BACKOFF_CAP = 1.0
    settings.NOTIFICATIONS_RESEND_INTERRUPTED = False
    yield server
    server.close()


@pytest.fixture
def linked_manager(db, settings):
    from tests.factories import ManagerFactory

    settings.TELEGRAM_BOT_TOKEN = settings.TELEGRAM_BOT_TOKEN or "123456:TEST-token"
    return ManagerFactory(telegram_chat_id=700001)
