"""Fill the benchmark database through the services, as a real program would be set up.

Run by `earn_api.py` in a child process with DATABASE_URL pointing at the
benchmark database (never at the shared test database). Prints one JSON line:
the members' public ids, so the load clients can name them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def seed(*, members: int) -> list[str]:
    """Program settings, one store, two tiers and `members` members; returns their public ids."""
    from loyalty.actors import Actor
    from loyalty.services import program_settings_update, store_create
    from members.services import member_enrol
    from members.tiers import tier_create

    actor = Actor.system()
    program_settings_update(
        actor=actor,
        earn_points=1,
        earn_per_amount=Decimal("1.00"),
        point_value=Decimal("0.01"),
        pending_days=0,
        expiry_days=365,
    )
    store = store_create(actor=actor, code="bench", name="Bench store")
    tier_create(actor=actor, code="classic", name="Classic", threshold=Decimal("0"))
    # A tier out of reach keeps the upgrade check honest (it must compare, not just return).
    tier_create(
        actor=actor,
        code="gold",
        name="Gold",
        threshold=Decimal("100000000"),
        multiplier=Decimal("1.50"),
    )
    ids = []
    for n in range(members):
        member = member_enrol(
            actor=actor,
            email=f"bench{n}@example.com",
            first_name="Bench",
            last_name=str(n),
            home_store=store,
        )
        ids.append(member.public_id)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, required=True)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").endswith("/setia_bench"):
        sys.exit("seed.py only writes to the setia_bench database (set DATABASE_URL).")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    import django

    django.setup()
    sys.stdout.write(json.dumps({"members": seed(members=args.members)}) + "\n")


if __name__ == "__main__":
    main()
