"""Reads of challenges and badges: the lists for the API and the pages, the
snapshots the flows move, a member's challenges and badge wall, leaderboards
and a challenge's results for the marketer (docs/challenges.md, "Services").

A challenge's status is read as campaigns read theirs
(campaigns.selectors.campaign_status_effective): stored `scheduled` is
`active` from `starts_at`, and a live one is `ended` from `ends_at`. A
participation's `in_progress` reads as `expired` once its window is over.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from campaigns.challenge_engine import (
    WEEKLY_STREAK,
    ZERO,
    ChallengeSnapshot,
    Progress,
    streak_broken,
    week_of,
)
from campaigns.errors import BadgeNotFound, ChallengeNotFound
from campaigns.models import (
    MONEY_GOALS,
    Badge,
    CampaignStatus,
    Challenge,
    ChallengeAward,
    ChallengeAwardKind,
    ChallengeParticipation,
    MemberBadge,
    ParticipationStatus,
)
from campaigns.selectors import campaign_status_effective
from members.models import Member, MemberStatus
from members.segments import member_in_segments, segment_members

NOT_JOINED = "not_joined"


def challenge_status(*, challenge: Challenge, now: datetime) -> str:
    return campaign_status_effective(
        status=challenge.status, starts_at=challenge.starts_at, ends_at=challenge.ends_at, now=now
    )


def challenge_list() -> QuerySet[Challenge]:
    return Challenge.objects.select_related("badge", "reward", "segment").prefetch_related("tiers")


def challenge_get(*, challenge_id: int) -> Challenge:
    """Raises ChallengeNotFound."""
    challenge = challenge_list().filter(pk=challenge_id).first()
    if challenge is None:
        raise ChallengeNotFound()
    return challenge


def badge_list() -> QuerySet[Badge]:
    return Badge.objects.all()


def badge_get(*, badge_id: int) -> Badge:
    """Raises BadgeNotFound."""
    badge = Badge.objects.filter(pk=badge_id).first()
    if badge is None:
        raise BadgeNotFound()
    return badge


def challenge_snapshot(
    challenge: Challenge, *, tier_ids: frozenset[int] | None = None
) -> ChallengeSnapshot:
    """The engine's view of `challenge` (its tiers prefetched, unless given)."""
    return ChallengeSnapshot(
        id=challenge.pk,
        name=str(challenge.name),
        goal=challenge.goal,
        target=challenge.target,
        starts_at=challenge.starts_at,
        ends_at=challenge.ends_at,
        rolling_days=challenge.rolling_days,
        opt_in=challenge.opt_in,
        tier_ids=(
            tier_ids
            if tier_ids is not None
            else frozenset(tier.pk for tier in challenge.tiers.all())
        ),
        segment_id=challenge.segment_id,
        repeatable=challenge.repeatable,
        categories=frozenset(challenge.categories or ()),
        skus=frozenset(challenge.skus or ()),
        event=challenge.event,
        freezes=challenge.streak_freezes,
        milestones=tuple(
            (int(m["weeks"]), int(m["points"])) for m in challenge.streak_milestones or ()
        ),
        reward_points=challenge.reward_points,
        badge_id=challenge.badge_id,
        reward_id=challenge.reward_id,
    )


