"""The demo's challenges and badges (campaigns, layer 4), made by the marketer
before the year's history replays, so the sales move them as they happened:

- "Three kopi in a month" (opt-in, 30 days from joining, again and again):
  the Kopi regular badge and 100 points. About a third of the shoppers join
  it at some visit of the last three months; Aisyah joined before her last
  two visits (2 of 3, in progress), Wei Ling before her last three
  (completed, the badge on her wall).
- "Visit two of our kopitiams" (every member, this quarter): the Kopitiam
  explorer badge and 200 points; most shoppers keep to their home shop.
- "Four weeks in a row" (opt-in, a missed week forgiven): the On fire badge
  and 150 points; the weekly regulars complete it, the others break it
  (Wei Ling's broke in October: she is off its leaderboard).
- "Pastry month" (opt-in, RM 50 on pastries this month): Pastry lover and
  80 points.
- "Review us three times" (a draft the marketer is still working on).

Members with a nickname (a score of shoppers and Wei Ling, never Aisyah,
whose leaderboard page shows the opt-in form) fill the leaderboards.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from campaigns.challenges import badge_create, challenge_create, challenge_join, leaderboard_join
from campaigns.errors import ChallengeNotJoinable
from campaigns.models import Challenge
from demo.members import Shopper
from demo.shop import Shop
from loyalty.roles import Role

# name, icon, rarity, description
BADGES = (
    ("Kopi regular", "coffee", "common", "Three visits in a month: you know the way."),
    ("Kopitiam explorer", "map", "rare", "Had your kopi at two of our shops, or all three."),
    ("On fire", "flame", "epic", "A visit every week, four weeks running."),
    ("Pastry lover", "heart", "rare", "RM 50 of our pastries in one month."),
)  # fmt: skip

# name, goal, target, (start, end) in days from now, badge, points, other fields
CHALLENGES: tuple[tuple[str, str, str, tuple[int, int | None], str | None, int, dict], ...] = (
    ("Three kopi in a month", "purchase_count", "3", (-90, None), "Kopi regular", 100,
     {"rolling_days": 30, "repeatable": True, "leaderboard": True,
      "description": "Come by three times within 30 days of joining. Again and again."}),
    ("Visit two of our kopitiams", "stores_visited", "2", (-60, 30), "Kopitiam explorer", 200,
     {"opt_in": False, "leaderboard": True,
      "description": "Bangsar, Mid Valley or Gurney: a kopi at two of them this quarter."}),
    ("Four weeks in a row", "weekly_streak", "4", (-75, None), "On fire", 150,
     {"streak_freezes": 1, "leaderboard": True,
      "description": "Buy something every week. Miss one week and the streak holds."}),
    ("Pastry month", "category_spend", "50.00", (-25, 5), "Pastry lover", 80,
     {"categories": ["pastries"],
      "description": "Egg tarts, curry puffs, chiffon: RM 50 of them this month."}),
    ("Review us three times", "event_count", "3", (10, 40), None, 60,
     {"event": "review", "status": "draft"}),
)  # fmt: skip

NICKNAMES = (
    "KopiKaki", "TehTarikFan", "KayaQueen", "PandanPal", "MiloDino", "CurryPuffHero",
    "EggTartEd", "LibericaLad", "NasiLemakNinja", "KopiPengPro", "ChamChamp", "OndeOnde",
    "WhiteCoffeeWiz", "HalfBoiledHal", "GulaGuru", "RotiRider", "SambalSam", "ToastMaster",
    "BeanCounter", "PengPengPeng",
)  # fmt: skip
# Share of the shoppers who join each opt-in challenge.
JOIN_SHARE = {"Three kopi in a month": 0.35, "Four weeks in a row": 0.2, "Pastry month": 0.15}


def challenges_create(shop: Shop, shoppers: list[Shopper]) -> list[Challenge]:
    """The badges and challenges above, made by the marketer; the joins
    scheduled on the shop's timeline, the nicknames chosen."""
    actor, now = shop.staff[Role.MARKETER], shop.now
    badges = {
        name: badge_create(actor=actor, name=name, icon=icon, rarity=rarity, description=text)
        for name, icon, rarity, text in BADGES
    }
    made = []
    for name, goal, target, (start, end), badge, points, extra in CHALLENGES:
        extra = dict(extra)
        made.append(
            challenge_create(
                actor=actor,
                name=name,
                goal=goal,
                target=Decimal(target),
                starts_at=now + timedelta(days=start),
                ends_at=now + timedelta(days=end) if end is not None else None,
                badge=badges[badge] if badge else None,
                reward_points=points,
                status=extra.pop("status", "scheduled"),
                now=now,
                **extra,
            )
        )
    by_name = {challenge.name: challenge for challenge in made}
    _joins_schedule(shop, shoppers, by_name)
    _nicknames_choose(shop, shoppers)
    return made


def _joins_schedule(shop: Shop, shoppers: list[Shopper], challenges: dict[str, Challenge]) -> None:
    rng, now = shop.rng, shop.now
    aisyah, wei_ling = shoppers[0], shoppers[1]
    regular = challenges["Three kopi in a month"]
    # The day before a visit: the visit's sale, whatever its hour, counts.
    aisyah_visits = [v for v in aisyah.visits if v < now]
    if len(aisyah_visits) >= 2:
        # Aisyah: before her last two visits, so 2 of 3.
        _join_at(shop, aisyah, regular, aisyah_visits[-2] - timedelta(days=1))
    wei_ling_visits = [v for v in wei_ling.visits if v < now]
    if len(wei_ling_visits) >= 3:
        # Wei Ling: before her last three, so completed (they are weeks apart at most).
        _join_at(shop, wei_ling, regular, wei_ling_visits[-3] - timedelta(days=1))
    _join_at(shop, wei_ling, challenges["Four weeks in a row"], now - timedelta(days=60))
    for shopper in shoppers[2:]:
        for name, share in JOIN_SHARE.items():
            if rng.random() >= share:
                continue
            challenge = challenges[name]
            recent = [v for v in shopper.visits if challenge.starts_at < v < now]
            if recent:
                # Joined in the portal on the morning of one of their visits.
                _join_at(shop, shopper, challenge, rng.choice(recent) - timedelta(minutes=30))


def _join_at(shop: Shop, shopper: Shopper, challenge: Challenge, when: datetime) -> None:
    def join(at: datetime) -> None:
        try:
            challenge_join(member=shopper.member, challenge=challenge, now=at)
        except ChallengeNotJoinable:
            # Before the challenge started (an early visit): they did not see it yet.
            return

    if when > challenge.starts_at:
        shop.at(when, join)


def _nicknames_choose(shop: Shop, shoppers: list[Shopper]) -> None:
    leaderboard_join(member=shoppers[1].member, nickname="LingLovesKopi")
    others = shop.rng.sample(shoppers[2:], k=min(len(NICKNAMES), len(shoppers) - 2))
    for shopper, nickname in zip(others, NICKNAMES, strict=False):
        leaderboard_join(member=shopper.member, nickname=nickname)
