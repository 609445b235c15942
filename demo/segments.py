"""The demo's segments (the members app, layer 2) and the RFM scores of its
history: the groups a marketer of a kopitiam chain would keep, one of them
targeted by a reward only its members can redeem."""

from __future__ import annotations

from demo.shop import Shop
from loyalty.actors import Actor
from members.models import Segment
from members.rfm import rfm_compute
from members.segments import segment_create
from rewards.models import RewardKind
from rewards.services import reward_create

SEGMENTS: tuple[tuple[str, str, dict], ...] = (
    (
        "Lapsed Silver and Gold members",
        "Our upper tiers, not seen for more than two weeks.",
        {
            "all": [
                {"field": "tier", "op": "in", "value": ["silver", "gold"]},
                {"field": "days_since_last_purchase", "op": "gt", "value": 14},
            ]
        },
    ),
    (
        "Big spenders this year",
        "RM 1,000 or more in the last 365 days, net of returns.",
        {"all": [{"field": "spend", "op": "gte", "value": "1000.00", "days": 365}]},
    ),
    (
        "Champions and loyal regulars",
        "The best of the RFM map.",
        {"all": [{"field": "rfm_class", "op": "in", "value": ["champions", "loyal"]}]},
    ),
    (
        "Win-back: at risk",
        "Used to come often; slipping away. Only those who accept offers.",
        {
            "all": [
                {"field": "rfm_class", "op": "in", "value": ["at_risk", "cannot_lose"]},
                {"field": "marketing_consent", "op": "eq", "value": True},
            ]
        },
    ),
    (
        "Penang office crowd",
        "Tagged office, or buying at least weekly, with Penang as their home store.",
        {
            "all": [
                {"field": "home_store", "op": "eq", "value": "penang"},
                {
                    "any": [
                        {"field": "tags", "op": "contains", "value": "office"},
                        {"field": "purchase_count", "op": "gte", "value": 4, "days": 30},
                    ]
                },
            ]
        },
    ),
)


def segments_create(shop: Shop) -> list[Segment]:
    """Score the history as the nightly job would tonight, then save the
    segments and a reward for the champions."""
    actor = Actor.system()
    rfm_compute(as_of=shop.now)
    segments = [
        segment_create(actor=actor, name=name, description=description, rules=rules)
        for name, description, rules in SEGMENTS
    ]
    reward_create(
        actor=actor,
        name="Setia tote bag for our regulars",
        description="A canvas tote, for members in our Champions and loyal regulars segment.",
        kind=RewardKind.EXPERIENCE,
        points_cost=400,
        value="25.00",
        segment=segments[2],
        voucher_valid_days=60,
    )
    return segments