def _live(now: datetime) -> QuerySet[Challenge]:
    return (
        Challenge.objects.filter(
            status__in=[CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE], starts_at__lte=now
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .order_by("pk")
    )


def challenges_live(*, now: datetime) -> list[ChallengeSnapshot]:
    """Snapshots of the challenges live at `now`: two statements (the
    challenges, their tiers). The flows check each window again at the
    activity's own time, so the list can be cached for a while."""
    return [challenge_snapshot(c) for c in _live(now).prefetch_related("tiers")]


# --- A member's challenges ------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberChallenge:
    """One challenge as a member sees it."""

    challenge: Challenge
    participation: ChallengeParticipation | None
    progress: Decimal
    target: Decimal
    percent: int
    status: str  # NOT_JOINED or a ParticipationStatus
    completed_at: datetime | None
    ends_at: datetime | None
    days_left: int | None
    joinable: bool
    streak_broken: bool
    points_reversed: bool
    times_completed: int

    @property
    def money(self) -> bool:
        return self.challenge.goal in MONEY_GOALS


def _member_challenge(
    challenge: Challenge,
    row: ChallengeParticipation | None,
    *,
    now: datetime,
    reversed_rounds: set[tuple[int, int]],
) -> MemberChallenge:
    target = challenge.target
    status, progress, broken = NOT_JOINED, ZERO, False
    ends_at = challenge.ends_at
    if row is not None:
        status, progress, ends_at = row.status, row.progress, row.ends_at
        if challenge.goal == WEEKLY_STREAK:
            broken = streak_broken(
                Progress(streak_week=row.streak_week, state=row.state or {}),
                freezes=challenge.streak_freezes,
                now_week=week_of(now),
            )
            if broken:
                progress = ZERO
        if status == ParticipationStatus.IN_PROGRESS and ends_at is not None and ends_at <= now:
            status = ParticipationStatus.EXPIRED
    live = challenge_status(challenge=challenge, now=now) == CampaignStatus.ACTIVE
    joinable = (
        live
        and challenge.opt_in
        and (
            row is None
            or status == ParticipationStatus.EXPIRED
            or (status == ParticipationStatus.COMPLETED and challenge.repeatable)
        )
    )
    if status == NOT_JOINED and not challenge.opt_in:
        # An automatic challenge counts from the member's first purchase in it.
        status = ParticipationStatus.IN_PROGRESS
    days_left = None
    if ends_at is not None and status == ParticipationStatus.IN_PROGRESS:
        days_left = max(0, math.ceil((ends_at - now).total_seconds() / 86400))
    shown = min(progress, target) if target else progress
    return MemberChallenge(
        challenge=challenge,
        participation=row,
        progress=progress,
        target=target,
        percent=int(shown * 100 / target) if target else 0,
        status=status,
        completed_at=row.completed_at if row is not None else None,
        ends_at=ends_at,
        days_left=days_left,
        joinable=joinable,
        streak_broken=broken,
        points_reversed=row is not None and (challenge.pk, row.round) in reversed_rounds,
        times_completed=row.times_completed if row is not None else 0,
    )


def _reversed_rounds(member: Member, challenge_ids: list[int]) -> set[tuple[int, int]]:
    return set(
        ChallengeAward.objects.filter(
            member=member,
            challenge_id__in=challenge_ids,
            kind=ChallengeAwardKind.COMPLETION,
            reversed_at__isnull=False,
        ).values_list("challenge_id", "round")
    )


def challenges_for_member(*, member: Member, now: datetime) -> list[MemberChallenge]:
    """Every live challenge in the member's audience, and every challenge the
    member took part in: in progress first (soonest to end first), then
    those to join, then completed and expired ones."""
    rows = {
        row.challenge_id: row
        for row in ChallengeParticipation.objects.filter(member=member).select_related(
            "challenge__badge"
        )
    }
    live = list(_live(now).select_related("badge").prefetch_related("tiers"))
    wanted = {c.segment_id for c in live if c.segment_id is not None and c.pk not in rows}
    segments = member_in_segments(member=member, segment_ids=wanted, now=now) if wanted else set()
    challenges = {row.challenge_id: row.challenge for row in rows.values()}
    for challenge in live:
        if challenge.pk in rows:
            challenges[challenge.pk] = challenge
            continue
        tiers = {tier.pk for tier in challenge.tiers.all()}
        if tiers and member.tier_id not in tiers:
            continue
        if challenge.segment_id is not None and challenge.segment_id not in segments:
            continue
        challenges[challenge.pk] = challenge
    reversed_rounds = _reversed_rounds(member, list(rows))
    shown = [
        _member_challenge(c, rows.get(pk), now=now, reversed_rounds=reversed_rounds)
        for pk, c in challenges.items()
    ]
    order = {
        ParticipationStatus.IN_PROGRESS: 0,
        NOT_JOINED: 1,
        ParticipationStatus.COMPLETED: 2,
        ParticipationStatus.EXPIRED: 3,
    }
    far = datetime.max.replace(tzinfo=timezone.get_current_timezone())
    return sorted(
        shown,
        key=lambda c: (order[c.status], c.ends_at or far, c.challenge.pk),
    )


def challenges_moved_by_purchase(*, member: Member, purchase_id: int) -> list[MemberChallenge]:
    """The member's challenges a purchase of theirs moved (what Purchase.challenges
    names), as they stand now."""
    from purchases.models import Purchase  # purchases sits above campaigns: read its row only

    added = (
        Purchase.objects.filter(pk=purchase_id, member=member)
        .values_list("challenges", flat=True)
        .first()
    )
    ids = [int(pk) for pk in json.loads(added)] if added else []
    if not ids:
        return []
    now = timezone.now()
    rows = ChallengeParticipation.objects.filter(member=member, challenge_id__in=ids)
    reversed_rounds = _reversed_rounds(member, ids)
    return [
        _member_challenge(row.challenge, row, now=now, reversed_rounds=reversed_rounds)
        for row in rows.select_related("challenge__badge").order_by("challenge_id")
    ]


@dataclass(frozen=True)
class BadgeOnWall:
    badge: Badge
    earned_at: datetime | None  # None: still locked
    times: int
    how_to_earn: list[Challenge]


def member_badges(*, member: Member, now: datetime | None = None) -> list[BadgeOnWall]:
    """Every badge: earned ones first (newest first), then the locked ones,
    each with the live challenges that award it."""
    now = now or timezone.now()
    held = {mb.badge_id: mb for mb in MemberBadge.objects.filter(member=member)}
    awarding: dict[int, list[Challenge]] = {}
    for challenge in _live(now).filter(badge__isnull=False).order_by("name"):
        awarding.setdefault(challenge.badge_id, []).append(challenge)
    wall = [
        BadgeOnWall(
            badge=badge,
            earned_at=held[badge.pk].earned_at if badge.pk in held else None,
            times=held[badge.pk].times if badge.pk in held else 0,
            how_to_earn=awarding.get(badge.pk, []),
        )
        for badge in Badge.objects.order_by("name", "pk")
    ]
    earned = sorted((b for b in wall if b.earned_at), key=lambda b: b.earned_at, reverse=True)
    return earned + [b for b in wall if b.earned_at is None]


def member_badges_earned(*, member: Member) -> QuerySet[MemberBadge]:
    """The badges the member holds, newest first (GET /members/{id}/badges)."""
    return (
        MemberBadge.objects.filter(member=member)
        .select_related("badge")
        .order_by("-earned_at", "-pk")
    )


# --- Leaderboards ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    nickname: str
    progress: Decimal
    reached_at: datetime | None
    member_id: int


def leaderboard(*, challenge: Challenge, now: datetime, limit: int = 50) -> list[LeaderboardRow]:
    """The challenge's board: the members who opted in with a nickname, by
    progress, ties ordered by who reached the value first and sharing a rank
    (1, 2, 2, 4). On a streak board, only streaks still alive at `now`."""
    rows = (
        ChallengeParticipation.objects.filter(
            challenge=challenge,
            progress__gt=0,
            member__leaderboard_profile__isnull=False,
            member__status=MemberStatus.ACTIVE,
        )
        .select_related("member__leaderboard_profile")
        .order_by("-progress", "reached_at", "pk")
    )
    streak = challenge.goal == WEEKLY_STREAK
    if streak:
        now_week = week_of(now)
        # A streak whose last week is further back than any freeze covers is broken.
        rows = rows.filter(streak_week__gte=now_week - 1 - challenge.streak_freezes)
    board: list[LeaderboardRow] = []
    previous: Decimal | None = None
    rank = 0
    for row in rows.iterator():
        if streak and streak_broken(
            Progress(streak_week=row.streak_week, state=row.state or {}),
            freezes=challenge.streak_freezes,
            now_week=now_week,
        ):
            continue
        if row.progress != previous:
            rank, previous = len(board) + 1, row.progress
        board.append(
            LeaderboardRow(
                rank=rank,
                nickname=row.member.leaderboard_profile.nickname,
                progress=row.progress,
                reached_at=row.reached_at,
                member_id=row.member_id,
            )
        )
        if len(board) >= limit:
            break
    return board


# --- Results for the marketer ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChallengeResults:
    participants: int
    completed: int
    completion_rate: float
    points_awarded: int
    badges_awarded: int
    audience_others: int
    purchase_frequency_participants: float
    purchase_frequency_others: float


def _audience(challenge: Challenge) -> QuerySet[Member]:
    members = Member.objects.filter(status=MemberStatus.ACTIVE)
    tiers = list(challenge.tiers.all())
    if tiers:
        members = members.filter(tier__in=tiers)
    if challenge.segment_id is not None:
        members = members.filter(pk__in=segment_members(challenge.segment).values("pk"))
    return members


def challenge_results(*, challenge: Challenge, now: datetime) -> ChallengeResults:
    """Participants, completions (members who completed it at least once) and
    their rate, points awarded net of those taken back, badges given, and the
    purchase frequency (purchases per member in the challenge's window up to
    `now`) of participants against the audience's members who did not take
    part."""
    from purchases.models import Purchase  # purchases sits above campaigns: read its rows only

    rows = ChallengeParticipation.objects.filter(challenge=challenge)
    counts = rows.aggregate(
        participants=Count("pk"), completed=Count("pk", filter=Q(times_completed__gt=0))
    )
    awards = ChallengeAward.objects.filter(challenge=challenge)
    points = awards.filter(reversed_at__isnull=True).aggregate(total=Sum("points"))["total"] or 0
    badges = awards.filter(kind=ChallengeAwardKind.COMPLETION, badge__isnull=False).count()
    end = min(challenge.ends_at, now) if challenge.ends_at else now
    window = Q(occurred_at__gte=challenge.starts_at, occurred_at__lt=end)
    taking_part = rows.values("member_id")
    bought = Purchase.objects.filter(window)
    participants = counts["participants"]
    others = _audience(challenge).exclude(pk__in=taking_part)
    others_count = others.count()
    by_participants = bought.filter(member_id__in=taking_part).count()
    by_others = bought.filter(member_id__in=others.values("pk")).count()
    return ChallengeResults(
        participants=participants,
        completed=counts["completed"],
        completion_rate=counts["completed"] / participants if participants else 0.0,
        points_awarded=int(points),
        badges_awarded=badges,
        audience_others=others_count,
        purchase_frequency_participants=by_participants / participants if participants else 0.0,
        purchase_frequency_others=by_others / others_count if others_count else 0.0,
    )
