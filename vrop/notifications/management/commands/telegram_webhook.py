"""Point Telegram at this installation's webhook (or remove the webhook)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from vrop.notifications.telegram import TelegramClient, telegram_webhook_secret


class Command(BaseCommand):
    help = "Set the Telegram webhook to BASE_URL/notifications/telegram/webhook/<secret>/."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="", help="https://vrop.example.com")
        parser.add_argument("--delete", action="store_true", help="remove the webhook")

    def handle(self, *args, **options):
        with TelegramClient() as client:
            if options["delete"]:
                client.delete_webhook()
                self.stdout.write("webhook removed")
                return
            base = options["base_url"].rstrip("/")
            if not base.startswith("https://"):
                raise CommandError("Telegram needs an https:// base URL")
            secret = telegram_webhook_secret()
            url = base + reverse("telegram-webhook", kwargs={"secret": secret})
            client.set_webhook(url=url, secret_token=secret)
            self.stdout.write(f"webhook set: {base}/notifications/telegram/webhook/…/")
