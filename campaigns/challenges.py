"""Every write about challenges and badges (docs/challenges.md): the
marketers' (badges and challenges, audited), the members' (joining a
challenge, a leaderboard nickname), and the flows' hooks that move progress
in the transaction of what moved it (a sale, a return, an event, a referral).

Progress is written only under the member's points-account lock, which the
sale, the return, the event and the referral's settling hold (members.locks):
so one member's moves are serialised, the participation rows are read and
written without a race, and a completion is seen by the next move. A round's
completion is paid once: its ChallengeAward row is inserted with
`ON CONFLICT DO NOTHING` on (challenge, member, round, kind, weeks), and only
the move that inserts it pays (points with their own idempotency key, the
badge, the message, the `challenge.completed` event). A sale posted twice
with one Idempotency-Key or receipt number never reaches here the second time
(purchases.services replays it).

What rides on a sale (`challenges_sale_recorded`): nothing when no live sale
challenge admits the member's tier (read from the configuration cache); else
one SELECT of the member's participations and one upsert of those that
moved. A completion adds its award row, ledger entry, badge and outbox event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext_lazy

from campaigns.challenge_engine import (
    COMPLETED,
    EVENT_COUNT,
    REFERRALS,
    SALE_GOALS,
    ChallengeSnapshot,
    Contribution,
    Moved,
    Progress,
    SaleLine,
    contribution_apply,
    contribution_left,
    new_round,
    round_for,
    sale_contribution,
)
from campaigns.challenge_selectors import challenge_snapshot, challenges_live
from campaigns.errors import ChallengeNotJoinable, ChallengeStatusRefused, NicknameRefused
from campaigns.models import (
    CHALLENGE_COUNT_MAX,
    CHALLENGE_FILTER_MAX,
    MONEY_GOALS,
    NICKNAME_MAX_LENGTH,
    NICKNAME_MIN_LENGTH,
    STREAK_MILESTONES_MAX,
    STREAK_WEEKS_MAX,
    Badge,
    CampaignStatus,
    Challenge,
    ChallengeAward,
    ChallengeAwardKind,
    ChallengeGoal,
    ChallengeParticipation,
    LeaderboardProfile,
    MemberBadge,
)
from campaigns.params import EVENT_NAME
from campaigns.selectors import campaign_status_effective
from loyalty.actors import Actor
from loyalty.config import config_cached
from loyalty.db import Lookup, insert_unless_taken, upsert_many
from loyalty.errors import ValidationFailed
from loyalty.limits import POINTS_MAX
from loyalty.models import ProgramSettings, WebhookEventType
from loyalty.notifications import Kind, notify_on_commit
from loyalty.services import audit_record, model_validate, snapshot
from loyalty.webhooks import webhook_emit
from members.history import Text
from members.ledger import Source
from members.locks import account_lock
from members.models import EntryKind, Member, PointsAccount, Tier
from members.points import points_earn, points_reverse
from members.segments import member_in_segments

SOURCE_TYPE = "challenge"
COMPLETED_KIND = "challenge_completed"
CHALLENGE_COMPLETED = Kind(
    COMPLETED_KIND,
    gettext_lazy("A challenge completed"),
    gettext_lazy("Challenge completed: %(challenge)s"),
    ngettext_lazy(
        "Well done! You completed %(challenge)s and earned %(points)s point.",
        "Well done! You completed %(challenge)s and earned %(points)s points.",
        "points",
    ),
    link="portal:challenges",
)
LIVE = (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE)

BADGE_FIELDS = ("name", "description", "icon", "image", "rarity")
CHALLENGE_FIELDS = (
    "name",
    "description",
    "goal",
    "target",
    "categories",
    "skus",
    "event",
    "streak_freezes",
    "streak_milestones",
    "starts_at",
    "ends_at",
    "rolling_days",
    "opt_in",
    "segment",
    "reward_points",
    "badge",
    "reward",
    "repeatable",
    "leaderboard",
)
# What cannot change once a member took part: it would change what their progress means.
GOAL_FIELDS = ("goal", "target", "categories", "skus", "event", "streak_freezes")


# --- Badges ---------------------------------------------------------------------------------------


def _badge_picture(badge: Badge) -> dict[str, Any]:
    picture = snapshot(badge, ["name", "description", "icon", "rarity"])
    picture["image"] = badge.image.name if badge.image else ""
    return picture


@transaction.atomic
def badge_create(*, actor: Actor, **fields: Any) -> Badge:
    """A new badge, audited. Raises ValidationFailed."""
    unknown = set(fields) - set(BADGE_FIELDS)
    if unknown:
        raise TypeError(f"unknown badge fields: {sorted(unknown)}")
    badge = Badge(**fields, created_by=actor.user)
    model_validate(badge, exclude=["created_by"])
    badge.save()
    audit_record(actor=actor, action="badge.create", obj=badge, after=_badge_picture(badge))
    return badge


@transaction.atomic
def badge_update(*, actor: Actor, badge: Badge, **changes: Any) -> Badge:
    """Change a badge (members who hold it keep it), audited with its values
    before and after. Raises ValidationFailed."""
    unknown = set(changes) - set(BADGE_FIELDS)
    if unknown:
        raise TypeError(f"unknown badge fields: {sorted(unknown)}")
    badge = Badge.objects.select_for_update().get(pk=badge.pk)
    before = _badge_picture(badge)
    for name, value in changes.items():
        setattr(badge, name, value)
    model_validate(badge, exclude=["created_by"])
    badge.save()
    after = _badge_picture(badge)
    if after != before:
        audit_record(actor=actor, action="badge.update", obj=badge, before=before, after=after)
    return badge


# --- Challenges -----------------------------------------------------------------------------------


def _picture(challenge: Challenge) -> dict[str, Any]:
    names = [n for n in CHALLENGE_FIELDS if n not in ("segment", "badge", "reward")]
    picture = snapshot(challenge, [*names, "segment_id", "badge_id", "reward_id", "status"])
    picture["tiers"] = (
        sorted(challenge.tiers.values_list("code", flat=True)) if challenge.pk else []
    )
    return picture


def _texts(values: Any, field: str, errors: dict[str, list[str]]) -> list[str]:
    """A list of category names or SKUs, stripped, without repeats."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        errors[field] = [_("Give a list of names.")]
        return []
    cleaned = sorted({v.strip() for v in values if v.strip()})
    if len(cleaned) > CHALLENGE_FILTER_MAX:
        errors[field] = [_("At most %(max)s.") % {"max": CHALLENGE_FILTER_MAX}]
    elif any(len(v) > 100 for v in cleaned):
        errors[field] = [_("Each at most 100 characters.")]
    return cleaned


