"""Reconstruct the missing daily forecast snapshots of past days from the history, so that
the forecast's accuracy can be measured from the first day (after an import, say)."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from vrop.core.errors import ValidationError
from vrop.planning.services import BACKFILL_EVERY, forecast_snapshots_backfill


class Command(BaseCommand):
    help = (
        "Take the missing forecast snapshots of past days, reconstructed from the history "
        "(snapshots already taken are kept)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--weeks", type=int, default=12, help="how far back from yesterday (12 weeks)"
        )
        parser.add_argument("--since", type=date.fromisoformat, help="first day (YYYY-MM-DD)")
        parser.add_argument("--until", type=date.fromisoformat, help="last day (yesterday at most)")
        parser.add_argument(
            "--every",
            choices=BACKFILL_EVERY,
            default="week",
            help="every day, or each Monday and first of a month (default)",
        )

    def handle(self, *args, **options):
        if options["weeks"] < 1:
            raise CommandError("--weeks must be 1 or more")
        yesterday = timezone.localdate() - timedelta(days=1)
        until = options["until"] or yesterday
        since = options["since"] or until - timedelta(weeks=options["weeks"]) + timedelta(days=1)
        verbose = options["verbosity"] > 1
        try:
            taken = forecast_snapshots_backfill(
                since=since,
                until=until,
                every=options["every"],
                progress=(lambda day: self.stdout.write(f"{day:%d.%m.%Y}")) if verbose else None,
            )
        except ValidationError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{len(taken)} snapshots reconstructed from {since:%d.%m.%Y} to "
            f"{min(until, yesterday):%d.%m.%Y} ({options['every']})"
        )
