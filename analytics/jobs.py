"""Scheduled jobs of analytics (run by beat and `manage.py run_jobs`)."""

from __future__ import annotations

from datetime import datetime

from analytics.rollups import rollups_run
from analytics.surveys import survey_invitations_send
from loyalty.jobs import job


@job("survey_invitations")
def survey_invitations(as_of: datetime) -> str:
    return f"{survey_invitations_send(as_of=as_of)} survey invitations sent"


@job("rollups")
def rollups(as_of: datetime) -> str:
    return rollups_run(as_of=as_of)
