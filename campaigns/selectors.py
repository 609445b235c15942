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

from django.db.models import Count, Q, QuerySet, Sum, Value
from django.db.models.functions import StrIndex, Substr
from django.utils import timezone

from campaigns import engine
from campaigns.engine import (
    Audience,
    CampaignSnapshot,
    EventContext,
    EventParams,
    LimitLeft,
    MemberContext,
    Params,
)
from campaigns.errors import CampaignNotFound
from campaigns.models import (
    SALE_KINDS,
    Campaign,
    CampaignKind,
    CampaignMemberUse,
    CampaignStatus,
)
from campaigns.params import params_parse
from members.models import Member, MemberStatus, PointsEntry
from members.segments import member_in_segments

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
    return [campaign_snapshot(campaign) for campaign in _campaigns_live(now=now, kinds=kinds)]


def _campaigns_live(*, now: datetime, kinds: Iterable[str] | None) -> QuerySet[Campaign]:
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
    return live


@dataclass(frozen=True)
class CampaignFigures:
    points_awarded: int = 0
    members_reached: int = 0


def campaign_figures(*, campaign_ids: Iterable[int]) -> dict[int, CampaignFigures]:
    """What each campaign awarded and to how many members, from the ledger:
    the entries of source ("campaign", id) (events, enrolments, birthdays,
    referrals), net of their reversals, and the sale awards, which are
    entries of their sale (so that a return takes back its share with the
    rest) keyed `purchase:<sale>:campaign:<id>`, as awarded. Two statements.
    A campaign is of one kind, so no member is counted under both."""
    ids = [str(pk) for pk in campaign_ids]
    figures: dict[int, CampaignFigures] = {}
    if not ids:
        return figures
    rows = (
        PointsEntry.objects.filter(source_type=SOURCE_TYPE, source_id__in=ids)
        .values("source_id")
        .annotate(points=Sum("points"), members=Count("member", distinct=True))
        .order_by()
    )
    for row in rows:
        figures[int(row["source_id"])] = CampaignFigures(row["points"] or 0, row["members"])
    marker = ":campaign:"
    awarded = (
        PointsEntry.objects.filter(
            idempotency_key__startswith="purchase:", idempotency_key__contains=marker
        )
        .annotate(
            campaign=Substr(
                "idempotency_key", StrIndex("idempotency_key", Value(marker)) + len(marker)
            )
        )
        .filter(campaign__in=ids)
        .values("campaign")
        .annotate(points=Sum("points"), members=Count("member", distinct=True))
        .order_by()
    )
    for row in awarded:
        pk = int(row["campaign"])
        before = figures.get(pk, CampaignFigures())
        figures[pk] = CampaignFigures(
            before.points_awarded + (row["points"] or 0), before.members_reached + row["members"]
        )
    return figures


def member_audience(
    *, member: Member, campaigns: Iterable[CampaignSnapshot], now: datetime
) -> Audience:
    """The member as the engine's audience rules see them: their tier and,
    only when a campaign has a segment, the segments of those campaigns they
    are in (two statements; none when no campaign has one)."""
    segment_ids = {c.segment_id for c in campaigns if c.segment_id is not None}
    tier = member.tier if member.tier_id else None
    return Audience(
        member_id=member.pk,
        tier_code=tier.code if tier is not None else None,
        segment_ids=frozenset(
            member_in_segments(member=member, segment_ids=segment_ids, now=now)
            if segment_ids
            else ()
        ),
    )


@dataclass(frozen=True)
class WayToEarn:
    """A live campaign the member can still earn from (the portal's "Ways to earn")."""

    campaign_id: int
    name: str
    kind: str
    points: int
    event: str | None = None


# The member's own moments pay once a year: the ledger key prefix of each (campaigns.moments).
YEARLY_KEYS = {CampaignKind.BIRTHDAY: "birthday", CampaignKind.ANNIVERSARY: "anniversary"}


