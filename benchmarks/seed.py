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


def seed(*, members: int, campaigns: bool = False, challenges: bool = False) -> list[str]:
    """Program settings, one store, two tiers and `members` members (and, with
    `campaigns`, three live sale campaigns; with `challenges`, two live
    challenges every member takes part in); returns their public ids."""
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
    if campaigns:
        _campaigns_seed(actor)
    if challenges:
        _challenges_seed(actor)
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


def _campaigns_seed(actor: object) -> None:
    """What a marketer runs on an ordinary week: double points every day, a
    bonus on a category the load's baskets hold, and a spend bonus with a
    budget large enough to last the run (every sale locks and updates it)."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.services import campaign_create

    start = timezone.now() - timedelta(days=1)
    common = {"actor": actor, "starts_at": start, "status": "active"}
    campaign_create(kind="multiplier", name="Double points", params={"factor": "2.00"}, **common)
    campaign_create(
        kind="category_bonus",
        name="Snacks bonus",
        params={"categories": ["snacks"], "points": 2, "per_amount": "1.00"},
        **common,
    )
    campaign_create(
        kind="spend_bonus",
        name="Big basket",
        params={"min_spend": "50.00", "points": 20},
        budget_points=1_000_000_000,
        **common,
    )


def _challenges_seed(actor: object) -> None:
    """Two automatic challenges for everyone, out of reach for the run, so
    every sale moves both (a read of the member's participations and one
    upsert): a spend goal and a weekly streak with a freeze and milestones."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.challenges import challenge_create

    common = {
        "actor": actor,
        "starts_at": timezone.now() - timedelta(days=1),
        "status": "active",
        "opt_in": False,
        "reward_points": 500,
    }
    challenge_create(name="Big spender", goal="spend", target=Decimal("99999999.00"), **common)
    challenge_create(
        name="Every week",
        goal="weekly_streak",
        target=Decimal("52"),
        streak_freezes=1,
        streak_milestones=[{"weeks": 12, "points": 100}],
        **common,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, required=True)
    parser.add_argument("--campaigns", action="store_true")
    parser.add_argument("--challenges", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").endswith("/setia_bench"):
        sys.exit("seed.py only writes to the setia_bench database (set DATABASE_URL).")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    import django

    django.setup()
    sys.stdout.write(
        json.dumps(
            {
                "members": seed(
                    members=args.members, campaigns=args.campaigns, challenges=args.challenges
                )
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
