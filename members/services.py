"""Every write about members and tiers, and the ledger operations other apps call.

Ledger mechanics live in `members/ledger.py`; the functions here add the
business rules (member status, staff limits, tiers) and the audit trail.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.limits import POINTS_MAX
from loyalty.models import ProgramSettings, Store, TierBasis, User
from loyalty.roles import MANAGE_PROGRAM
from loyalty.selectors import program_settings_get
from loyalty.services import audit_record, model_validate, snapshot
from members import ledger
from members.errors import AdjustmentLimit, MemberExists, MemberInactive, TierInUse
from members.identifiers import (
    EXTERNAL_ID_MAX_LENGTH,
    new_card_number,
    new_referral_code,
    normalise_email,
    normalise_external_id,
    normalise_phone,
)
from members.ledger import Reversal, Source
from members.locks import account_lock
from members.models import (
    EntryKind,
    Member,
    MemberActivity,
    MemberStatus,
    PointsAccount,
    PointsEntry,
    Tier,
    TierChange,
)
from members.selectors import member_qualifying_value, qualifying_since, tier_for_value

MEMBER_FIELDS = (
    "email",
    "phone",
    "external_id",
    "first_name",
    "last_name",
    "birth_date",
    "status",
    "language",
    "marketing_consent",
    "tags",
    "home_store",
)
TIER_FIELDS = ("code", "name", "threshold", "multiplier", "retention_days", "benefits", "color")

# --- Members -----------------------------------------------------------------------------


def _contacts(email: str | None, phone: str | None) -> tuple[str | None, str | None]:
    email = normalise_email(email)
    try:
        phone = normalise_phone(phone)
    except ValueError as exc:
        raise ValidationFailed(fields={"phone": [_("Enter a valid phone number.")]}) from exc
    return email, phone


def _external_id(value: str | None) -> str | None:
    external_id = normalise_external_id(value)
    if external_id is not None and len(external_id) > EXTERNAL_ID_MAX_LENGTH:
        raise ValidationFailed(
            fields={"external_id": [_("Use at most 64 characters for the external id.")]}
        )
    return external_id


def _check_contacts_free(
    email: str | None,
    phone: str | None,
    *,
    external_id: str | None = None,
    exclude: int | None = None,
) -> None:
    taken: dict[str, list[str]] = {}
    others = Member.objects.exclude(pk=exclude) if exclude else Member.objects.all()
    if email and others.filter(email=email).exists():
        taken["email"] = [_("A member with this email already exists.")]
    if phone and others.filter(phone=phone).exists():
        taken["phone"] = [_("A member with this phone number already exists.")]
    if external_id and others.filter(external_id=external_id).exists():
        taken["external_id"] = [_("A member with this external id already exists.")]
    if taken:
        raise MemberExists(fields=taken)


@transaction.atomic
def member_enrol(
    *,
    actor: Actor,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
    first_name: str = "",
    last_name: str = "",
    birth_date: date | None = None,
    language: str = settings.LANGUAGE_CODE,
    marketing_consent: bool = False,
    tags: list[str] | None = None,
    home_store: Store | None = None,
    user: User | None = None,
    now: datetime | None = None,
) -> Member:
    """Enrol a member with an empty account at the entry tier.

    Email or phone is required; each is unique once normalised (case, spaces,
    the +60 prefix), and so is the optional `external_id` (the merchant's own
    customer id, stripped). Raises ValidationFailed / MemberExists naming the
    fields.
    """
    now = now or timezone.now()
    email, phone = _contacts(email, phone)
    external_id = _external_id(external_id)
    if not email and not phone:
        raise ValidationFailed(
            fields={
                "email": [_("Give an email or a phone number.")],
                "phone": [_("Give an email or a phone number.")],
            }
        )
    if language not in {code for code, _name in settings.LANGUAGES}:
        raise ValidationFailed(fields={"language": [_("Choose English or Bahasa Melayu.")]})
    _check_contacts_free(email, phone, external_id=external_id)
    entry_tier = Tier.objects.filter(threshold=0).first()
    for _attempt in range(5):
        try:
            with transaction.atomic():
                member = Member.objects.create(
                    card_number=new_card_number(),
                    referral_code=new_referral_code(),
                    user=user,
                    email=email,
                    phone=phone,
                    external_id=external_id,
                    first_name=first_name.strip(),
                    last_name=last_name.strip(),
                    birth_date=birth_date,
                    language=language,
                    marketing_consent=marketing_consent,
                    tags=sorted(set(tags or [])),
                    home_store=home_store,
                    joined_at=now,
                    tier=entry_tier,
                    tier_since=now if entry_tier else None,
                )
            break
        except IntegrityError:
            # A random card number or referral code collided (or the contact was
            # taken a moment ago): check the contacts again, then draw new numbers.
            _check_contacts_free(email, phone, external_id=external_id)
    else:
        raise ValidationFailed(_("Could not allocate a card number; try again."))
    PointsAccount.objects.create(member=member)
    if entry_tier:
        TierChange.objects.create(
            member=member, to_tier=entry_tier, reason=TierChange.Reason.JOIN, created_at=now
        )
    if actor.user is not None or actor.api_key is not None:
        audit_record(
            actor=actor, action="member.enrol", obj=member, after=snapshot(member, MEMBER_FIELDS)
        )
    return member


@transaction.atomic
def member_enrol_from_signup(*, user: User, language: str) -> Member:
    """The member of a user who signed up on the portal.

    A member enrolled earlier at the counter with the same email is linked to
    the new login rather than duplicated (the login can only be used once the
    email is verified). Idempotent for a user who already has a member.
    """
    existing = Member.objects.filter(user=user).first()
    if existing is not None:
        return existing
    languages = {code for code, _name in settings.LANGUAGES}
    language = language if language in languages else settings.LANGUAGE_CODE
    email = normalise_email(user.email)
    unclaimed = Member.objects.select_for_update().filter(email=email, user__isnull=True).first()
    if unclaimed is not None:
        unclaimed.user = user
        unclaimed.save(update_fields=["user"])
        return unclaimed
    return member_enrol(
        actor=Actor.system(),
        email=email,
        first_name=user.first_name,
        last_name=user.last_name,
        language=language,
        user=user,
    )


@transaction.atomic
def member_register(
    *, email: str, password: str, first_name: str, last_name: str = "", language: str = "en"
) -> Member:
    """A member with a portal login whose email is already verified (demo data,
    imports). Portal visitors sign up through allauth instead."""
    email = normalise_email(email) or ""
    user = User.objects.create_user(
        email=email, password=password, first_name=first_name, last_name=last_name
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return member_enrol_from_signup(user=user, language=language)


@transaction.atomic
def member_update(*, actor: Actor, member: Member, **changes: Any) -> Member:
    """Change a member's details (`MEMBER_FIELDS`). Raises ValidationFailed or
    MemberExists naming the fields."""
    unknown = set(changes) - set(MEMBER_FIELDS)
    if unknown:
        raise ValidationFailed(
            fields={name: [_("This field cannot be changed.")] for name in sorted(unknown)}
        )
    member = Member.objects.select_for_update().get(pk=member.pk)
    before = snapshot(member, MEMBER_FIELDS)
    if "email" in changes or "phone" in changes:
        email, phone = _contacts(
            changes.get("email", member.email), changes.get("phone", member.phone)
        )
        if not email and not phone:
            raise ValidationFailed(fields={"email": [_("Give an email or a phone number.")]})
        _check_contacts_free(email, phone, exclude=member.pk)
        changes["email"], changes["phone"] = email, phone
    if "external_id" in changes:
        changes["external_id"] = _external_id(changes["external_id"])
        _check_contacts_free(None, None, external_id=changes["external_id"], exclude=member.pk)
    if "status" in changes and changes["status"] not in MemberStatus.values:
        raise ValidationFailed(fields={"status": [_("Unknown status.")]})
    for name, value in changes.items():
        setattr(member, name, value)
    member.save()
    audit_record(
        actor=actor,
        action="member.update",
        obj=member,
        before=before,
        after=snapshot(member, MEMBER_FIELDS),
    )
    return member


@transaction.atomic
def member_set_language(*, member: Member, language: str) -> Member:
    """Remember the member's language (emails and notifications follow it)."""
    languages = {code for code, _name in settings.LANGUAGES}
    if language in languages and member.language != language:
        Member.objects.filter(pk=member.pk).update(language=language)
        member.language = language
    return member


