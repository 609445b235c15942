"""Helpers for the rewards tests: rewards and points made through the services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.selectors import program_settings_get
from members.ledger import Source
from members.models import EntryKind, Member
from members.points import points_earn
from rewards.models import Reward, RewardKind
from rewards.services import reward_create


def make_reward(**fields: Any) -> Reward:
    """A RM10-off voucher reward for 500 points, unless told otherwise."""
    values: dict[str, Any] = {
        "name": "RM10 off",
        "kind": RewardKind.DISCOUNT_FIXED,
        "points_cost": 500,
        "value": "10.00",
    }
    values.update(fields)
    return reward_create(actor=Actor.system(), **values)


def fund(member: Member, points: int, *, now: datetime | None = None) -> None:
    """Give the member `points` spendable points."""
    now = now or timezone.now()
    points_earn(
        member=member,
        points=points,
        kind=EntryKind.BONUS,
        description="Opening",
        source=Source("test", str(points)),
        occurred_at=now,
        now=now,
        program=program_settings_get(),
    )


@pytest.fixture
def rich_shopper(shopper: Member) -> Member:
    """The shopper with 2,000 spendable points."""
    fund(shopper, 2000)
    return shopper
