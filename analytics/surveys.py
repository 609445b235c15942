"""Surveys (NPS 0–10, CSAT 1–5): their settings, the invitations sent after
purchases, and the answers from every channel (docs/analytics.md, "NPS and
CSAT"; docs/notifications.md, `survey_invitation`).

The rules kept here, and who checks them (tests/analytics/test_surveys.py):

- Invitations are sent by the job `survey_invitations`, never by the sale:
  the sale path pays no statement for surveys (tests/purchases/
  test_statement_budget.py). Each run looks at members' purchases whose
  invitation fell due (`delay_hours` after the sale) in the last
  `CATCH_UP` (a job that could not run catches up; a visit further back is
  not asked about), reported within `LATE_AFTER` of the sale: an imported
  history, played at its own `occurred_at` long before it is recorded, is
  never invited.
- Sampling is a pure function of the purchase and the kind (`sampled`): a
  retried or doubled run picks the same purchases.
- Never twice for one purchase: one invitation a purchase, whatever the kind
  (its unique index, and the notification's event key `survey:<purchase>`).
- No over-surveying: a member is invited to a kind at most once in its
  `cooldown_days`, and not when they answered it in that time; to any survey
  at most once in `ANY_SURVEY_GAP`. An invitation stays open for at most
  `INVITATION_OPEN_DAYS` and never past the cooldown, so a member has at most
  one open invitation of a kind. NPS goes first when both pick a purchase.
- Answers (`feedback_record`) come from the invitation's page, the portal's
  feedback page and `POST /feedback`; each writes its `feedback.received`
  event in its transaction, puts a detractor's answer with a member in the
  follow-up queue (analytics.recovery), and an answer to an invitation
  records the survey's custom event, which an event campaign may pay for.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.errors import FeedbackExists, SurveyClosed
from analytics.feedback import survey_settings_get
from analytics.models import (
    COMMENT_MAX_LENGTH,
    SCORE_RANGE,
    Feedback,
    FollowUp,
    SurveyInvitation,
    SurveyKind,
    SurveySettings,
    score_is_detractor,
)
from analytics.recovery import follow_up_create
from campaigns.events import event_record
from campaigns.params import EVENT_NAME
from loyalty.actors import Actor
from loyalty.db import atomic_whole, insert, insert_unless_taken
from loyalty.errors import ValidationFailed
from loyalty.limits import text_problem
from loyalty.models import Store, WebhookEventType
from loyalty.notifications import Kind, notify
from loyalty.services import audit_record, model_validate, snapshot
from loyalty.webhooks import webhook_emit
from members.models import Member, MemberStatus
from members.services import member_ensure_active
from purchases.models import Purchase

INVITATION_KIND = "survey_invitation"
# How far back a run looks for invitations that fell due.
CATCH_UP = timedelta(days=7)
# A sale reported later than this after it happened is not asked about.
LATE_AFTER = timedelta(days=1)
ANY_SURVEY_GAP = timedelta(days=7)
INVITATION_OPEN_DAYS = 14
# A member's answers about no purchase: one of each kind a day.
UNLINKED_GAP = timedelta(days=1)
BATCH = 500
# NPS first: asked less often, it is the one not to miss.
KIND_ORDER = (SurveyKind.NPS, SurveyKind.CSAT)

SETTINGS_FIELDS = (
    "enabled",
    "question_en",
    "question_ms",
    "delay_hours",
    "sample_percent",
    "cooldown_days",
    "answer_event",
    "follow_up_hours",
)


# --- The invitation message ----------------------------------------------------------------------


def survey_invitation_render(context: dict[str, Any], language: str) -> tuple[str, str]:
    """The invitation's title and body in `language` (active when called):
    the survey's question as the marketer wrote it in that language."""
    title = _("How was your visit to %(store)s?") % {"store": context["store"]}
    questions = context.get("question") or {}
    question = questions.get(language) or questions.get("en", "")
    body = "\n\n".join(
        [question, _("It takes a minute: pick a score and, if you like, tell us why.")]
    )
    return title, body


SURVEY_INVITATION = Kind(
    INVITATION_KIND,
    gettext_lazy("Surveys about a visit"),
    # Feedback on the member's own purchase, with nothing to sell: not marketing
    # (docs/analytics.md, "NPS and CSAT"); the member can turn its email off.
    defaults=frozenset({"email", "push"}),
    link="portal:feedback",
    render=survey_invitation_render,
)


# --- Settings ------------------------------------------------------------------------------------


