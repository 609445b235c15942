"""The nightly job of the predictions (run by beat and `manage.py run_jobs`)."""

from __future__ import annotations

from datetime import datetime, time

from django.utils import timezone

from analytics.predictions import predictions_refresh
from loyalty.jobs import job


def day_start(moment: datetime) -> datetime:
    """Midnight of `moment`'s day in the program's time zone."""
    return timezone.make_aware(
        datetime.combine(timezone.localtime(moment).date(), time.min),
        timezone.get_current_timezone(),
    )


@job("predictions")
def predictions(as_of: datetime) -> str:
    # Whole days only: every run of a day fits the same history and stores the same fit.
    return predictions_refresh(as_of=day_start(as_of))
