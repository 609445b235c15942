"""`manage.py import_purchases FILE.csv [--dry-run] [--no-points]` (API.md "Operations")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from loyalty.actors import Actor
from loyalty.imports import ImportReport, import_file_run


class Command(BaseCommand):
    help = (
        "Import past purchases from a CSV file, one row a line item (store, reference, "
        "occurred_at, member, sku, name, category, quantity, unit_price, earns, discount): "
        "each bad row as 'line N: reason', then 'imported N, skipped M, errors K'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every row, write nothing."
        )
        parser.add_argument(
            "--no-points",
            action="store_true",
            help="Purchases and lines only: no points, no tier activity (bulk COPY on PostgreSQL).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = ImportReport(on_problem=self.stdout.write)
        with Path(options["file"]).open("rb") as stream:
            import_file_run(
                kind="purchases",
                stream=stream,
                actor=Actor.system(),
                dry_run=options["dry_run"],
                no_points=options["no_points"],
                report=report,
                file_name=options["file"],
            )
        self.stdout.write(report.summary)
