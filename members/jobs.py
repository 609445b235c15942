"""Scheduled jobs of the ledger and tiers (run by beat and `manage.py run_jobs`)."""

from __future__ import annotations

from datetime import datetime

from loyalty.jobs import job
from loyalty.selectors import program_settings_get
from members.ledger import points_expire_due, points_release_due
from members.notifications import points_expiry_remind
from members.points import points_expiring_emit
from members.rfm import rfm_compute
from members.tiers import tiers_review_all


@job("release_pending")
def release_pending(as_of: datetime) -> str:
    released = points_release_due(as_of=as_of, expiry_days=program_settings_get().expiry_days)
    return f"{released} pending lots released"


@job("expire_points")
def expire_points(as_of: datetime) -> str:
    return f"{points_expire_due(as_of=as_of)} points expired"


@job("review_tiers")
def review_tiers(as_of: datetime) -> str:
    return f"{tiers_review_all(as_of=as_of)} members changed tier"


@job("rfm")
def rfm(as_of: datetime) -> str:
    return f"{rfm_compute(as_of=as_of)} members scored for RFM"


@job("expiry_reminders")
def expiry_reminders(as_of: datetime) -> str:
    reminded = points_expiry_remind(as_of=as_of)
    told = points_expiring_emit(as_of=as_of)
    return f"{reminded} points expiry reminders, {told} expiring lots told to webhooks"
