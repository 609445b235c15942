"""`manage.py run_jobs [--as-of T] [job ...]`: run scheduled jobs now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty.jobs import job_registry, job_run


class Command(BaseCommand):
    help = "Run scheduled jobs now, as if at --as-of (default: now). No names: all jobs, in order."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("jobs", nargs="*", metavar="job", help="job names (default: all)")
        parser.add_argument(
            "--as-of", dest="as_of", help="ISO 8601 time, e.g. 2026-11-22T03:00+08:00"
        )
        parser.add_argument("--list", action="store_true", help="list the jobs and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        registry = job_registry()
        if options["list"]:
            for name in registry:
                self.stdout.write(name)
            return
        as_of = timezone.now()
        if options["as_of"]:
            parsed = parse_datetime(options["as_of"])
            if parsed is None:
                raise CommandError(f"--as-of is not an ISO 8601 time: {options['as_of']}")
            as_of = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        names = options["jobs"] or list(registry)
        unknown = [name for name in names if name not in registry]
        if unknown:
            raise CommandError(
                f"Unknown job(s): {', '.join(unknown)}. Known: {', '.join(registry)}."
            )
        for name in names:
            summary = job_run(name, as_of=as_of)
            self.stdout.write(f"{name}: {summary}")