@transaction.atomic
def survey_settings_update(*, actor: Actor, kind: str, **changes: Any) -> SurveySettings:
    """Change the settings of survey `kind` (any of SETTINGS_FIELDS), audited
    with their values before and after. Refuses settings that cannot work:
    out of bounds, a question missing in either language (members are asked
    in theirs), invitations on with no purchase sampled, an answer event that
    is not an event name. Raises ValidationFailed (by field)."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"not survey settings: {sorted(unknown)}")
    current = SurveySettings.objects.select_for_update().filter(kind=kind).first()
    survey = current or survey_settings_get(kind=kind)
    before = snapshot(survey, SETTINGS_FIELDS) if current is not None else None
    for name, value in changes.items():
        if isinstance(value, str):
            value = value.strip()
        setattr(survey, name, value)
    survey.answer_event = survey.answer_event.casefold()
    _settings_check(survey)
    survey.updated_at = timezone.now()
    survey.updated_by = actor.user
    survey.save()
    audit_record(
        actor=actor,
        action="survey_settings.update",
        obj=survey,
        before=before,
        after=snapshot(survey, SETTINGS_FIELDS),
    )
    return survey


def _settings_check(survey: SurveySettings) -> None:
    model_validate(survey, exclude=["updated_by"])
    errors: dict[str, list[str]] = {}
    for name in ("question_en", "question_ms"):
        problem = text_problem(getattr(survey, name))
        if problem:
            errors[name] = [problem]
    if survey.enabled and survey.sample_percent == 0:
        errors["sample_percent"] = [
            _("With 0% sampled nobody is invited: choose a share, or turn invitations off.")
        ]
    if survey.answer_event and not EVENT_NAME.match(survey.answer_event):
        errors["answer_event"] = [
            _("Lowercase letters, digits, _ . or -, at most 64, e.g. survey_answered.")
        ]
    if errors:
        raise ValidationFailed(fields=errors)


# --- Invitations ---------------------------------------------------------------------------------


def sampled(*, purchase_id: int, kind: str, percent: int) -> bool:
    """Whether survey `kind` asks about purchase `purchase_id` at `percent`%:
    the purchase's bucket (0–99) from a hash of the kind and the id, below the
    rate. The same answer on every run and every process."""
    digest = hashlib.sha256(f"survey:{kind}:{purchase_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


def survey_invite(
    *, purchase: Purchase, survey: SurveySettings, as_of: datetime
) -> SurveyInvitation | None:
    """Invite the purchase's member to `survey` about it (the inbox, and their
    channels by their preferences) unless the purchase has an invitation
    already. Returns the invitation, or None."""
    member = purchase.member
    assert member is not None
    open_days = min(INVITATION_OPEN_DAYS, survey.cooldown_days)
    invitation = SurveyInvitation(
        kind=survey.kind,
        member=member,
        purchase=purchase,
        sent_at=as_of,
        expires_at=as_of + timedelta(days=open_days),
    )
    with transaction.atomic():
        if not insert_unless_taken(invitation, unique=("purchase",)):
            return None
        notify(
            member,
            INVITATION_KIND,
            {
                "kind": survey.kind,
                "store": purchase.store.name,
                "reference": purchase.reference,
                "question": {"en": survey.question_en, "ms": survey.question_ms},
                "link": reverse("portal:survey", kwargs={"invitation_id": invitation.pk}),
            },
            event_key=f"survey:{purchase.pk}",
            at=as_of,
        )
    return invitation


def survey_invitations_send(*, as_of: datetime) -> int:
    """The job `survey_invitations`: invite members about their purchases
    whose invitation fell due by `as_of`, by the rules of this module's
    docstring. Returns how many were sent; a second run as of the same time
    sends none."""
    sent = 0
    for kind in KIND_ORDER:
        survey = survey_settings_get(kind=kind)
        if survey.enabled and survey.sample_percent > 0:
            sent += _invite_due(survey, as_of=as_of)
    return sent


def _invite_due(survey: SurveySettings, *, as_of: datetime) -> int:
    due_by = as_of - timedelta(hours=survey.delay_hours)
    answered = Feedback.objects.filter(purchase=OuterRef("pk"), kind=survey.kind)
    candidates = (
        Purchase.objects.filter(
            member__isnull=False,
            member__status=MemberStatus.ACTIVE,
            occurred_at__gt=due_by - CATCH_UP,
            occurred_at__lte=due_by,
            recorded_at__lte=F("occurred_at") + LATE_AFTER,
            survey_invitation__isnull=True,
        )
        .exclude(Exists(answered))
        .select_related("member", "store")
        .order_by("occurred_at", "id")
    )
    asked: set[int] = set()
    sent = 0
    batch: list[Purchase] = []
    for purchase in candidates.iterator(chunk_size=BATCH):
        if sampled(purchase_id=purchase.pk, kind=survey.kind, percent=survey.sample_percent):
            batch.append(purchase)
        if len(batch) == BATCH:
            sent += _invite_batch(batch, survey=survey, as_of=as_of, asked=asked)
            batch = []
    return sent + _invite_batch(batch, survey=survey, as_of=as_of, asked=asked)


def _invite_batch(
    batch: list[Purchase], *, survey: SurveySettings, as_of: datetime, asked: set[int]
) -> int:
    """Invite the members of `batch` not asked too recently (`asked`: the
    members this run invited already)."""
    member_ids = {purchase.member_id for purchase in batch} - asked
    if not member_ids:
        return 0
    resting = _members_resting(member_ids, survey=survey, as_of=as_of)
    sent = 0
    for purchase in batch:
        if purchase.member_id in asked or purchase.member_id in resting:
            continue
        asked.add(purchase.member_id)
        sent += survey_invite(purchase=purchase, survey=survey, as_of=as_of) is not None
    return sent


def _members_resting(member_ids: set[int], *, survey: SurveySettings, as_of: datetime) -> set[int]:
    """Of `member_ids`, those invited to or answering this survey within its
    cooldown, or invited to any survey within ANY_SURVEY_GAP."""
    cooldown = as_of - timedelta(days=survey.cooldown_days)
    resting = set(
        SurveyInvitation.objects.filter(
            member_id__in=member_ids, kind=survey.kind, sent_at__gt=cooldown
        ).values_list("member_id", flat=True)
    )
    resting |= set(
        SurveyInvitation.objects.filter(
            member_id__in=member_ids, sent_at__gt=as_of - ANY_SURVEY_GAP
        ).values_list("member_id", flat=True)
    )
    resting |= set(
        Feedback.objects.filter(
            member_id__in=member_ids, kind=survey.kind, created_at__gt=cooldown
        ).values_list("member_id", flat=True)
    )
    return resting


# --- Answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackRecorded:
    """An answer, its follow-up when it went to the queue, the points the
    survey's event paid, and whether this is a replay of an earlier answer."""

    feedback: Feedback
    follow_up: FollowUp | None
    points: int = 0
    replayed: bool = False


