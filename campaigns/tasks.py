"""Celery tasks of campaigns: load by id, call a service."""

from __future__ import annotations

from celery import shared_task

from campaigns import referrals


@shared_task(name="campaigns.referral_settle")
def referral_settle_task(referral_id: int) -> str | None:
    """Pay or take back one referral (campaigns.referrals.referral_settle);
    idempotent, and the `referrals_settle` job catches any that is lost."""
    return referrals.referral_settle(referral_id=referral_id)