def _milestones(values: Any, errors: dict[str, list[str]]) -> list[dict[str, int]]:
    """[{"weeks", "points"}] by weeks, each weeks once, within bounds."""
    problem = _('Give a list of {"weeks": 1-%(weeks)s, "points": 1-%(points)s}.') % {
        "weeks": STREAK_WEEKS_MAX,
        "points": POINTS_MAX,
    }
    if not isinstance(values, list) or len(values) > STREAK_MILESTONES_MAX:
        errors["streak_milestones"] = [problem]
        return []
    cleaned: dict[int, int] = {}
    for value in values:
        weeks = value.get("weeks") if isinstance(value, dict) else None
        points = value.get("points") if isinstance(value, dict) else None
        if (
            not isinstance(weeks, int)
            or not isinstance(points, int)
            or isinstance(weeks, bool)
            or isinstance(points, bool)
            or not 1 <= weeks <= STREAK_WEEKS_MAX
            or not 1 <= points <= POINTS_MAX
            or weeks in cleaned
        ):
            errors["streak_milestones"] = [problem]
            return []
        cleaned[weeks] = points
    return [{"weeks": w, "points": cleaned[w]} for w in sorted(cleaned)]


def _challenge_check(challenge: Challenge) -> None:
    """The model's bounds and the rules across fields; writes the lists back
    cleaned. Raises ValidationFailed."""
    errors: dict[str, list[str]] = {}
    try:
        model_validate(challenge, exclude=["created_by", "categories", "skus", "streak_milestones"])
    except ValidationFailed as failed:
        errors.update(failed.fields or {})
    goal = challenge.goal
    challenge.categories = _texts(challenge.categories, "categories", errors)
    challenge.skus = _texts(challenge.skus, "skus", errors)
    challenge.streak_milestones = _milestones(challenge.streak_milestones, errors)
    target = challenge.target
    if "target" not in errors and isinstance(target, Decimal) and goal not in MONEY_GOALS:
        maximum = STREAK_WEEKS_MAX if goal == ChallengeGoal.WEEKLY_STREAK else CHALLENGE_COUNT_MAX
        if target != target.to_integral_value() or not 1 <= target <= maximum:
            errors["target"] = [_("A whole number from 1 to %(max)s.") % {"max": maximum}]
    if goal == ChallengeGoal.CATEGORY_SPEND and not (challenge.categories or challenge.skus):
        errors["categories"] = [_("Name the categories or products (SKUs) that count.")]
    if goal == ChallengeGoal.EVENT_COUNT:
        if not EVENT_NAME.match(challenge.event or ""):
            errors["event"] = [_("Name the event (letters, digits and _, as tills send it).")]
    elif challenge.event:
        errors["event"] = [_("Only an event goal names an event.")]
    if goal == ChallengeGoal.WEEKLY_STREAK:
        if challenge.repeatable:
            errors["repeatable"] = [
                _("A streak goes on after its target: pay longer streaks with milestones.")
            ]
    elif challenge.streak_freezes or challenge.streak_milestones:
        errors["streak_freezes"] = [_("Only a weekly streak has freezes and milestones.")]
    if challenge.reward_id is not None and not challenge.reward.issues_vouchers:
        errors["reward"] = [_("Choose a reward that gives a voucher.")]
    if not (challenge.reward_points or challenge.badge_id or challenge.reward_id):
        errors.setdefault("reward_points", []).append(
            _("Give points, a badge or a reward for completing it.")
        )
    if challenge.ends_at is not None and challenge.ends_at <= challenge.starts_at:
        errors["ends_at"] = [_("The end must be after the start.")]
    if errors:
        raise ValidationFailed(fields=errors)


