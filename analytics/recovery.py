"""Service recovery: a detractor's answer (NPS 0–6, CSAT 1–2) from a member
lands in the follow-up queue with a deadline; staff note what they did,
may give goodwill points, and close it (docs/analytics.md, "Service
recovery"). The queue's reads are in analytics.feedback.

The rules kept here (tests/analytics/test_recovery.py):

- Every change of a follow-up is audited with its values before and after.
- A follow-up is changed under its row lock, then (goodwill) the member's
  points account's: one order, so two members of staff saving at once take
  turns, and goodwill is given once (also its ledger key,
  `follow_up:<id>:goodwill`).
- Goodwill is a points adjustment (members.points.points_adjust): audited,
  the ledger line "Service recovery: goodwill points" in each reader's
  language, at most GOODWILL_POINTS_MAX, and for store staff at most the
  program's staff adjustment limit.
- Store staff given a store work on that store's follow-ups only.
- A closed follow-up does not change any more.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.errors import FollowUpClosed
from analytics.feedback import follow_up_store_scope
from analytics.models import (
    GOODWILL_POINTS_MAX,
    NOTE_MAX_LENGTH,
    Feedback,
    FollowUp,
    FollowUpStatus,
)
from loyalty.actors import Actor
from loyalty.db import insert
from loyalty.errors import PermissionDenied, ValidationFailed
from loyalty.limits import text_problem
from loyalty.models import Store
from loyalty.services import audit_record, snapshot
from members.history import Text
from members.points import points_adjust

FOLLOW_UP_FIELDS = ("status", "note", "goodwill_points", "goodwill_entry", "closed_at")


def follow_up_create(*, feedback: Feedback, store: Store | None, due_at: datetime) -> FollowUp:
    """Put the member's answer `feedback` in the queue of `store`, due at
    `due_at`, in the caller's transaction (analytics.surveys.feedback_record)."""
    assert feedback.member is not None
    return insert(
        FollowUp(
            feedback=feedback,
            member=feedback.member,
            store=store,
            created_at=feedback.created_at,
            updated_at=feedback.created_at,
            due_at=due_at,
        )
    )


def _note_clean(note: str) -> str:
    note = note.strip()
    problem = text_problem(note)
    if problem:
        raise ValidationFailed(fields={"note": [problem]})
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationFailed(
            fields={"note": [_("At most %(count)s characters.") % {"count": NOTE_MAX_LENGTH}]}
        )
    return note


@transaction.atomic
def follow_up_save(
    *,
    actor: Actor,
    follow_up: FollowUp,
    note: str,
    goodwill_points: int = 0,
    close: bool = False,
    now: datetime | None = None,
) -> FollowUp:
    """Write what was done on `follow_up` (`note`, replacing the last one),
    give `goodwill_points` (0: none) to its member once, and `close` it.

    Raises PermissionDenied (a store-staff account of another store),
    FollowUpClosed, ValidationFailed (note: too long, or missing to close;
    goodwill_points: out of 0–GOODWILL_POINTS_MAX, or given already),
    AdjustmentLimit (store staff above the program's adjustment limit),
    MemberInactive (a deleted member); then nothing is written."""
    now = now or timezone.now()
    locked = FollowUp.objects.select_for_update().select_related("member").get(pk=follow_up.pk)
    scope = follow_up_store_scope(actor.user) if actor.user is not None else None
    if scope is not None and locked.store_id != scope.pk:
        raise PermissionDenied(_("This follow-up is another store's."))
    if locked.status == FollowUpStatus.CLOSED:
        raise FollowUpClosed()
    note = _note_clean(note)
    errors: dict[str, list[str]] = {}
    if close and not note:
        errors["note"] = [_("Say what you did before you close the follow-up.")]
    if isinstance(goodwill_points, bool) or not 0 <= goodwill_points <= GOODWILL_POINTS_MAX:
        errors["goodwill_points"] = [_("From 0 to %(max)s points.") % {"max": GOODWILL_POINTS_MAX}]
    elif goodwill_points and locked.goodwill_points:
        errors["goodwill_points"] = [_("Goodwill points were given for this follow-up already.")]
    if errors:
        raise ValidationFailed(fields=errors)
    before = snapshot(locked, FOLLOW_UP_FIELDS)
    fields = ["note", "updated_at", "updated_by"]
    if goodwill_points:
        locked.goodwill_entry = points_adjust(
            actor=actor,
            member=locked.member,
            points=goodwill_points,
            reason=Text("service_recovery"),
            now=now,
            idempotency_key=f"follow_up:{locked.pk}:goodwill",
        )
        locked.goodwill_points = goodwill_points
        fields += ["goodwill_points", "goodwill_entry"]
    locked.note = note
    locked.updated_at = now
    locked.updated_by = actor.user
    if close:
        locked.status = FollowUpStatus.CLOSED
        locked.closed_at = now
        locked.closed_by = actor.user
        fields += ["status", "closed_at", "closed_by"]
    locked.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="follow_up.close" if close else "follow_up.update",
        obj=locked,
        before=before,
        after=snapshot(locked, FOLLOW_UP_FIELDS),
    )
    return locked
