"""Scheduled jobs of rewards (run by beat and `manage.py run_jobs`)."""

from __future__ import annotations

from datetime import datetime

from loyalty.jobs import job
from rewards.services import voucher_expiry_remind, vouchers_expire_due


@job("expire_vouchers")
def expire_vouchers(as_of: datetime) -> str:
    return f"{vouchers_expire_due(as_of=as_of)} vouchers expired"


@job("voucher_reminders")
def voucher_reminders(as_of: datetime) -> str:
    return f"{voucher_expiry_remind(as_of=as_of)} voucher expiry reminders"
