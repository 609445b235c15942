"""Scheduled jobs of campaigns (run by beat and `manage.py run_jobs`)."""

from __future__ import annotations

from datetime import datetime

from campaigns.services import campaigns_status_catch_up
from loyalty.jobs import job


@job("campaigns_status")
def campaigns_status(as_of: datetime) -> str:
    return f"{campaigns_status_catch_up(now=as_of)} campaigns started or ended"
