"""Every write about members: enrolment, sign-up, profile and status.

Tiers are written in `members/tiers.py`, points in `members/points.py`
(on top of the ledger's mechanics in `members/ledger.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.models import Store, User, WebhookEventType
from loyalty.services import audit_record, snapshot
from loyalty.webhooks import webhook_emit
from members.enrolment import Channel, Enrolment, enrolment_hooks_run
from members.errors import MemberExists, MemberInactive
from members.identifiers import (
    EXTERNAL_ID_MAX_LENGTH,
    PhoneInvalid,
    new_card_number,
    new_referral_code,
    normalise_email,
    normalise_external_id,
    normalise_phone,
    normalise_referral_code,
)
from members.models import (
    ConsentChange,
    ConsentSource,
    Member,
    MemberStatus,
    PointsAccount,
    Tier,
    TierChange,
)
from members.notifications import member_consent_set

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

# --- Members -----------------------------------------------------------------------------


def member_webhook_data(member_id: int) -> dict[str, Any]:
    """The member's status as the API gives it (GET /members/{id}), the data
    of the member.* webhook events."""
    # Imported here: the API module imports these services.
    from members.api import status_data
    from members.selectors import member_status

    member = Member.objects.select_related("account", "tier", "home_store").get(pk=member_id)
    return status_data(member_status(member=member))


def _contacts(email: str | None, phone: str | None) -> tuple[str | None, str | None]:
    email = normalise_email(email)
    try:
        phone = normalise_phone(phone)
    except PhoneInvalid as exc:
        raise ValidationFailed(fields={"phone": [exc.message]}) from exc
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


def _referrer(referral_code: str | None) -> Member | None:
    """The active member whose referral code is `referral_code` (any case,
    spaces ignored); None when no code is given. Raises ValidationFailed on
    `referral_code` for a code no active member has."""
    code = normalise_referral_code(referral_code)
    if code is None:
        return None
    referrer = Member.objects.filter(referral_code=code, status=MemberStatus.ACTIVE).first()
    if referrer is None:
        raise ValidationFailed(
            fields={
                "referral_code": [
                    _("No member has this referral code. Check it, or leave it empty.")
                ]
            }
        )
    return referrer


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
    referral_code: str | None = None,
    channel: str = Channel.COUNTER,
    address: str | None = None,
) -> Member:
    """Enrol a member with an empty account at the entry tier, then run the
    enrolment hooks of the other apps (members.enrolment) in the same
    transaction.

    Email or phone is required; each is unique once normalised (case, spaces,
    the +60 prefix), and so is the optional `external_id` (the merchant's own
    customer id, stripped). `referral_code`: a friend's code, which must be an
    active member's (campaigns records the referral). `channel` and `address`
    (the sign-up's network address) are told to the hooks. Raises
    ValidationFailed / MemberExists naming the fields.
    """
    now = now or timezone.now()
    referrer = _referrer(referral_code)
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
    if marketing_consent:
        # Consent given on joining is the first entry of its history, from the
        # channel the member joined by (the enrolment channels are consent sources).
        ConsentChange.objects.create(
            member=member,
            consent=True,
            source=channel if channel in ConsentSource.values else ConsentSource.COUNTER,
            actor=actor.user,
            actor_label=actor.label,
            created_at=now,
        )
    if entry_tier:
        TierChange.objects.create(
            member=member, to_tier=entry_tier, reason=TierChange.Reason.JOIN, created_at=now
        )
    if actor.user is not None or actor.api_key is not None:
        audit_record(
            actor=actor, action="member.enrol", obj=member, after=snapshot(member, MEMBER_FIELDS)
        )
    enrolment_hooks_run(
        Enrolment(member=member, at=now, channel=channel, referrer=referrer, address=address)
    )
    webhook_emit(WebhookEventType.MEMBER_ENROLLED, lambda: member_webhook_data(member.pk), now=now)
    return member


def member_referral_pending_set(*, member: Member, pending: bool) -> None:
    """Say whether the member has a referral that may still qualify (the flag
    the sale flow reads, Member.referral_pending): one UPDATE, none when it
    already says so. For campaigns.referrals, under the member's account lock
    or in the member's enrolment."""
    if member.referral_pending != pending:
        Member.objects.filter(pk=member.pk).update(referral_pending=pending)
        member.referral_pending = pending


@transaction.atomic
def member_enrol_from_signup(
    *,
    user: User,
    language: str,
    referral_code: str | None = None,
    address: str | None = None,
) -> Member:
    """The member of a user who signed up on the portal.

    A member enrolled earlier at the counter with the same email is linked to
    the new login rather than duplicated (the login can only be used once the
    email is verified), and an existing member is nobody's referral. Idempotent
    for a user who already has a member. `referral_code`: the friend's code
    the visitor came with (the share link); an unknown one is dropped rather
    than refused, so a stale link never stops a sign-up.
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
    code = normalise_referral_code(referral_code)
    if (
        code is not None
        and not Member.objects.filter(referral_code=code, status=MemberStatus.ACTIVE).exists()
    ):
        code = None
    return member_enrol(
        actor=Actor.system(),
        email=email,
        first_name=user.first_name,
        last_name=user.last_name,
        language=language,
        user=user,
        referral_code=code,
        channel=Channel.PORTAL,
        address=address,
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


# What apps above members keep about a member and remove when the member is
# deleted (analytics' predictions): called in the deletion's transaction.
member_deletion_hooks: list[Callable[[Member], object]] = []


def member_deletion_hook_register(hook: Callable[[Member], object]) -> None:
    if hook not in member_deletion_hooks:
        member_deletion_hooks.append(hook)


@transaction.atomic
def member_update(
    *,
    actor: Actor,
    member: Member,
    consent_source: str = ConsentSource.COUNTER,
    **changes: Any,
) -> Member:
    """Change a member's details (`MEMBER_FIELDS`). A change of marketing
    consent is recorded in its history with `consent_source` (the counter,
    the portal). Raises ValidationFailed or MemberExists naming the fields."""
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
    consent = changes.pop("marketing_consent", None)
    for name, value in changes.items():
        setattr(member, name, value)
    member.save()
    if member.status == MemberStatus.DELETED:
        for forget in member_deletion_hooks:
            forget(member)
    if consent is not None:
        member_consent_set(
            member=member, consent=bool(consent), source=consent_source, actor=actor, audit=False
        )
    audit_record(
        actor=actor,
        action="member.update",
        obj=member,
        before=before,
        after=snapshot(member, MEMBER_FIELDS),
    )
    webhook_emit(WebhookEventType.MEMBER_UPDATED, lambda: member_webhook_data(member.pk))
    return member


@transaction.atomic
def member_set_language(*, member: Member, language: str) -> Member:
    """Remember the member's language (emails and notifications follow it)."""
    languages = {code for code, _name in settings.LANGUAGES}
    if language in languages and member.language != language:
        Member.objects.filter(pk=member.pk).update(language=language)
        member.language = language
        webhook_emit(WebhookEventType.MEMBER_UPDATED, lambda: member_webhook_data(member.pk))
    return member


def member_ensure_active(member: Member) -> None:
    """Raises MemberInactive for a blocked or deleted member."""
    if member.status != MemberStatus.ACTIVE:
        raise MemberInactive()