def _status_next(challenge: Challenge, wanted: str, now: datetime) -> str:
    """The status to store when `wanted` is asked (the campaigns' states and
    moves). Raises ChallengeStatusRefused."""
    from campaigns.services import TRANSITIONS

    current = campaign_status_effective(
        status=challenge.status, starts_at=challenge.starts_at, ends_at=challenge.ends_at, now=now
    )
    if wanted == current:
        return challenge.status
    if wanted not in TRANSITIONS.get(current, ()):
        raise ChallengeStatusRefused(
            _("A challenge that is %(current)s cannot become %(wanted)s.")
            % {
                "current": CampaignStatus(current).label.lower(),
                "wanted": CampaignStatus(wanted).label.lower(),
            }
        )
    if wanted in LIVE:
        if challenge.ends_at is not None and challenge.ends_at <= now:
            raise ChallengeStatusRefused(_("Its end date has passed: move the end date first."))
        return CampaignStatus.ACTIVE if challenge.starts_at <= now else CampaignStatus.SCHEDULED
    return wanted


@transaction.atomic
def challenge_create(
    *,
    actor: Actor,
    tiers: Iterable[Tier] = (),
    status: str = CampaignStatus.DRAFT,
    now: datetime | None = None,
    **fields: Any,
) -> Challenge:
    """A new challenge, a draft unless `status` says otherwise (scheduled and
    active are stored as its window says), audited. Raises ValidationFailed,
    ChallengeStatusRefused."""
    unknown = set(fields) - set(CHALLENGE_FIELDS)
    if unknown:
        raise TypeError(f"unknown challenge fields: {sorted(unknown)}")
    now = now or timezone.now()
    fields.setdefault("starts_at", now)
    challenge = Challenge(**fields, created_by=actor.user)
    _challenge_check(challenge)
    if status != CampaignStatus.DRAFT:
        challenge.status = _status_next(challenge, status, now)
    challenge.save()
    challenge.tiers.set(list(tiers))
    audit_record(actor=actor, action="challenge.create", obj=challenge, after=_picture(challenge))
    return challenge


