"""Celery tasks of campaigns: load by id, call a service."""

from __future__ import annotations

from celery import shared_task

from campaigns import broadcasts, referrals


@shared_task(name="campaigns.referral_settle")
def referral_settle_task(referral_id: int) -> str | None:
    """Pay or take back one referral (campaigns.referrals.referral_settle);
    idempotent, and the `referrals_settle` job catches any that is lost."""
    return referrals.referral_settle(referral_id=referral_id)


@shared_task(name="campaigns.broadcast_batch_send")
def broadcast_batch_send_task(batch_id: int) -> str:
    """Tell one batch of a broadcast's members (campaigns.broadcasts.
    broadcast_batch_send): once, however often this task runs; the
    `broadcasts_due` job queues again a batch whose task was lost."""
    return broadcasts.broadcast_batch_send(batch_id=batch_id)


@shared_task(name="campaigns.challenge_reward_grant")
def challenge_reward_grant_task(award_id: int) -> int | None:
    """Issue a completed challenge's catalogue reward (campaigns.challenges.
    challenge_reward_grant): once, however often this task runs."""
    from campaigns.challenges import challenge_reward_grant

    return challenge_reward_grant(award_id=award_id)