def member_ensure_active(member: Member) -> None:
    """Raises MemberInactive for a blocked or deleted member."""
    if member.status != MemberStatus.ACTIVE:
        raise MemberInactive()


# --- Tiers -----------------------------------------------------------------------------------


@transaction.atomic
def tier_create(*, actor: Actor, **fields: Any) -> Tier:
    """Create a tier. Raises ValidationFailed if the code or threshold is taken."""
    if Tier.objects.filter(code=fields.get("code")).exists():
        raise ValidationFailed(fields={"code": [_("A tier with this code already exists.")]})
    if Tier.objects.filter(threshold=fields.get("threshold")).exists():
        raise ValidationFailed(fields={"threshold": [_("Another tier has this threshold.")]})
    tier = Tier(**fields)
    model_validate(tier)
    tier.save()
    audit_record(actor=actor, action="tier.create", obj=tier, after=snapshot(tier, TIER_FIELDS))
    return tier


@transaction.atomic
def tier_update(*, actor: Actor, tier: Tier, **changes: Any) -> Tier:
    tier = Tier.objects.select_for_update().get(pk=tier.pk)
    if (
        "threshold" in changes
        and Tier.objects.exclude(pk=tier.pk).filter(threshold=changes["threshold"]).exists()
    ):
        raise ValidationFailed(fields={"threshold": [_("Another tier has this threshold.")]})
    before = snapshot(tier, TIER_FIELDS)
    for name, value in changes.items():
        if name not in TIER_FIELDS or name == "code":
            raise ValidationFailed(fields={name: [_("This field cannot be changed.")]})
        setattr(tier, name, value)
    model_validate(tier)
    tier.save()
    audit_record(
        actor=actor,
        action="tier.update",
        obj=tier,
        before=before,
        after=snapshot(tier, TIER_FIELDS),
    )
    return tier


