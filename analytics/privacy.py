"""A member's survey answers and prediction in their data document, and what
erasure removes of them (members.privacy)."""

from __future__ import annotations

from typing import Any

from analytics.models import Feedback, FollowUp
from analytics.predictions import member_prediction_export
from members.models import Member
from members.privacy import rows


def member_feedback_export(member: Member) -> dict[str, Any]:
    return {
        "answers": rows(
            Feedback.objects.filter(member=member).order_by("created_at", "id"),
            "created_at",
            "kind",
            "score",
            "comment",
            "source",
            "store__code",
        ),
        "prediction": member_prediction_export(member=member),
    }


def member_feedback_forget(member: Member) -> None:
    """Blank the member's comments and staff's notes of following them up: the
    scores stay, counted in NPS and CSAT, with no words of the member's."""
    Feedback.objects.filter(member=member).exclude(comment="").update(comment="")
    FollowUp.objects.filter(member=member).exclude(note="").update(note="")