@transaction.atomic
def challenge_update(
    *,
    actor: Actor,
    challenge: Challenge,
    tiers: Iterable[Tier] | None = None,
    status: str | None = None,
    now: datetime | None = None,
    **changes: Any,
) -> Challenge:
    """Change a challenge; `tiers` None leaves them alone. Once a member took
    part, its goal (goal, target, categories, SKUs, event, freezes) stays;
    an ended challenge does not change. Audited with its values before and
    after. Raises ValidationFailed, ChallengeStatusRefused."""
    unknown = set(changes) - set(CHALLENGE_FIELDS)
    if unknown:
        raise TypeError(f"unknown challenge fields: {sorted(unknown)}")
    now = now or timezone.now()
    challenge = Challenge.objects.select_for_update().get(pk=challenge.pk)
    before = _picture(challenge)
    current = campaign_status_effective(
        status=challenge.status, starts_at=challenge.starts_at, ends_at=challenge.ends_at, now=now
    )
    if current == CampaignStatus.ENDED and (changes or tiers is not None):
        raise ChallengeStatusRefused(_("An ended challenge cannot change."))
    moved = [n for n in GOAL_FIELDS if n in changes and changes[n] != getattr(challenge, n)]
    if moved and challenge.participations.exists():
        raise ValidationFailed(
            fields={
                name: [_("Members already take part: this cannot change any more.")]
                for name in moved
            }
        )
    for name, value in changes.items():
        setattr(challenge, name, value)
    _challenge_check(challenge)
    if status is not None:
        challenge.status = _status_next(challenge, status, now)
    elif challenge.status in LIVE and changes.keys() & {"starts_at", "ends_at"}:
        if challenge.ends_at is not None and challenge.ends_at <= now:
            challenge.status = CampaignStatus.ENDED
        else:
            challenge.status = (
                CampaignStatus.ACTIVE if challenge.starts_at <= now else CampaignStatus.SCHEDULED
            )
    challenge.save()
    if tiers is not None:
        challenge.tiers.set(list(tiers))
    after = _picture(challenge)
    if after != before:
        action = "challenge.status" if status is not None and not changes else "challenge.update"
        audit_record(actor=actor, action=action, obj=challenge, before=before, after=after)
    return challenge


# --- Members: joining, leaderboards ---------------------------------------------------------------


def _in_audience(member: Member, challenge: ChallengeSnapshot, now: datetime) -> bool:
    if not challenge.admits(member.tier_id):
        return False
    if challenge.segment_id is None:
        return True
    return challenge.segment_id in member_in_segments(
        member=member, segment_ids={challenge.segment_id}, now=now
    )


def _progress_of(row: ChallengeParticipation) -> Progress:
    return Progress(
        round=row.round,
        status=row.status,
        progress=row.progress,
        joined_at=row.joined_at,
        ends_at=row.ends_at,
        reached_at=row.reached_at,
        completed_at=row.completed_at,
        times_completed=row.times_completed,
        streak_week=row.streak_week,
        state=row.state or {},
    )


def _row_of(
    challenge_id: int, member_id: int, progress: Progress, now: datetime
) -> ChallengeParticipation:
    return ChallengeParticipation(
        challenge_id=challenge_id,
        member_id=member_id,
        round=progress.round,
        status=progress.status,
        joined_at=progress.joined_at or now,
        ends_at=progress.ends_at,
        progress=progress.progress,
        state=progress.state,
        streak_week=progress.streak_week,
        reached_at=progress.reached_at,
        completed_at=progress.completed_at,
        times_completed=progress.times_completed,
        updated_at=now,
    )


_UPSERT_FIELDS = [
    "round",
    "status",
    "joined_at",
    "ends_at",
    "progress",
    "state",
    "streak_week",
    "reached_at",
    "completed_at",
    "times_completed",
    "updated_at",
]


def _rows_save(rows: list[ChallengeParticipation]) -> None:
    """Insert or update the participations in one statement (the caller holds
    the member's account lock). It rides on sales, so the statement is built
    once per process (loyalty.db), not by the ORM on every sale."""
    upsert_many(rows, unique=("challenge", "member"), update=_UPSERT_FIELDS)


@transaction.atomic
def challenge_join(
    *, member: Member, challenge: Challenge, now: datetime | None = None
) -> ChallengeParticipation:
    """The member takes part in an opt-in challenge from `now`: their window
    starts (rolling challenges: `rolling_days` from now). Joining again while
    taking part changes nothing; after an expired round, or a completed one of
    a repeatable challenge, it starts a new round. Purchases before joining do
    not count. Raises ChallengeNotJoinable (not live, not opt-in, not in the
    audience, completed for good)."""
    now = now or timezone.now()
    account_lock(member_id=member.pk)
    challenge = Challenge.objects.prefetch_related("tiers").get(pk=challenge.pk)
    shot = challenge_snapshot(challenge)
    status = campaign_status_effective(
        status=challenge.status, starts_at=challenge.starts_at, ends_at=challenge.ends_at, now=now
    )
    if status != CampaignStatus.ACTIVE or not shot.live_at(now):
        raise ChallengeNotJoinable(_("This challenge is not running."))
    if not challenge.opt_in:
        raise ChallengeNotJoinable(_("Everyone in this challenge takes part without joining."))
    if member.status != "active" or not _in_audience(member, shot, now):
        raise ChallengeNotJoinable(_("This challenge is not open to you."))
    row = ChallengeParticipation.objects.filter(challenge=challenge, member=member).first()
    if row is None:
        progress = new_round(shot, at=now)
    else:
        current = _progress_of(row)
        window_open = current.ends_at is None or now < current.ends_at
        if current.status == COMPLETED and not challenge.repeatable:
            return row
        if current.status != COMPLETED and window_open:
            return row
        progress = new_round(shot, at=now, after=current)
    _rows_save([_row_of(challenge.pk, member.pk, progress, now)])
    return ChallengeParticipation.objects.get(challenge=challenge, member=member)