def feedback_data(feedback: Feedback, follow_up: FollowUp | None) -> dict[str, Any]:
    """The answer as the API and the `feedback.received` webhook give it."""
    return {
        "id": feedback.pk,
        "kind": feedback.kind,
        "score": feedback.score,
        "comment": feedback.comment,
        "member_id": feedback.member.public_id if feedback.member else None,
        "purchase_id": feedback.purchase_id,
        "store": feedback.store.code if feedback.store else None,
        "source": feedback.source,
        "follow_up": follow_up is not None,
        "created_at": feedback.created_at,
    }


def _feedback_webhook_data(feedback: Feedback, follow_up: FollowUp | None) -> dict[str, Any]:
    """The answer of POST /feedback, as the API renders it."""
    # Imported here: the API module imports these services.
    from analytics.feedback_api import FeedbackApi

    return dict(FeedbackApi.OutputSerializer(feedback_data(feedback, follow_up)).data)


def _score_clean(kind: str, score: Any) -> int:
    if kind not in SCORE_RANGE:
        raise ValidationFailed(fields={"kind": [_("Choose nps or csat.")]})
    low, high = SCORE_RANGE[kind]
    # bool is an int: True is no score.
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise ValidationFailed(
            fields={
                "score": [
                    _("A score from %(low)s to %(high)s for this survey.")
                    % {"low": low, "high": high}
                ]
            }
        )
    return score


def _comment_clean(comment: str) -> str:
    comment = comment.strip()
    problem = text_problem(comment)
    if problem:
        raise ValidationFailed(fields={"comment": [problem]})
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationFailed(
            fields={"comment": [_("At most %(count)s characters.") % {"count": COMMENT_MAX_LENGTH}]}
        )
    return comment


