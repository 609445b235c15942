"""`manage.py vapid_keys [--subject mailto:...]`: a new VAPID key pair for web
push, printed as the environment lines to set (docs/web-push.md).

Nothing is stored: the private key is shown once, here. Changing the pair
later makes every browser subscribe again (their subscriptions are tied to
the public key), so keep it with the other secrets.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty.webpush import vapid_keys_generate


class Command(BaseCommand):
    help = "Generate a VAPID key pair for web push and print the LOYALTY_VAPID_* lines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--subject",
            default="mailto:loyalty@example.com",
            help="how push services reach you: a mailto: or https: URL",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        subject = options["subject"].strip()
        if not subject.startswith(("mailto:", "https://")):
            raise CommandError("--subject must be a mailto: or https: URL.")
        public, private = vapid_keys_generate()
        self.stdout.write(f"LOYALTY_VAPID_PUBLIC_KEY={public}")
        self.stdout.write(f"LOYALTY_VAPID_PRIVATE_KEY={private}")
        self.stdout.write(f"LOYALTY_VAPID_SUBJECT={subject}")
