"""Reads of the challenge pages that campaigns.challenge_selectors does not
serve: the back-office's counts per challenge and per badge, a challenge's
participants page by page, and the member's last purchase for the home
panel of what it moved."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from campaigns.models import (
    CampaignStatus,
    Challenge,
    ChallengeAward,
    ChallengeAwardKind,
    ChallengeParticipation,
    MemberBadge,
)
from members.models import Member, MemberActivity


def challenge_participation_counts(*, challenge_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """{challenge id: (participants, completed)} in one query; a challenge
    nobody joined is missing."""
    rows = (
        ChallengeParticipation.objects.filter(challenge_id__in=list(challenge_ids))
        .values("challenge_id")
        .annotate(
            participants=Count("id"),
            completed=Count("id", filter=Q(times_completed__gt=0)),
        )
    )
    return {row["challenge_id"]: (row["participants"], row["completed"]) for row in rows}


def badge_holder_counts(*, badge_ids: Iterable[int]) -> dict[int, int]:
    """{badge id: members holding it} in one query."""
    rows = (
        MemberBadge.objects.filter(badge_id__in=list(badge_ids))
        .values("badge_id")
        .annotate(holders=Count("id"))
    )
    return {row["badge_id"]: row["holders"] for row in rows}


def badge_awarding_challenges(*, badge_ids: Iterable[int]) -> dict[int, list[Challenge]]:
    """{badge id: the challenges not ended that award it}, in one query."""
    awarding: dict[int, list[Challenge]] = {}
    challenges = Challenge.objects.filter(badge_id__in=list(badge_ids)).exclude(
        status=CampaignStatus.ENDED
    )
    for challenge in challenges.order_by("name", "id"):
        awarding.setdefault(challenge.badge_id, []).append(challenge)
    return awarding


def challenge_participants(*, challenge: Challenge) -> QuerySet[ChallengeParticipation]:
    """The challenge's participations, furthest first, each with its member and
    `points_reversed` (its completion's points were taken back with a return)."""
    reversed_award = ChallengeAward.objects.filter(
        challenge_id=OuterRef("challenge_id"),
        member_id=OuterRef("member_id"),
        kind=ChallengeAwardKind.COMPLETION,
        reversed_at__isnull=False,
    )
    return (
        ChallengeParticipation.objects.filter(challenge=challenge)
        .select_related("member")
        .annotate(points_reversed=Exists(reversed_award))
        .order_by("-times_completed", "-progress", "reached_at", "id")
    )


def member_last_purchase(*, member: Member) -> tuple[int, datetime] | None:
    """(purchase id, when it happened) of the member's latest purchase, from
    the activity the purchases flow reports to members (members.MemberActivity,
    so campaigns need not read purchases); None before the first."""
    row = (
        MemberActivity.objects.filter(member=member, source_type="purchase")
        .order_by("-occurred_at", "-id")
        .values_list("source_id", "occurred_at")
        .first()
    )
    return (int(row[0]), row[1]) if row else None