@transaction.atomic
def tier_delete(*, actor: Actor, tier: Tier) -> None:
    """Delete a tier nobody holds or ever held. Raises TierInUse (saying how
    many members hold it) otherwise."""
    holders = Member.objects.filter(tier=tier).count()
    if holders:
        raise TierInUse(
            ngettext(
                "%(count)s member holds this tier; move them to another tier before deleting it.",
                "%(count)s members hold this tier; move them to another tier before deleting it.",
                holders,
            )
            % {"count": holders}
        )
    if TierChange.objects.filter(Q(from_tier=tier) | Q(to_tier=tier)).exists():
        # The members' tier history names it: deleting it would rewrite that history.
        raise TierInUse(
            _(
                "Members held this tier before and their tier history names it, "
                "so it cannot be deleted."
            )
        )
    audit_record(actor=actor, action="tier.delete", obj=tier, before=snapshot(tier, TIER_FIELDS))
    tier.delete()


def _tier_change(
    member: Member, to_tier: Tier | None, reason: str, now: datetime, note: str = ""
) -> None:
    TierChange.objects.create(
        member=member,
        from_tier=member.tier,
        to_tier=to_tier,
        reason=reason,
        note=note,
        created_at=now,
    )
    Member.objects.filter(pk=member.pk).update(tier=to_tier, tier_since=now)
    member.tier, member.tier_since = to_tier, now


def member_tier_review(
    *,
    member: Member,
    now: datetime,
    allow_downgrade: bool,
    value: Decimal | None = None,
    program: ProgramSettings | None = None,
) -> Member:
    """Put the member in the tier their qualifying value earns. Upgrades apply
    at once; a downgrade (nightly job only) waits until the current tier's
    retention period is over. A tier set by hand holds until its date; the
    first nightly review after that date puts the member in the tier the rules
    give at once (no retention counts from the day it was set) and ends the
    override. A caller that already read the program settings passes them as
    `program`. The caller holds the member's points-account lock
    (members.locks), as a sale and the nightly review do, so the value read
    and the tier written cannot straddle another sale's."""
    override = member.tier_override_until
    if override is not None and override >= timezone.localdate(now):
        return member
    lapsed = override is not None and allow_downgrade
    program = program or program_settings_get()
    tiers = list(Tier.objects.order_by("threshold"))
    if value is None:
        value = member_qualifying_value(member_id=member.pk, now=now, program=program)
    target = tier_for_value(tiers, value)
    current = member.tier
    if target is not None and (current is None or target.pk != current.pk):
        if current is None or target.threshold > current.threshold:
            _tier_change(member, target, TierChange.Reason.UPGRADE, now)
        elif allow_downgrade:
            held_since = member.tier_since or member.joined_at
            if lapsed or held_since + timedelta(days=current.retention_days) <= now:
                _tier_change(member, target, TierChange.Reason.DOWNGRADE, now)
    if lapsed:
        Member.objects.filter(pk=member.pk).update(tier_override_until=None)
        member.tier_override_until = None
    return member


