"""Scheduled jobs of campaigns (run by beat and `manage.py run_jobs`)."""

from __future__ import annotations

from datetime import datetime

from campaigns.broadcasts import broadcasts_start_due
from campaigns.challenges import challenge_rewards_owed
from campaigns.moments import anniversaries_award, birthdays_award
from campaigns.referrals import referrals_settle_due
from campaigns.services import campaigns_status_catch_up
from loyalty.jobs import job


@job("campaigns_status")
def campaigns_status(as_of: datetime) -> str:
    return f"{campaigns_status_catch_up(now=as_of)} campaigns started or ended"


@job("birthdays")
def birthdays(as_of: datetime) -> str:
    paid, points = birthdays_award(as_of=as_of)
    return f"{paid} members got {points} birthday points"


@job("anniversaries")
def anniversaries(as_of: datetime) -> str:
    paid, points = anniversaries_award(as_of=as_of)
    return f"{paid} members got {points} anniversary points"


@job("referrals_settle")
def referrals_settle(as_of: datetime) -> str:
    return f"{referrals_settle_due(now=as_of)} referrals paid, rejected or taken back"


@job("broadcasts_due")
def broadcasts_due(as_of: datetime) -> str:
    return f"{broadcasts_start_due(now=as_of)} scheduled broadcasts started"


@job("challenge_rewards")
def challenge_rewards(as_of: datetime) -> str:
    return f"{challenge_rewards_owed(now=as_of)} challenge reward vouchers issued that were owed"
