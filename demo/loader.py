"""`demo_load`: the demo shop, built app by app in the order of the layers,
then its history replayed (see the package's docstring)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from analytics.rollups import rollups_run
from demo.broadcasts import broadcasts_create
from demo.campaigns import campaign_activity_create, campaigns_create
from demo.challenges import challenges_create
from demo.loyalty import DEMO_LOGINS, staff_create, stores_and_program_create, tills_create
from demo.members import corrections_schedule, named_shoppers_enrol, shoppers_enrol, tiers_create
from demo.purchases import visits_schedule
from demo.referrals import referrals_create
from demo.rewards import catalogue_create, fresh_vouchers
from demo.segments import segments_create
from demo.shop import Shop
from demo.surveys import named_invitation_open, surveys_schedule
from loyalty.actors import Actor
from loyalty.models import User
from loyalty.notifications import deliveries_off
from loyalty.roles import Role

DEFAULT_MEMBERS = 200
DEFAULT_SEED = 2026


def demo_is_loaded() -> bool:
    return User.objects.filter(email=DEMO_LOGINS[0].email).exists()


@dataclass(frozen=True)
class DemoSummary:
    members: int
    purchases: int
    returns: int
    adjustments: int
    redemptions: int


def demo_load(
    *, members: int = DEFAULT_MEMBERS, seed: int = DEFAULT_SEED, now: datetime | None = None
) -> DemoSummary | None:
    """Load the demo shop unless it is there already: stores, program, tiers,
    staff logins, the two named members and `members` more, and about a year
    of their purchases, returns and corrections. Returns None if it was loaded
    already, else what it added.

    The members' inboxes fill as the history replays (welcome, tiers,
    redemptions, bonuses, referrals, each dated when it happened), but nothing
    is emailed or texted: a year of history is not a year of messages, and
    the tasks queued on commit still run inside `deliveries_off`."""
    with deliveries_off():
        return _demo_load(members=members, seed=seed, now=now)


@transaction.atomic
def _demo_load(*, members: int, seed: int, now: datetime | None) -> DemoSummary | None:
    if demo_is_loaded():
        return None
    actor = Actor.system()
    stores = stores_and_program_create(actor)
    staff = staff_create(actor, stores)
    tiers_create(actor)
    catalogue = catalogue_create(actor)
    shop = Shop(
        rng=random.Random(seed),  # noqa: S311 - the demo must repeat, not be secret
        now=now or timezone.now(),
        stores=stores,
        tills=tills_create(actor, stores),
        staff=staff,
        rewards=catalogue,
    )
    named = named_shoppers_enrol(shop)
    shoppers = named + shoppers_enrol(shop, count=members)
    visits_schedule(shop, shoppers)
    corrections_schedule(shop, shoppers)
    surveys_schedule(shop, shoppers)
    challenges_create(shop, shoppers)
    shop.replay()
    fresh_vouchers(shop, named)
    segments_create(shop)
    campaigns_create(staff[Role.MARKETER], now=shop.now)
    campaign_activity_create(shop, shoppers)
    referrals_create(shop, named=named)
    broadcasts_create(shop)
    named_invitation_open(shop, named)
    # The dashboards read the roll-ups: the year of history is rolled up once,
    # as the `rollups` job would have done it as the days went by.
    rollups_run(as_of=shop.now)
    return DemoSummary(
        members=len(shoppers),
        purchases=shop.purchases,
        returns=shop.returns,
        adjustments=shop.adjustments,
        redemptions=shop.redemptions,
    )