@transaction.atomic
def member_tier_set(
    *, actor: Actor, member: Member, tier: Tier, until: date, now: datetime | None = None
) -> Member:
    """A manager puts a member in a tier by hand, kept until `until` (then the
    nightly review applies the rules again)."""
    now = now or timezone.now()
    member = Member.objects.select_for_update().get(pk=member.pk)
    before = {"tier": member.tier.code if member.tier else None, "until": None}
    if member.tier_override_until:
        before["until"] = member.tier_override_until.isoformat()
    _tier_change(member, tier, TierChange.Reason.MANUAL, now, note=actor.label)
    Member.objects.filter(pk=member.pk).update(tier_override_until=until)
    member.tier_override_until = until
    audit_record(
        actor=actor,
        action="member.tier_set",
        obj=member,
        before=before,
        after={"tier": tier.code, "until": until.isoformat()},
    )
    return member


def tiers_review_all(*, as_of: datetime) -> int:
    """The nightly tier review: every member's qualifying value in one grouped
    query, then a change only where the tier should differ or a tier set by
    hand has passed its date. Returns the number of members whose tier changed."""
    program = program_settings_get()
    tiers = list(Tier.objects.order_by("threshold"))
    if not tiers:
        return 0
    column = "spend" if program.tier_basis == TierBasis.SPEND else "points"
    activity = MemberActivity.objects.filter(occurred_at__lte=as_of)
    since = qualifying_since(program, as_of)
    if since is not None:
        activity = activity.filter(occurred_at__gt=since)
    values = dict(
        activity.values("member_id").annotate(total=Sum(column)).values_list("member_id", "total")
    )
    changed = 0
    today = timezone.localdate(as_of)
    members = Member.objects.exclude(status=MemberStatus.DELETED).select_related("tier")
    for member in members.iterator(chunk_size=500):
        value = Decimal(values.get(member.pk) or 0)
        target = tier_for_value(tiers, value)
        lapsed = member.tier_override_until is not None and member.tier_override_until < today
        if not lapsed and (target is None or member.tier_id == target.pk):
            continue
        changed += int(
            _member_tier_review_locked(member_id=member.pk, as_of=as_of, program=program)
        )
    return changed


@transaction.atomic
def _member_tier_review_locked(
    *, member_id: int, as_of: datetime, program: ProgramSettings
) -> bool:
    """Review one member under their points-account lock, the lock a sale
    holds while it records its activity and upgrades: the member and their
    qualifying value are read again under it, so a sale that landed since the
    grouped read is counted, never undone. Returns whether the tier changed."""
    account_lock(member_id=member_id)
    member = Member.objects.select_related("tier").get(pk=member_id)
    before = member.tier_id
    member_tier_review(member=member, now=as_of, allow_downgrade=True, program=program)
    return member.tier_id != before


# --- Activity and points, for the flows above members -----------------------------------------


def member_record_activity(
    *, member: Member, occurred_at: datetime, spend: Decimal, points: int, source: Source
) -> None:
    """Count a purchase (or, negative, a return) towards tiers and segments."""
    MemberActivity.objects.create(
        member=member,
        occurred_at=occurred_at,
        spend=spend,
        points=points,
        source_type=source.type,
        source_id=source.id,
    )
    PointsAccount.objects.filter(member=member).update(lifetime_spend=F("lifetime_spend") + spend)


