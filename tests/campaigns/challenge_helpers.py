"""Helpers of the challenge tests: a challenge made through its service, and
a sale or return of a member's at a given time through the sale flow."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from campaigns.challenges import badge_create, challenge_create
from campaigns.models import Badge, Challenge
from loyalty.actors import Actor
from loyalty.selectors import program_settings_get
from members.models import Member
from purchases.inputs import LineInput, Recorded, SaleInput
from purchases.models import Purchase
from purchases.returns import purchase_return
from purchases.services import purchase_record


def make_badge(name: str = "Regular", **fields: Any) -> Badge:
    return badge_create(actor=Actor.system(), name=name, **fields)


def make_challenge(
    goal: str = "purchase_count", target: str = "3", *, starts_days_ago: int = 120, **fields: Any
) -> Challenge:
    fields.setdefault("name", f"{goal} {target}")
    fields.setdefault("reward_points", 100)
    fields.setdefault("opt_in", True)
    return challenge_create(
        actor=Actor.system(),
        goal=goal,
        target=Decimal(target),
        starts_at=timezone.now() - timedelta(days=starts_days_ago),
        status="active",
        **fields,
    )


def buy(
    member: Member,
    reference: str,
    at: datetime,
    *,
    amount: str = "10.00",
    sku: str = "TEA",
    category: str = "",
    store=None,
) -> Recorded:
    return purchase_record(
        sale=SaleInput(
            store=store or program_settings_get().main_store,
            reference=reference,
            member=Member.objects.select_related("account", "tier").get(pk=member.pk),
            occurred_at=at,
            items=[LineInput(sku=sku, quantity=1, unit_price=Decimal(amount), category=category)],
        ),
        actor=Actor.system(),
    )


def give_back(recorded: Recorded, reference: str, amount: str | None = None) -> Recorded:
    """Return `amount` of the sale, or all that is left of it."""
    purchase = Purchase.objects.get(pk=recorded.record_id)
    left = purchase.total - sum(purchase.returns.values_list("amount", flat=True))
    return purchase_return(
        purchase=purchase,
        reference=reference,
        actor=Actor.system(),
        amount=Decimal(amount) if amount is not None else left,
    )
