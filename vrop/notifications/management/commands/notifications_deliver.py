"""Deliver the outbox from the command line: once, or in a loop (a dedicated sender
process, an alternative to the queue's tasks)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from vrop.notifications.delivery import deliver_outbox


class Command(BaseCommand):
    help = "Deliver the notifications outbox (once, or --loop)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep delivering")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between batches")
        parser.add_argument("--limit", type=int, default=100, help="rows per batch")

    def handle(self, *args, **options):
        while True:
            report = deliver_outbox(limit=options["limit"])
            if not options["loop"]:
                self.stdout.write(str(report.as_dict()))
                return
            wait = options["interval"]
            if report.next_due_in is not None:
                wait = min(wait, max(report.next_due_in, 0.05))
            time.sleep(wait)
