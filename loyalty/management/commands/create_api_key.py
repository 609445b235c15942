"""`manage.py create_api_key NAME --scopes pos,admin [--store CODE]`.

Prints the key once, alone on the last line, so scripts can take `tail -n 1`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.selectors import store_get
from loyalty.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key and print it (it is shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--scopes", default="pos", help="comma-separated: pos, admin")
        parser.add_argument(
            "--store",
            help="code of the store a pos key acts for (its sales, purchases and returns)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        store = None
        if options["store"]:
            store = store_get(code=options["store"])
            if store is None:
                raise CommandError(f"No store with code {options['store']!r}.")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            issued = api_key_create(
                actor=Actor.system(), name=options["name"], scopes=scopes, store=store
            )
        except ValidationFailed as exc:
            raise CommandError(f"{exc.message} {exc.fields or ''}".strip()) from exc
        self.stdout.write(
            f"Created API key {issued.api_key.name!r} (prefix {issued.api_key.prefix}, "
            f"scopes {','.join(issued.api_key.scopes)}). Store it now; it is not shown again:"
        )
        self.stdout.write(issued.key)
