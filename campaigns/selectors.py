"""Reads of campaigns: one campaign or a list for the API and the pages, the
snapshots the engine evaluates, and the figures of what each awarded.

Status is stored, and read as it is at `now`: a stored `scheduled` campaign is
`active` from its `starts_at`, a `scheduled` or `active` one is `ended` from
its `ends_at` (`campaign_status_effective`). The `campaigns_status` job
(campaigns.jobs) then writes that state, so the stored one catches up; every
reader goes through this function, so nothing depends on when the job ran.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet, Sum

from campaigns.engine import CampaignSnapshot
from campaigns.errors import CampaignNotFound
from campaigns.models import Campaign, CampaignStatus
from campaigns.params import params_parse
from members.models import PointsEntry

# The ledger's source type of campaign awards (API.md: {"type": "campaign", "id"}).
SOURCE_TYPE = "campaign"


def campaign_status_effective(
    *, status: str, starts_at: datetime, ends_at: datetime | None, now: datetime
) -> str:
    if status in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):
        if ends_at is not None and now >= ends_at:
            return CampaignStatus.ENDED
        if status == CampaignStatus.SCHEDULED and now >= starts_at:
            return CampaignStatus.ACTIVE
    return status


def campaign_status(*, campaign: Campaign, now: datetime) -> str:
    return campaign_status_effective(
        status=campaign.status, starts_at=campaign.starts_at, ends_at=campaign.ends_at, now=now
    )


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.prefetch_related("tiers", "stores").order_by("-starts_at", "-id")


def campaign_get(*, campaign_id: int) -> Campaign:
    """Raises CampaignNotFound."""
    campaign = campaign_list().filter(pk=campaign_id).first()
    if campaign is None:
        raise CampaignNotFound()
    return campaign


def campaign_snapshot(campaign: Campaign) -> CampaignSnapshot:
    """The engine's view of `campaign` (its tiers and stores prefetched)."""
    return CampaignSnapshot(
        id=campaign.pk,
        name=campaign.name,
        kind=campaign.kind,
        status=campaign.status,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        params=params_parse(campaign.kind, campaign.params),
        tier_codes=frozenset(tier.code for tier in campaign.tiers.all()),
        segment_id=campaign.segment_id,
        store_codes=frozenset(store.code for store in campaign.stores.all()),
        budget_points=campaign.budget_points,
        per_member_cap=campaign.per_member_cap,
        cap_period=campaign.cap_period,
        stackable=campaign.stackable,
        priority=campaign.priority,
        holdout_percent=campaign.holdout_percent,
        created_at=campaign.created_at,
    )


def campaigns_active(
    *, now: datetime, kinds: Iterable[str] | None = None
) -> list[CampaignSnapshot]:
    """Snapshots of the campaigns live at `now` (scheduled or active, started,
    not ended), optionally of some kinds: three statements (the campaigns,
    their tiers, their stores), whatever their number. The engine checks the
    window again at the sale's own time, so the list can be cached for a
    while (a campaign that starts meanwhile is picked up at the next refresh).
    """
    live = (
        Campaign.objects.filter(
            status__in=[CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE], starts_at__lte=now
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .prefetch_related("tiers", "stores")
        .order_by("pk")
    )
    if kinds is not None:
        live = live.filter(kind__in=list(kinds))
    return [campaign_snapshot(campaign) for campaign in live]


@dataclass(frozen=True)
class CampaignFigures:
    points_awarded: int = 0
    members_reached: int = 0


def campaign_figures(*, campaign_ids: Iterable[int]) -> dict[int, CampaignFigures]:
    """What each campaign awarded, net of reversals, and to how many members,
    read from the ledger's entries of source ("campaign", id): one statement."""
    ids = [str(pk) for pk in campaign_ids]
    rows = (
        PointsEntry.objects.filter(source_type=SOURCE_TYPE, source_id__in=ids)
        .values("source_id")
        .annotate(points=Sum("points"), members=Count("member", distinct=True))
        .order_by()
    )
    return {
        int(row["source_id"]): CampaignFigures(row["points"] or 0, row["members"]) for row in rows
    }
