"""Helpers of the survey tests: sales recorded as a till records them, and
answers written through the survey service."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from itertools import count

from django.utils import timezone

from analytics.models import FeedbackSource, SurveyKind
from analytics.surveys import FeedbackRecorded, feedback_record, survey_settings_update
from loyalty.actors import Actor
from loyalty.models import Store
from members.models import Member
from purchases.inputs import LineInput, SaleInput
from purchases.models import Purchase
from purchases.services import purchase_record

_receipts = count(1)


def bought(
    member: Member | None,
    store: Store,
    *,
    at: datetime | None = None,
    recorded_at: datetime | None = None,
    amount: str = "20.00",
) -> Purchase:
    """A sale of `member` at `store` at `at`, recorded by a till at
    `recorded_at` (default: when it happened)."""
    at = at or timezone.now()
    recorded = purchase_record(
        sale=SaleInput(
            store=store,
            reference=f"R-{next(_receipts)}",
            member=member,
            occurred_at=at,
            items=[LineInput(sku="KOPI", quantity=1, unit_price=Decimal(amount))],
        ),
        actor=Actor.system(),
        now=at,
        recorded_at=recorded_at or at,
    )
    return Purchase.objects.select_related("store", "member").get(pk=recorded.record_id)


def answer(
    kind: str,
    score: int,
    *,
    member: Member | None = None,
    purchase: Purchase | None = None,
    store: Store | None = None,
    at: datetime | None = None,
    comment: str = "",
    source: str = FeedbackSource.TILL,
) -> FeedbackRecorded:
    return feedback_record(
        kind=kind,
        score=score,
        comment=comment,
        member=member,
        purchase=purchase,
        store=store,
        source=source,
        actor=Actor.system(),
        now=at,
    )


def surveys_on(**changes: object) -> None:
    """Both surveys inviting every purchase at once (unless `changes` say otherwise)."""
    for kind in SurveyKind.values:
        survey_settings_update(
            actor=Actor.system(),
            kind=kind,
            **{"enabled": True, "sample_percent": 100, "delay_hours": 0, **changes},
        )