_NICKNAME = re.compile(r"[\w .\-]+")


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _nickname_problem(member: Member, nickname: str) -> str | None:
    if not NICKNAME_MIN_LENGTH <= len(nickname) <= NICKNAME_MAX_LENGTH:
        return _("A nickname has %(min)s to %(max)s characters.") % {
            "min": NICKNAME_MIN_LENGTH,
            "max": NICKNAME_MAX_LENGTH,
        }
    if not _NICKNAME.fullmatch(nickname):
        return _("Use letters, digits, spaces, dots, dashes and underscores.")
    key = re.sub(r"[\s.\-_]", "", nickname.casefold())
    personal = [
        member.first_name,
        member.last_name,
        f"{member.first_name}{member.last_name}",
        member.card_number,
    ]
    if member.email:
        personal += [member.email, member.email.split("@")[0]]
    for value in personal:
        value = re.sub(r"[\s.\-_]", "", (value or "").casefold())
        if len(value) >= 3 and value in key:
            return _("A nickname must not show your name, email, phone or card number.")
    digits = _digits(nickname)
    phone = _digits(member.phone or "")
    if len(digits) >= 4 and phone and (digits in phone or phone[-6:] in digits):
        return _("A nickname must not show your name, email, phone or card number.")
    return None


@transaction.atomic
def leaderboard_join(*, member: Member, nickname: str) -> LeaderboardProfile:
    """Show the member on the leaderboards of the challenges they take part
    in, under `nickname` (or change it). A nickname is never the member's
    name, email, phone or card number, nor contains them, and no two members
    share one whatever its case. Raises NicknameRefused."""
    nickname = " ".join(nickname.split())
    problem = _nickname_problem(member, nickname)
    if problem is not None:
        raise NicknameRefused(problem, fields={"nickname": [problem]})
    key = nickname.casefold()
    taken = LeaderboardProfile.objects.filter(nickname_key=key).exclude(member=member).exists()
    if taken:
        message = _("This nickname is taken.")
        raise NicknameRefused(message, fields={"nickname": [message]})
    profile, _created = LeaderboardProfile.objects.update_or_create(
        member=member, defaults={"nickname": nickname, "nickname_key": key}
    )
    return profile


@transaction.atomic
def leaderboard_leave(*, member: Member) -> None:
    """Take the member off every leaderboard (their progress stays)."""
    LeaderboardProfile.objects.filter(member=member).delete()


# --- Moving progress (the flows' hooks) -----------------------------------------------------------


def _live() -> list[ChallengeSnapshot]:
    """The live challenges, from the configuration cache: no query per sale."""
    return config_cached("challenges:live", lambda: challenges_live(now=timezone.now()))


@dataclass(frozen=True)
class _Move:
    challenge: ChallengeSnapshot
    moved: Moved
    contribution: Contribution


# A member's participations in some challenges: on the sale path, so a
# statement built once per process rather than a queryset per sale.
_PARTICIPATIONS = Lookup(ChallengeParticipation, "member_id", within="challenge_id")


