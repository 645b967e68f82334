"""Receive Telegram updates by long polling (``getUpdates``), for installations that the
Internet cannot reach by a webhook. Telegram refuses polling while a webhook is set:
``vrop manage telegram_webhook --delete`` first."""

from __future__ import annotations

import logging
import time

from django.core.management.base import BaseCommand

from vrop.notifications.telegram import (
    TelegramClient,
    telegram_poll_offset,
    telegram_update_process,
)

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Receive Telegram updates by long polling (getUpdates)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one getUpdates call, then exit")
        parser.add_argument("--timeout", type=int, default=25, help="long-poll seconds")

    def handle(self, *args, **options):
        while True:
            try:
                with TelegramClient(read_timeout=options["timeout"] + 10) as client:
                    while True:
                        updates = client.get_updates(
                            offset=telegram_poll_offset(), timeout=options["timeout"]
                        )
                        for update in updates:
                            outcome = telegram_update_process(update)
                            self.stdout.write(f"update {update.get('update_id')}: {outcome}")
                        if options["once"]:
                            return
            except Exception:
                if options["once"]:
                    raise
                logger.warning("Telegram polling failed; again in 5 s", exc_info=True)
                time.sleep(5)
