"""Scheduled jobs of analytics (run by beat and `manage.py run_jobs`)."""

from __future__ import annotations

from datetime import datetime

from analytics.surveys import survey_invitations_send
from loyalty.jobs import job


@job("survey_invitations")
def survey_invitations(as_of: datetime) -> str:
    return f"{survey_invitations_send(as_of=as_of)} survey invitations sent"