def _moves_for(
    *,
    member: Member,
    challenges: list[ChallengeSnapshot],
    at: datetime,
    contribute: Any,
) -> tuple[list[_Move], dict[int, ChallengeParticipation]]:
    """The moves of the member's participations in `challenges` (one SELECT;
    automatic challenges of a segment check it once, when their row is new),
    `contribute(challenge, round) -> Contribution | None`."""
    rows = {
        row.challenge_id: row
        for row in _PARTICIPATIONS.all(member.pk, within=[c.id for c in challenges])
    }
    fresh = [c for c in challenges if c.id not in rows and not c.opt_in]
    wanted = {c.segment_id for c in fresh if c.segment_id is not None}
    segments = member_in_segments(member=member, segment_ids=wanted, now=at) if wanted else set()
    moves = []
    for challenge in challenges:
        row = rows.get(challenge.id)
        if row is None and (
            challenge.opt_in
            or (challenge.segment_id is not None and challenge.segment_id not in segments)
        ):
            continue
        current = _progress_of(row) if row is not None else None
        progress = round_for(challenge, current, at)
        if progress is None:
            continue
        contribution = contribute(challenge, progress.round)
        if contribution is None:
            continue
        moved = contribution_apply(challenge, progress, contribution, sign=1, at=at)
        moves.append(_Move(challenge, moved, contribution))
    return moves, rows


def _pay(
    move: _Move,
    *,
    member: Member,
    account: PointsAccount,
    source: Source,
    occurred_at: datetime,
    now: datetime,
    program: ProgramSettings,
) -> bool:
    """Pay the round's completion and the streak milestones this move reached,
    each once (its award row). Returns whether a completion was paid."""
    challenge, moved = move.challenge, move.moved
    paid_completion = False
    due = [(ChallengeAwardKind.MILESTONE, weeks, points) for weeks, points in moved.milestones]
    if moved.completed:
        due.insert(0, (ChallengeAwardKind.COMPLETION, 0, challenge.reward_points))
    for kind, weeks, points in due:
        completion = kind == ChallengeAwardKind.COMPLETION
        award = ChallengeAward(
            challenge_id=challenge.id,
            member_id=member.pk,
            round=moved.progress.round,
            kind=kind,
            weeks=weeks,
            points=points,
            badge_id=challenge.badge_id if completion else None,
            source_type=source.type,
            source_id=source.id,
            created_at=now,
        )
        if not insert_unless_taken(award, unique=("challenge", "member", "round", "kind", "weeks")):
            continue
        description = (
            Text("challenge.completed", challenge=challenge.name)
            if completion
            else Text("challenge.milestone", challenge=challenge.name, weeks=weeks)
        )
        points_earn(
            member=member,
            points=points,
            kind=EntryKind.BONUS,
            description=description,
            source=Source(SOURCE_TYPE, str(award.pk)),
            occurred_at=occurred_at,
            now=now,
            program=program,
            idempotency_key=f"challenge:{award.pk}",
            key_unused=True,
            account=account,
        )
        if not completion:
            continue
        paid_completion = True
        badge_name = ""
        if challenge.badge_id is not None:
            held = MemberBadge.objects.filter(member_id=member.pk, badge_id=challenge.badge_id)
            if not held.update(times=F("times") + 1):
                MemberBadge.objects.create(
                    member_id=member.pk,
                    badge_id=challenge.badge_id,
                    challenge_id=challenge.id,
                    earned_at=now,
                )
            badge_name = Badge.objects.values_list("name", flat=True).get(pk=challenge.badge_id)
        if challenge.reward_id is not None:
            # Its stock row comes after the sale's gift cards in no flow's lock
            # order: the voucher is issued in its own transaction, after this one.
            transaction.on_commit(
                lambda award_id=award.pk: _reward_grant_queue(award_id), robust=True
            )
        notify_on_commit(
            member_id=member.pk,
            kind=COMPLETED_KIND,
            context={"challenge": challenge.name, "points": points, "badge": badge_name},
            event_key=f"challenge:{award.pk}",
            at=occurred_at,
        )
        webhook_emit(
            WebhookEventType.CHALLENGE_COMPLETED,
            lambda award=award, badge_name=badge_name: {
                "member_id": member.public_id,
                "challenge": challenge.id,
                "name": challenge.name,
                "round": award.round,
                "points": award.points,
                "badge": challenge.badge_id,
                "source": {"type": award.source_type, "id": award.source_id},
                "completed_at": occurred_at.isoformat(),
            },
            now=now,
        )
    return paid_completion


def _reward_grant_queue(award_id: int) -> None:
    from campaigns.tasks import challenge_reward_grant_task

    challenge_reward_grant_task.delay(award_id)