def points_earn(
    *,
    member: Member,
    points: int,
    kind: EntryKind,
    description: str,
    source: Source,
    occurred_at: datetime,
    now: datetime,
    program: ProgramSettings,
    idempotency_key: str | None = None,
    account: PointsAccount | None = None,
) -> PointsEntry | None:
    """Award points for something the member did at `occurred_at`: pending for
    the program's `pending_days`, then spendable until `expiry_days` after that.
    A backdated purchase (a till that was offline) starts both clocks at its
    `occurred_at`, not when it reached us. `account`: the member's account when
    the caller already locked it (members.locks)."""
    if points <= 0:
        return None
    return ledger.points_credit(
        member_id=member.pk,
        points=points,
        kind=kind,
        now=now,
        available_at=occurred_at + timedelta(days=program.pending_days),
        expiry_days=program.expiry_days,
        description=description,
        source=source,
        idempotency_key=idempotency_key,
        account=account,
    )


def points_pay(
    *,
    member: Member,
    points: int,
    description: str,
    source: Source,
    now: datetime,
    account: PointsAccount | None = None,
) -> PointsEntry:
    """Spend points (at the till, or on a reward). Raises InsufficientPoints.
    `account`: the member's account when the caller already locked it."""
    return ledger.points_debit(
        member_id=member.pk,
        points=points,
        kind=EntryKind.REDEEM,
        now=now,
        description=description,
        source=source,
        account=account,
    )


def points_refund(
    *,
    member: Member,
    points: int,
    description: str,
    source: Source,
    now: datetime,
    program: ProgramSettings,
) -> PointsEntry | None:
    """Give back points that were spent (a returned sale paid with points, a
    cancelled redemption): a new spendable lot with the program's expiry."""
    if points <= 0:
        return None
    return ledger.points_credit(
        member_id=member.pk,
        points=points,
        kind=EntryKind.REFUND,
        now=now,
        expiry_days=program.expiry_days,
        description=description,
        source=source,
        counts_as_earned=False,
    )


def points_reverse(
    *,
    member: Member,
    points: int,
    description: str,
    source: Source,
    now: datetime,
    expired_counted: int = 0,
) -> Reversal:
    """Take back points earned from `source`: what is alive of them, nothing
    for what expired (beyond `expired_counted`, what earlier reversals of the
    source counted), the rest from the balance or as a clawback (see
    ledger.points_reverse)."""
    return ledger.points_reverse(
        member_id=member.pk,
        points=points,
        now=now,
        source=source,
        description=description,
        expired_counted=expired_counted,
    )


@transaction.atomic
def points_adjust(
    *, actor: Actor, member: Member, points: int, reason: str, now: datetime | None = None
) -> PointsEntry:
    """A manual correction with a reason. Store staff may move at most the
    program's `staff_adjust_limit` points at once; managers (and `admin` API
    keys) have no limit. Raises AdjustmentLimit, InsufficientPoints,
    ValidationFailed."""
    now = now or timezone.now()
    if points == 0:
        raise ValidationFailed(fields={"points": [_("A correction cannot be zero.")]})
    if abs(points) > POINTS_MAX:
        raise ValidationFailed(
            fields={"points": [_("At most %(limit)s points at once.") % {"limit": POINTS_MAX}]}
        )
    if not reason.strip():
        raise ValidationFailed(fields={"reason": [_("Say why the points change.")]})
    if member.status == MemberStatus.DELETED:
        raise MemberInactive()
    program = program_settings_get()
    unlimited = actor.api_key is not None or (
        actor.user is not None and actor.user.has_perm(MANAGE_PROGRAM)
    )
    if not unlimited and abs(points) > program.staff_adjust_limit:
        raise AdjustmentLimit(
            _("Store staff may correct at most %(limit)s points at once; ask a manager.")
            % {"limit": program.staff_adjust_limit}
        )
    source = Source("adjustment", "")
    created_by_id = actor.user.pk if actor.user else None
    if points > 0:
        entry = ledger.points_credit(
            member_id=member.pk,
            points=points,
            kind=EntryKind.ADJUST,
            now=now,
            expiry_days=program.expiry_days,
            description=reason.strip(),
            source=source,
            counts_as_earned=False,
            created_by_id=created_by_id,
        )
    else:
        entry = ledger.points_debit(
            member_id=member.pk,
            points=-points,
            kind=EntryKind.ADJUST,
            now=now,
            description=reason.strip(),
            source=source,
            created_by_id=created_by_id,
        )
    audit_record(
        actor=actor,
        action="points.adjust",
        obj=member,
        after={"points": points, "reason": reason.strip(), "balance": entry.balance_after},
    )
    return entry
