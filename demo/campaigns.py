"""The demo's campaigns (the campaigns app, layer 4), made by the marketer as
a real shop would: running now (weekend double points for every member, a
pastry bonus at two branches, a spend bonus with a budget and a hold-out, the
welcome and birthday bonuses, a review event capped per day, a referral
campaign), one scheduled
for the next festive season, one paused, one draft and one that ended. demo.referrals adds the
referrals made under "Bring a friend".

The demo's history is replayed before campaigns exist in the sale flow, so
their points awarded start at zero."""

from __future__ import annotations

from datetime import datetime, timedelta

from campaigns.models import Campaign
from campaigns.services import campaign_create, campaign_status_set
from loyalty.actors import Actor
from loyalty.models import Store
from members.models import Tier

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