def challenge_reward_grant(*, award_id: int, now: datetime | None = None) -> int | None:
    """Issue the catalogue reward of a completion (a free voucher,
    rewards.services.reward_grant), once however often it runs: the member's
    account is locked, then the award row, whose `voucher_id` says it was
    issued. Returns the voucher's id, or None (no such award, no reward, or
    none left to give: out of stock, archived)."""
    from rewards.services import reward_grant

    now = now or timezone.now()
    with transaction.atomic():
        member_id = (
            ChallengeAward.objects.filter(pk=award_id).values_list("member_id", flat=True).first()
        )
        if member_id is None:
            return None
        account_lock(member_id=member_id)
        award = (
            ChallengeAward.objects.select_for_update(of=("self",))
            .select_related("challenge__reward", "member")
            .get(pk=award_id)
        )
        reward = award.challenge.reward
        if award.voucher_id is not None or reward is None or award.reversed_at is not None:
            # A completion taken back (its sale returned in full) before its
            # voucher went out is owed nothing more.
            return award.voucher_id
        voucher = reward_grant(member=award.member, reward=reward, now=now)
        if voucher is not None:
            award.voucher_id = voucher.pk
            award.save(update_fields=["voucher_id"])
        return award.voucher_id


# How long a completion's catalogue reward is tried again while none is left.
REWARD_OWED_DAYS = 30


def challenge_rewards_owed(*, now: datetime) -> int:
    """Issue the catalogue rewards that completions of the last
    REWARD_OWED_DAYS are still owed: their task was lost, or the reward was
    out of stock, inactive or archived when it ran (restocked since, the
    voucher goes out now). Each is issued once however often this runs
    (challenge_reward_grant). Returns how many vouchers it issued."""
    owed = ChallengeAward.objects.filter(
        kind=ChallengeAwardKind.COMPLETION,
        challenge__reward__isnull=False,
        voucher_id__isnull=True,
        reversed_at__isnull=True,
        created_at__gte=now - timedelta(days=REWARD_OWED_DAYS),
        created_at__lte=now,
    ).order_by("pk")
    return sum(
        1
        for pk in list(owed.values_list("pk", flat=True))
        if challenge_reward_grant(award_id=pk, now=now) is not None
    )


def _apply(
    moves: list[_Move],
    *,
    member: Member,
    account: PointsAccount,
    source: Source,
    occurred_at: datetime,
    now: datetime,
    program: ProgramSettings,
) -> set[int]:
    """Write the moves (one upsert) and pay what they completed. Returns the
    ids of the challenges whose completion this paid."""
    moved_by = f"{source.type}:{source.id}"
    _rows_save(
        [
            _row_of(
                m.challenge.id,
                member.pk,
                replace(m.moved.progress, state={**m.moved.progress.state, "moved_by": moved_by}),
                now,
            )
            for m in moves
        ]
    )
    return {
        move.challenge.id
        for move in moves
        if (move.moved.completed or move.moved.milestones)
        and _pay(
            move,
            member=member,
            account=account,
            source=source,
            occurred_at=occurred_at,
            now=now,
            program=program,
        )
    }


def challenges_sale_recorded(
    *,
    member: Member,
    account: PointsAccount,
    purchase_id: int,
    store_id: int,
    total: Decimal,
    lines: list[SaleLine],
    occurred_at: datetime,
    now: datetime,
    program: ProgramSettings,
) -> dict[str, Any]:
    """Move the member's sale challenges by a sale (the caller holds the
    member's points account, inside its writes block): see the module
    docstring for what it costs. Returns what the sale added to each, for
    Purchase.challenges (`{"<id>": {..., "completed": true}}`; empty: none)."""
    challenges = [
        c
        for c in _live()
        if c.goal in SALE_GOALS and c.live_at(occurred_at) and c.admits(member.tier_id)
    ]
    if not challenges:
        return {}

    def contribute(challenge: ChallengeSnapshot, round: int) -> Contribution | None:
        return sale_contribution(
            challenge, round=round, total=total, lines=lines, store_id=store_id, at=occurred_at
        )

    moves, _rows = _moves_for(
        member=member, challenges=challenges, at=occurred_at, contribute=contribute
    )
    if not moves:
        return {}
    completed = _apply(
        moves,
        member=member,
        account=account,
        source=Source("purchase", str(purchase_id)),
        occurred_at=occurred_at,
        now=now,
        program=program,
    )
    added: dict[str, Any] = {}
    for move in moves:
        data = move.contribution.as_json()
        if move.challenge.id in completed or move.moved.milestones:
            data["completed"] = True
        added[str(move.challenge.id)] = data
    return added


