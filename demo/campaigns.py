"""The demo's campaigns (the campaigns app, layer 4), made by the marketer as
a real shop would: running now (weekend double points for every member, a
pastry bonus at two branches, a spend bonus with a budget and a hold-out, the
welcome and birthday bonuses, a review event capped per day, a referral
campaign), one scheduled
for the next festive season, one paused, one draft and one that ended. demo.referrals adds the
referrals made under "Bring a friend".

The demo's sales are replayed before campaigns exist in the sale flow, so
the sale campaigns' points awarded start at zero; the others have a little
history (`campaign_activity_create`): reviews and shares reported by the
tills over the last weeks, the month's birthdays and the last fortnight's
anniversaries paid by their jobs, and a walk-in enrolled today with the
welcome bonus."""

from __future__ import annotations

from datetime import datetime, timedelta

from campaigns.events import event_record
from campaigns.models import Campaign
from campaigns.moments import anniversaries_award, birthdays_award
from campaigns.services import campaign_create, campaign_status_set
from demo.members import Shopper
from demo.shop import Shop
from loyalty.actors import Actor
from loyalty.models import Store
from members.models import Tier
from members.selectors import member_get
from members.services import member_enrol

# name, kind, status, (start, end) in days from now, params, other fields
CAMPAIGNS: tuple[tuple[str, str, str, tuple[int, int | None], dict, dict], ...] = (
    ("Double points weekend", "multiplier", "scheduled", (-60, None),
     {"factor": "2.00", "days_of_week": [5, 6]}, {"stackable": True}),
    ("Pastry lovers: 5 points per RM1 on pastries", "category_bonus", "scheduled", (-20, 40),
     {"categories": ["pastries"], "points": 5, "per_amount": "1.00"},
     {"stores": ["bangsar", "mid-valley"], "per_member_cap": 200, "cap_period": "week"}),
    ("Spend RM80, get 100 bonus points", "spend_bonus", "scheduled", (-10, 50),
     {"min_spend": "80.00", "points": 100},
     {"budget_points": 50_000, "holdout_percent": 10, "stackable": False, "priority": 5}),
    ("Welcome bonus", "signup", "scheduled", (-365, None), {"points": 100}, {}),
    ("Happy birthday!", "birthday", "scheduled", (-365, None),
     {"points": 200, "when": "month"}, {}),
    ("A year with us: 150 points", "anniversary", "scheduled", (-365, None),
     {"points": 150}, {}),
    ("Review us, earn 20", "event", "scheduled", (-30, None),
     {"event": "review", "points": 20}, {"per_member_cap": 20, "cap_period": "day"}),
    ("Gold happy hour ×3", "multiplier", "paused", (-15, 30),
     {"factor": "3.00", "hours": ["15:00", "17:00"], "days_of_week": [0, 1, 2, 3, 4]},
     {"tiers": ["gold"]}),
    ("Festive gift boxes: triple points", "multiplier", "scheduled", (25, 55),
     {"factor": "3.00", "categories": ["gift boxes"]}, {"budget_points": 200_000}),
    ("Bring a friend", "referral", "scheduled", (-60, None),
     {"referrer_points": 500, "friend_points": 200, "min_spend": "30.00", "within_days": 30,
      "monthly_cap": 10}, {}),
    ("Download our app, earn 50", "event", "draft", (7, None),
     {"event": "app_download", "points": 50}, {"per_member_cap": 50, "cap_period": "campaign"}),
    ("Merdeka month: spend RM57, get 57 points", "spend_bonus", "ended", (-120, -90),
     {"min_spend": "57.00", "points": 57}, {}),
)  # fmt: skip


def campaigns_create(actor: Actor, *, now: datetime) -> list[Campaign]:
    """The campaigns above; the marketer's actor makes them (audited)."""
    made = []
    for name, kind, status, (start, end), params, extra in CAMPAIGNS:
        extra = dict(extra)
        tiers = list(Tier.objects.filter(code__in=extra.pop("tiers", [])))
        stores = list(Store.objects.filter(code__in=extra.pop("stores", [])))
        campaign = campaign_create(
            actor=actor,
            name=name,
            kind=kind,
            params=params,
            starts_at=now + timedelta(days=start),
            ends_at=now + timedelta(days=end) if end is not None else None,
            tiers=tiers,
            stores=stores,
            status="draft" if status in ("paused", "ended") else status,
            now=now,
            **extra,
        )
        if status == "paused":
            campaign = campaign_status_set(
                actor=actor, campaign=campaign, status="scheduled", now=now
            )
            campaign = campaign_status_set(actor=actor, campaign=campaign, status="paused", now=now)
        elif status == "ended":
            campaign = campaign_status_set(actor=actor, campaign=campaign, status="ended", now=now)
        made.append(campaign)
    return made


# What tills and the web shop report (name, share of shoppers, reviews a day count once).
EVENTS = (("review", 0.12), ("social_share", 0.06), ("app_download", 0.04))


def campaign_activity_create(shop: Shop, shoppers: list[Shopper]) -> None:
    """Events over the last 25 days (the named members among them), the jobs
    of birthdays (this month) and anniversaries (the last 14 days), and one
    member enrolled at the counter today, with their welcome bonus."""
    rng, now = shop.rng, shop.now
    for shopper in shoppers:
        # Reported by the till of their home store.
        till, store = shop.tills[shopper.home], shop.stores[shopper.home]
        for name, share in EVENTS:
            if not shopper.named and rng.random() >= share:
                continue
            for n in range(2 if shopper.named and name == "review" else 1):
                at = now - timedelta(days=rng.randint(1, 25), minutes=rng.randint(0, 600))
                member = member_get(public_id=shopper.member.public_id, with_account=False)
                event_record(
                    member=member,
                    name=name,
                    reference=f"{name}-{member.public_id}-{n}",
                    occurred_at=at,
                    actor=till,
                    store=store,
                    now=now,
                )
    for days_ago in range(14, -1, -1):
        anniversaries_award(as_of=now - timedelta(days=days_ago))
    birthdays_award(as_of=now)
    member_enrol(
        actor=Actor.system(),
        email="farah.hassan@example.com",
        phone="019-604 1187",
        first_name="Farah",
        last_name="Hassan",
        language="ms",
        home_store=shop.stores["bangsar"],
        now=now,
    )
