"""`manage.py load_demo_data`: the demo shop of `make run`, loaded once; prints the logins."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from demo.loader import DEFAULT_MEMBERS, DEFAULT_SEED, demo_load
from demo.loyalty import DEMO_LOGINS


class Command(BaseCommand):
    help = "Load the demo shop (once) with about a year of history, and print the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--members",
            type=int,
            default=DEFAULT_MEMBERS,
            help=f"members besides the two named demo members (default {DEFAULT_MEMBERS})",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help=f"seed of the random choices (default {DEFAULT_SEED})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        summary = demo_load(members=max(0, options["members"]), seed=options["seed"])
        if summary is not None:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo data loaded: {summary.members} members, {summary.purchases} purchases, "
                    f"{summary.returns} returns, {summary.adjustments} corrections, "
                    f"{summary.redemptions} rewards redeemed."
                )
            )
        else:
            self.stdout.write("Demo data already loaded; left as it is.")
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_LOGINS[0].password})")
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.role:<12} {login.email}")