def _counted(
    *,
    member: Member,
    account: PointsAccount,
    goal: str,
    event: str | None,
    source: Source,
    occurred_at: datetime,
    now: datetime,
    program: ProgramSettings,
) -> None:
    challenges = [
        c
        for c in _live()
        if c.goal == goal
        and (event is None or c.event == event)
        and c.live_at(occurred_at)
        and c.admits(member.tier_id)
    ]
    if not challenges:
        return
    moves, _rows = _moves_for(
        member=member,
        challenges=challenges,
        at=occurred_at,
        contribute=lambda _challenge, round: Contribution(round=round),
    )
    if moves:
        _apply(
            moves,
            member=member,
            account=account,
            source=source,
            occurred_at=occurred_at,
            now=now,
            program=program,
        )


def challenges_event_recorded(
    *,
    member: Member,
    account: PointsAccount,
    event_id: int,
    name: str,
    occurred_at: datetime,
    now: datetime,
    program: ProgramSettings,
) -> None:
    """Count the member's event `name` in their live event challenges of that
    event (the caller holds the member's points account)."""
    _counted(
        member=member,
        account=account,
        goal=EVENT_COUNT,
        event=name,
        source=Source("event", str(event_id)),
        occurred_at=occurred_at,
        now=now,
        program=program,
    )


def challenges_referral_rewarded(
    *,
    member: Member,
    account: PointsAccount,
    referral_id: int,
    occurred_at: datetime,
    now: datetime,
    program: ProgramSettings,
) -> None:
    """Count a friend the member referred, rewarded now, in their live
    referral challenges (the caller holds the member's points account)."""
    _counted(
        member=member,
        account=account,
        goal=REFERRALS,
        event=None,
        source=Source("referral", str(referral_id)),
        occurred_at=occurred_at,
        now=now,
        program=program,
    )


def challenges_purchase_returned(
    *,
    member: Member,
    purchase_id: int,
    added: str,
    total: Decimal,
    returned_before: Decimal,
    returned_after: Decimal,
    now: datetime,
) -> None:
    """Take back from the member's challenges what a return gives back of a
    sale that added `added` to them (Purchase.challenges): each share derived
    from everything returned so far (`returned_after` of `total`) less what
    earlier returns took (`returned_before`), so the sale returned in full
    leaves nothing. A completed round stays completed; when the sale that
    completed it (or reached a streak milestone) comes back in full, the
    points it paid are taken back, with a history line that says why.
    Nothing to do, no statement, for a sale that added nothing."""
    if not added:
        return
    contributions = json_contributions(added)
    account_lock(member_id=member.pk)
    rows = {
        row.challenge_id: row
        for row in ChallengeParticipation.objects.select_related("challenge").filter(
            member_id=member.pk, challenge_id__in=list(contributions)
        )
    }
    saves = []
    for challenge_id, (contribution, _completed) in contributions.items():
        row = rows.get(challenge_id)
        if row is None or row.round != contribution.round:
            continue
        before = contribution_left(contribution, returned=returned_before, total=total)
        after = contribution_left(contribution, returned=returned_after, total=total)
        back = Contribution(
            round=contribution.round,
            count=before.count - after.count,
            amount=before.amount - after.amount,
            store=contribution.store,
            week=contribution.week,
        )
        if not back.count and not back.amount:
            continue
        shot = challenge_snapshot(row.challenge, tier_ids=frozenset())
        moved = contribution_apply(shot, _progress_of(row), back, sign=-1, at=now)
        saves.append(_row_of(challenge_id, member.pk, moved.progress, now))
    _rows_save(saves)
    if returned_after < total or not any(done for _c, done in contributions.values()):
        return
    awards = ChallengeAward.objects.select_related("challenge").filter(
        member_id=member.pk,
        source_type="purchase",
        source_id=str(purchase_id),
        reversed_at__isnull=True,
    )
    for award in awards:
        points_reverse(
            member=member,
            points=award.points,
            description=Text("challenge.reversed", challenge=award.challenge.name),
            source=Source(SOURCE_TYPE, str(award.pk)),
            now=now,
        )
        award.reversed_at = now
        award.save(update_fields=["reversed_at"])


def json_contributions(added: str) -> dict[int, tuple[Contribution, bool]]:
    """Purchase.challenges read back: {challenge id: (contribution, completed)}."""
    data = json.loads(added) if added else {}
    return {
        int(pk): (Contribution.from_json(value), bool(value.get("completed")))
        for pk, value in data.items()
    }
