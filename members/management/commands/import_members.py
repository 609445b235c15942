"""`manage.py import_members FILE.csv [--dry-run]` (API.md "Operations")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from loyalty.actors import Actor
from loyalty.imports import ImportReport, import_file_run


class Command(BaseCommand):
    help = (
        "Import members from a CSV file (email, phone, first_name, last_name, birth_date, "
        "language, marketing_consent, tags, external_id, joined_at): each bad row as "
        "'line N: reason', then 'imported N, skipped M, errors K'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every row, write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = ImportReport(on_problem=self.stdout.write)
        with Path(options["file"]).open("rb") as stream:
            import_file_run(
                kind="members",
                stream=stream,
                actor=Actor.system(),
                dry_run=options["dry_run"],
                report=report,
                file_name=options["file"],
            )
        self.stdout.write(report.summary)
