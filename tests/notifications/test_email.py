"""E-mail through Django's SMTP backend to a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from tests.factories import ManagerFactory
from vrop.notifications.delivery import deliver_outbox
from vrop.notifications.models import OutboxMessage
from vrop.notifications.services import notify

pytestmark = pytest.mark.django_db


class Inbox(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


def free_port() -> int:
    for port in range(18150, 18200):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port")


def smtp_server(inbox: Inbox, port: int) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    return controller


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = smtp_server(inbox, free_port())
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.DEFAULT_FROM_EMAIL = "vrop@example.com"
    settings.VROP_BASE_URL = "https://vrop.example.com"
    settings.NOTIFICATIONS_BACKOFF_BASE = 0.1
    servers = [controller]
    yield inbox, servers
    servers[-1].stop()


def test_an_email_is_sent_over_smtp(smtp):
    inbox, _controller = smtp
    user = ManagerFactory(email="ivanov@example.com")
    notify(
        user=user,
        text="Счёт №12 просрочен на 6 дней",
        channels=("email",),
        subject="Просрочка",
        link="/receivables/",
    )

    report = deliver_outbox()

    assert report.sent == 1
    [message] = inbox.messages
    assert message["To"] == "ivanov@example.com"
    assert message["From"] == "vrop@example.com"
    assert str(make_header(decode_header(message["Subject"]))) == "Просрочка"
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert body == "Счёт №12 просрочен на 6 дней\n\nhttps://vrop.example.com/receivables/\n"
    assert OutboxMessage.objects.get().status == "sent"


def test_smtp_down_is_retried_and_sent_once_when_back(smtp, settings):
    inbox, servers = smtp
    user = ManagerFactory(email="petrov@example.com")
    notify(user=user, text="Сводка", channels=("email",))
    port = servers[0].port
    servers[0].stop()

    down = deliver_outbox()
    message = OutboxMessage.objects.get()

    assert down.retried == 1
    assert (message.status, message.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in message.last_error

    servers.append(smtp_server(inbox, port))  # back, on the same port
    OutboxMessage.objects.update(next_attempt_at=message.created_at)  # its back-off is over
    up = deliver_outbox()

    assert up.sent == 1
    assert [m["To"] for m in inbox.messages] == ["petrov@example.com"]
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)
