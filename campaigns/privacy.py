"""A member's challenges, badges, referrals and events in their data document,
and what erasure removes of them (members.privacy): the leaderboard
nickname, and the member's first name in the history lines and messages of
the friend or referrer they were paired with."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import translation

from campaigns.models import (
    ChallengeParticipation,
    LeaderboardProfile,
    MemberBadge,
    MemberEvent,
    Referral,
)
from loyalty.models import Notification
from members.history import Text
from members.models import Member, PointsEntry
from members.privacy import rows


def member_campaigns_export(member: Member) -> dict[str, Any]:
    profile = LeaderboardProfile.objects.filter(member=member).first()
    return {
        "challenges": rows(
            ChallengeParticipation.objects.filter(member=member).order_by("id"),
            "challenge__name",
            "round",
            "status",
            "progress",
            "joined_at",
            "completed_at",
            "times_completed",
        ),
        "badges": rows(
            MemberBadge.objects.filter(member=member).order_by("earned_at", "id"),
            "badge__name",
            "times",
            "earned_at",
        ),
        "leaderboard_nickname": profile.nickname if profile else None,
        "referrals": rows(
            Referral.objects.filter(Q(referrer=member) | Q(friend=member)).order_by("id"),
            "code",
            "status",
            "friend_points",
            "referrer_points",
        ),
        "events": rows(
            MemberEvent.objects.filter(member=member).order_by("id"), "name", "reference"
        ),
    }


def _unnamed(entry_or_note: Any, name: str, stand_in: Text, language: str) -> None:
    with translation.override(language):
        said = str(stand_in)
    for field in ("description", "title", "body"):
        value = getattr(entry_or_note, field, None)
        if isinstance(value, str) and name in value:
            setattr(entry_or_note, field, value.replace(name, said))


def member_campaigns_forget(member: Member) -> None:
    """Remove the member's nickname and their first name from the lines of the
    members they referred or were referred by, as campaigns.referrals writes
    a line with no name: "your friend" in a referrer's history, "a friend" in
    a friend's."""
    LeaderboardProfile.objects.filter(member=member).delete()
    name = member.first_name.strip()
    if not name:
        return
    pairs = [
        (referral, referral.referrer, "referrer", Text("referral.your_friend"))
        for referral in Referral.objects.filter(friend=member).select_related("referrer")
    ] + [
        (referral, referral.friend, "friend", Text("referral.a_friend"))
        for referral in Referral.objects.filter(referrer=member).select_related("friend")
    ]
    for referral, other, side, stand_in in pairs:
        key = f"referral:{referral.pk}:{side}"
        for entry in PointsEntry.objects.filter(member=other, idempotency_key=key):
            if entry.message and "name" in entry.message.get("args", {}):
                entry.message["args"]["name"] = stand_in.as_json()
            _unnamed(entry, name, stand_in, other.language)
            entry.save(update_fields=["message", "description"])
        for note in Notification.objects.filter(member=other, event_key=key):
            _unnamed(note, name, stand_in, other.language)
            note.save(update_fields=["title", "body"])
