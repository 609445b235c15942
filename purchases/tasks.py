"""Celery tasks of purchases: a long back-test (purchases.backtest)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from campaigns.models import Campaign
from loyalty.actors import Actor
from loyalty.models import User
from loyalty.selectors import program_settings_get
from purchases.backtest import BacktestRange, campaign_backtest
from purchases.models import BacktestStatus, CampaignBacktest


@shared_task(name="purchases.campaign_backtest_run")
def campaign_backtest_run(run_id: int, user_id: int | None = None, ip: str | None = None) -> None:
    """Run the back-test of a status row (backtest_start) that is still
    queued: it writes its progress as it goes, then its result; a failure
    marks the row failed (and is raised, so the worker logs it)."""
    updated = CampaignBacktest.objects.filter(pk=run_id, status=BacktestStatus.QUEUED).update(
        status=BacktestStatus.RUNNING
    )
    if not updated:
        return
    run = CampaignBacktest.objects.get(pk=run_id)
    campaign = Campaign.objects.prefetch_related("tiers", "stores").get(pk=run.campaign_id)
    user = User.objects.filter(pk=user_id).first() if user_id is not None else None
    try:
        campaign_backtest(
            actor=Actor(user=user, ip=ip),
            campaign=campaign,
            window=BacktestRange(run.starts_at, run.ends_at),
            program=program_settings_get(),
            run=run,
        )
    except Exception:
        CampaignBacktest.objects.filter(pk=run_id).update(
            status=BacktestStatus.FAILED, finished_at=timezone.now()
        )
        raise