def campaigns_to_earn(*, member: Member, now: datetime) -> list[WayToEarn]:
    """The live event, birthday and anniversary campaigns `member` can still
    earn from now: in their audience, not held out, with budget and cap left
    (an award shown cut to what is left), a birthday or anniversary not paid
    yet this year (a birthday only when the member gave theirs). The welcome
    bonus is not among them: a member has joined already. At most six
    statements, one when no such campaign is live."""
    campaigns = campaigns_active(
        now=now, kinds=[CampaignKind.EVENT, CampaignKind.BIRTHDAY, CampaignKind.ANNIVERSARY]
    )
    if member.birth_date is None:
        campaigns = [c for c in campaigns if c.kind != CampaignKind.BIRTHDAY]
    if not campaigns:
        return []
    at = timezone.localtime(now)
    paid = set(
        PointsEntry.objects.filter(
            member=member,
            idempotency_key__in=[
                f"{YEARLY_KEYS[c.kind]}:{c.id}:{member.pk}:{at.year}"
                for c in campaigns
                if c.kind in YEARLY_KEYS
            ],
        ).values_list("idempotency_key", flat=True)
    )
    campaigns = [
        c
        for c in campaigns
        if c.kind not in YEARLY_KEYS
        or f"{YEARLY_KEYS[c.kind]}:{c.id}:{member.pk}:{at.year}" not in paid
    ]
    budgets = {
        pk: (budget, used)
        for pk, budget, used in Campaign.objects.filter(
            pk__in=[c.id for c in campaigns if c.budget_points is not None]
        ).values_list("pk", "budget_points", "budget_used")
    }
    keys = {c.id: engine.cap_period_key(c.cap_period, at) for c in campaigns if c.per_member_cap}
    period_match = Q()
    for campaign_id, key in keys.items():
        period_match |= Q(campaign_id=campaign_id, period_key=key)
    used = dict(
        CampaignMemberUse.objects.filter(period_match, member=member).values_list(
            "campaign_id", "points"
        )
    ) if keys else {}  # fmt: skip
    limits_left: dict[int, LimitLeft] = {}
    for c in campaigns:
        lefts = []
        if c.id in budgets and budgets[c.id][0] is not None:
            lefts.append(LimitLeft(max(0, budgets[c.id][0] - budgets[c.id][1]), engine.BUDGET))
        if c.id in keys:
            lefts.append(LimitLeft(max(0, c.per_member_cap - used.get(c.id, 0)), engine.CAP))
        if lefts:
            limits_left[c.id] = min(lefts, key=lambda left: left.points)
    audience = member_audience(member=member, campaigns=campaigns, now=now)
    store = member.home_store.code if member.home_store_id else None
    ways = []
    for c in campaigns:
        if isinstance(c.params, EventParams):
            evaluation = engine.event_evaluate(
                EventContext(member=audience, event=c.params.event, at=at, store_code=store),
                [c],
                limits_left=limits_left,
            )
        else:
            evaluation = engine.member_evaluate(
                MemberContext(member=audience, at=at, store_code=store),
                [c],
                kind=c.kind,
                limits_left=limits_left,
            )
        for award in evaluation.awards:
            event = c.params.event if isinstance(c.params, EventParams) else None
            ways.append(WayToEarn(c.id, c.name, c.kind, award.points, event))
    return sorted(ways, key=lambda way: (-way.points, way.name))


@dataclass(frozen=True)
class SaleOffer:
    """A live sale campaign (multiplier, category or spend bonus) the member
    is in now: the portal's "Your offers now". `rule` is the campaign's
    params as stored (categories as the marketer typed them), `params` as the
    engine reads them."""

    campaign_id: int
    name: str
    kind: str
    params: Params
    rule: dict
    ends_at: datetime | None
    store_names: tuple[str, ...] = ()


def sale_offers_for_member(*, member: Member, now: datetime) -> list[SaleOffer]:
    """The live sale campaigns `member` is in at `now`: in their audience
    (tiers, segment), not in the hold-out (a held-out member is never told of
    the campaign), with budget left and their cap not used up in the current
    period. Days, hours, minimum spend and line filters are not checked: they
    are what the offer says. At most six statements (the campaigns, their
    tiers, their stores; the segments when a campaign has one; the member's
    cap use when a campaign has a cap), one when no sale campaign is live."""
    if member.status != MemberStatus.ACTIVE:
        return []
    campaigns = list(_campaigns_live(now=now, kinds=SALE_KINDS))
    if not campaigns:
        return []
    snapshots = {c.pk: campaign_snapshot(c) for c in campaigns}
    audience = member_audience(member=member, campaigns=snapshots.values(), now=now)
    at = timezone.localtime(now)
    kept = []
    for campaign in campaigns:
        snapshot = snapshots[campaign.pk]
        if snapshot.tier_codes and audience.tier_code not in snapshot.tier_codes:
            continue
        if snapshot.segment_id is not None and snapshot.segment_id not in audience.segment_ids:
            continue
        if engine.in_holdout(
            member_id=member.pk,
            campaign_id=campaign.pk,
            holdout_percent=campaign.holdout_percent,
        ):
            continue
        if campaign.budget_points is not None and campaign.budget_used >= campaign.budget_points:
            continue
        kept.append(campaign)
    keys = {
        c.pk: engine.cap_period_key(c.cap_period, at) for c in kept if c.per_member_cap is not None
    }
    used: dict[int, int] = {}
    if keys:
        period_match = Q()
        for campaign_id, key in keys.items():
            period_match |= Q(campaign_id=campaign_id, period_key=key)
        used = dict(
            CampaignMemberUse.objects.filter(period_match, member=member).values_list(
                "campaign_id", "points"
            )
        )
    return [
        SaleOffer(
            campaign_id=c.pk,
            name=c.name,
            kind=c.kind,
            params=snapshots[c.pk].params,
            rule=dict(c.params),
            ends_at=c.ends_at,
            store_names=tuple(sorted(store.name for store in c.stores.all())),
        )
        for c in kept
        if c.per_member_cap is None or used.get(c.pk, 0) < c.per_member_cap
    ]