def _check_about(
    *,
    kind: str,
    member: Member | None,
    purchase: Purchase | None,
    invitation: SurveyInvitation | None,
    now: datetime,
) -> None:
    """What the answer is about must be the member's, and an invitation open."""
    member_id = member.pk if member is not None else None
    if purchase is not None and purchase.member_id != member_id:
        message = (
            _("This purchase is not this member's.")
            if member is not None
            else _("This purchase is a member's: say which member answers.")
        )
        raise ValidationFailed(fields={"purchase_id": [message]})
    if invitation is not None:
        if (
            invitation.member_id != member_id
            or invitation.kind != kind
            or (purchase is not None and invitation.purchase_id != purchase.pk)
        ):
            raise ValueError("the invitation is not for this answer")
        if invitation.answered_at is not None or invitation.expires_at <= now:
            raise SurveyClosed()
    if member is not None and purchase is None:
        recent = Feedback.objects.filter(
            member=member, kind=kind, purchase__isnull=True, created_at__gt=now - UNLINKED_GAP
        )
        if recent.exists():
            raise ValidationFailed(
                _("You told us how we are doing today already: thank you. Tell us again tomorrow.")
            )


@atomic_whole
def feedback_record(
    *,
    kind: str,
    score: int,
    source: str,
    actor: Actor,
    comment: str = "",
    member: Member | None = None,
    purchase: Purchase | None = None,
    store: Store | None = None,
    invitation: SurveyInvitation | None = None,
    now: datetime | None = None,
) -> FeedbackRecorded:
    """Record an answer to survey `kind`: `score` in its range (0 is a score),
    a comment of at most COMMENT_MAX_LENGTH, by `member` (None: anonymous)
    about `purchase` (theirs; None for an anonymous sale's) or in answer to
    `invitation` (theirs, open; its purchase is the answer's). The store is
    the purchase's, else `store`.

    All in one transaction: the answer; a detractor's answer with a member in
    the follow-up queue, due the survey's `follow_up_hours` later; for an
    invitation, the survey's custom event (paid by the event campaigns that
    reward it); the `feedback.received` webhook event.

    One answer of each kind a purchase: the same answer again (same member,
    score and comment) replays the first (`replayed`), another is refused.
    A member's answers about no purchase: one of each kind a day.

    Raises ValidationFailed (kind, score, comment, purchase_id), SurveyClosed,
    FeedbackExists, MemberInactive; then nothing is written."""
    now = now or timezone.now()
    score = _score_clean(kind, score)
    comment = _comment_clean(comment)
    if invitation is not None and purchase is None:
        purchase = invitation.purchase
    if member is not None:
        member_ensure_active(member)
    _check_about(kind=kind, member=member, purchase=purchase, invitation=invitation, now=now)
    feedback = Feedback(
        kind=kind,
        score=score,
        comment=comment,
        member=member,
        purchase=purchase,
        store=purchase.store if purchase is not None else store,
        invitation=invitation,
        source=source,
        created_at=now,
    )
    if purchase is None:
        insert(feedback)
    elif not insert_unless_taken(feedback, unique=("purchase", "kind")):
        return _feedback_replay(feedback)
    if invitation is not None:
        claimed = SurveyInvitation.objects.filter(pk=invitation.pk, answered_at__isnull=True)
        if not claimed.update(answered_at=now):
            raise SurveyClosed()
        invitation.answered_at = now
    survey = survey_settings_get(kind=kind)
    follow_up = None
    if member is not None and score_is_detractor(kind, score):
        follow_up = follow_up_create(
            feedback=feedback,
            store=feedback.store or member.home_store,
            due_at=now + timedelta(hours=survey.follow_up_hours),
        )
    points = 0
    if invitation is not None and survey.answer_event:
        assert member is not None
        recorded = event_record(
            member=member,
            name=survey.answer_event,
            reference=f"survey:{invitation.pk}",
            occurred_at=now,
            actor=actor,
            store=feedback.store,
            now=now,
        )
        points = sum(award["points"] for award in recorded.response["awards"])
    webhook_emit(
        WebhookEventType.FEEDBACK_RECEIVED,
        lambda: _feedback_webhook_data(feedback, follow_up),
        key=f"feedback:{feedback.pk}",
        now=now,
    )
    return FeedbackRecorded(feedback=feedback, follow_up=follow_up, points=points)


def _feedback_replay(attempt: Feedback) -> FeedbackRecorded:
    """The purchase's answer of this kind, when `attempt` repeats it; else
    FeedbackExists."""
    first = (
        Feedback.objects.select_related("member", "store")
        .filter(purchase_id=attempt.purchase_id, kind=attempt.kind)
        .first()
    )
    if first is None or (first.member_id, first.score, first.comment) != (
        attempt.member_id,
        attempt.score,
        attempt.comment,
    ):
        raise FeedbackExists(fields={"purchase_id": [str(FeedbackExists.default_message)]})
    return FeedbackRecorded(
        feedback=first, follow_up=FollowUp.objects.filter(feedback=first).first(), replayed=True
    )
