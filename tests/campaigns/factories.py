"""Builders of campaigns for the tests: engine snapshots and stored campaigns."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from campaigns.engine import Audience, CampaignSnapshot, SaleContext, SaleLine
from campaigns.models import Campaign
from campaigns.params import params_clean, params_parse
from campaigns.services import campaign_create
from loyalty.actors import Actor

KL = ZoneInfo("Asia/Kuala_Lumpur")
SATURDAY = datetime(2026, 12, 5, 12, 0, tzinfo=KL)
MONDAY = datetime(2026, 12, 7, 12, 0, tzinfo=KL)
LONG_AGO = datetime(2026, 1, 1, tzinfo=KL)

DEFAULT_PARAMS = {
    "multiplier": {"factor": "2.00"},
    "category_bonus": {"categories": ["coffee"], "points": 5, "per_amount": "1.00"},
    "spend_bonus": {"min_spend": "100.00", "points": 50},
    "event": {"event": "review", "points": 20},
    "signup": {"points": 100},
    "birthday": {"points": 200, "when": "day"},
    "anniversary": {"points": 100},
    "referral": {
        "referrer_points": 500,
        "friend_points": 200,
        "min_spend": "50.00",
        "within_days": 30,
    },
}


def snap(id: int = 1, kind: str = "multiplier", params: dict[str, Any] | None = None, **kw: Any):
    """A live campaign snapshot (active since LONG_AGO, no end)."""
    clean = params_clean(kind, DEFAULT_PARAMS[kind] if params is None else params)
    values = {
        "id": id,
        "name": kw.pop("name", f"Campaign {id}"),
        "kind": kind,
        "status": "active",
        "starts_at": LONG_AGO,
        "ends_at": None,
        "params": params_parse(kind, clean),
        "created_at": LONG_AGO + timedelta(seconds=id),
    }
    values.update(kw)
    for name in ("tier_codes", "store_codes"):
        if name in values:
            values[name] = frozenset(values[name])
    return CampaignSnapshot(**values)


def line(
    sku: str = "SKU1",
    category: str = "general",
    amount: str = "100.00",
    points: int | None = None,
    earns: bool = True,
    quantity: int = 1,
) -> SaleLine:
    net = Decimal(amount)
    return SaleLine(
        sku=sku,
        category=category,
        quantity=quantity,
        net_amount=net,
        earns=earns,
        points=int(net) if points is None else points,
    )


def sale(
    *lines: SaleLine,
    member_id: int = 7,
    tier: str | None = None,
    segments: frozenset[int] = frozenset(),
    store: str = "klcc",
    at: datetime = MONDAY,
    points: int | None = None,
    eligible: str | None = None,
    first_purchase: bool = False,
) -> SaleContext:
    lines = lines or (line(),)
    return SaleContext(
        member=Audience(member_id=member_id, tier_code=tier, segment_ids=segments),
        store_code=store,
        at=at,
        lines=tuple(lines),
        eligible_amount=Decimal(eligible)
        if eligible is not None
        else sum((ln.net_amount for ln in lines if ln.earns), Decimal("0.00")),
        points=sum(ln.points for ln in lines if ln.earns) if points is None else points,
        first_purchase=first_purchase,
    )


def make_campaign(kind: str = "spend_bonus", **fields: Any) -> Campaign:
    fields.setdefault("name", f"{kind} campaign")
    fields.setdefault("params", DEFAULT_PARAMS.get(kind, {}))
    fields.setdefault("starts_at", timezone.now() - timedelta(days=1))
    fields.setdefault("status", "active")
    return campaign_create(actor=Actor.system(), kind=kind, **fields)
