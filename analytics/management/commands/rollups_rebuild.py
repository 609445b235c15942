"""`manage.py rollups_rebuild [--from DATE] [--to DATE]`: rewrite the roll-ups
of a range of local days (default: the whole history up to today), a month
per transaction (analytics.rollups). For backfills: after an import of
members or purchases, or to build the roll-ups of a program that had none."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date

from analytics.rollups import rollups_history_start, rollups_rebuild


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        day = parse_date(value)
    except ValueError:
        day = None
    if day is None:
        raise CommandError(f"{name} is not a date (YYYY-MM-DD): {value}")
    return day


class Command(BaseCommand):
    help = "Rewrite the analytics roll-ups of the days --from to --to (default: all history)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default today)")

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        start = _day(options["start"], "--from")
        end = _day(options["end"], "--to") or today
        whole_history = start is None
        start = start or rollups_history_start() or today
        if end < start:
            raise CommandError("--to is before --from")
        began = time.monotonic()
        done = rollups_rebuild(start=start, end=end, whole_history=whole_history)
        self.stdout.write(
            f"rolled up {done.days} days from {start} to {end}: {done.store_days} store days, "
            f"{done.ledger_days} ledger days, {done.member_months} member-months "
            f"in {time.monotonic() - began:.1f} s"
        )
