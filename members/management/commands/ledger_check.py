"""`manage.py ledger_check`: verify every ledger invariant; non-zero exit naming
each account that breaks one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from members.checks import ledger_problems
from members.models import PointsAccount


class Command(BaseCommand):
    help = "Verify every invariant of the points ledger."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = ledger_problems()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} ledger problem(s) found.")
        self.stdout.write(f"Ledger sound: {PointsAccount.objects.count()} accounts checked.")
