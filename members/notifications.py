"""What members tells its members (through loyalty.notifications), and the
member's side of notifications: their preferences, their marketing consent
and its history, the one-click unsubscribe.

- Welcome: an enrolment hook (members.enrolment), in the enrolment's
  transaction, from every channel.
- Tier up and down: `tier_change_notify`, called where a tier changes
  (members.tiers); queued after the commit, so a sale that upgrades adds no
  statement to its transaction.
- Points expiring: the job `expiry_reminders` (members.jobs) tells a member
  once per lot (the lot's entry id is in the event key), `expiry_warning_days`
  before it lapses.
- Consent: `member_consent_set` is the one write of Member.marketing_consent
  besides enrolment and `member_update` (which call it): each change is a
  ConsentChange row with its time, source and actor, and a staff change is
  audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import formats, timezone, translation

from loyalty.actors import Actor
from loyalty.notification_email import unsubscribe_token_read
from loyalty.notifications import (
    INBOX,
    channel_enabled,
    channels_all,
    kind_get,
    notify,
    notify_on_commit,
    preferences_of,
    preferences_save,
)
from loyalty.selectors import program_settings_get
from loyalty.services import audit_record
from members.enrolment import Enrolment
from members.models import (
    ConsentChange,
    ConsentSource,
    EntryStatus,
    Member,
    MemberStatus,
    PointsEntry,
    Tier,
)

POINTS_EARNED = "points_earned"


# --- Welcome, tiers, expiring points -----------------------------------------------------------


def welcome_notify(enrolment: Enrolment) -> None:
    """The welcome message of a new member (an enrolment hook)."""
    member = enrolment.member
    program = program_settings_get()
    notify(
        member,
        "welcome",
        {
            "program": program.name,
            "name": member.first_name or member.card_number,
            "card": member.card_number,
        },
        event_key="welcome",
        at=enrolment.at,
    )


def tier_change_notify(
    *, member: Member, to_tier: Tier, up: bool, change_id: int, at: datetime
) -> None:
    """Tell the member of their new tier once the change commits (the tier
    change's id is the event)."""
    notify_on_commit(
        member_id=member.pk,
        kind="tier_up" if up else "tier_down",
        context={"tier": str(to_tier.name), "program": program_settings_get().name},
        event_key=f"tier_change:{change_id}",
        at=at,
    )


def _date_text(moment: datetime, language: str) -> str:
    with translation.override(language):
        return formats.date_format(timezone.localtime(moment), "DATE_FORMAT")


def points_expiry_remind(*, as_of: datetime) -> int:
    """The job `expiry_reminders`: tell each member of every lot of theirs whose
    spendable rest expires within the program's `expiry_warning_days` of
    `as_of`, once per lot (event `points_expiring:<entry id>`), however often
    the job runs. Returns how many reminders were written."""
    days = program_settings_get().expiry_warning_days
    if days is None:
        return 0
    lots = (
        PointsEntry.objects.filter(
            status=EntryStatus.AVAILABLE,
            remaining__gt=0,
            expires_at__gt=as_of,
            expires_at__lte=as_of + timedelta(days=days),
            member__status=MemberStatus.ACTIVE,
        )
        .select_related("member")
        .order_by("pk")
    )
    written = 0
    for lot in lots.iterator(chunk_size=500):
        with transaction.atomic():
            written += (
                notify(
                    lot.member,
                    "points_expiring",
                    {
                        "points": lot.remaining,
                        "expires": _date_text(lot.expires_at, lot.member.language),
                    },
                    event_key=f"points_expiring:{lot.pk}",
                    at=as_of,
                )
                is not None
            )
    return written


# --- Preferences ----------------------------------------------------------------------------------


@transaction.atomic
def member_notification_preferences_set(
    *, member: Member, choices: dict[tuple[str, str], bool]
) -> Member:
    """Store the member's choices {(kind, channel): enabled} and keep the
    sale's flag (Member.notify_points_earned) in step: on when points earned
    reach them by any channel, the inbox included. Raises KeyError for an
    unknown kind."""
    for kind, _channel in choices:
        kind_get(kind)
    preferences_save(member_id=member.pk, choices=choices)
    spec = kind_get(POINTS_EARNED)
    stored = preferences_of(member_id=member.pk, kinds=[POINTS_EARNED])
    wanted = any(
        channel_enabled(spec, name, stored) for name in [INBOX, *(c.name for c in channels_all())]
    )
    if member.notify_points_earned != wanted:
        Member.objects.filter(pk=member.pk).update(notify_points_earned=wanted)
        member.notify_points_earned = wanted
    return member


# --- Consent --------------------------------------------------------------------------------------


def member_consent_set(
    *,
    member: Member,
    consent: bool,
    source: str,
    actor: Actor,
    now: datetime | None = None,
    audit: bool = True,
) -> bool:
    """Set the member's marketing consent, recording the change (time, source,
    actor) when it is one; a staff or API change is audited (`audit=False`:
    the caller's own audit row shows it, as member_update's does). Call it in
    the transaction of the write it belongs to, the member row locked or just
    written. Returns whether the consent changed."""
    if source not in ConsentSource.values:
        raise ValueError(f"Unknown consent source {source!r}")
    if member.marketing_consent == consent:
        return False
    now = now or timezone.now()
    Member.objects.filter(pk=member.pk).update(marketing_consent=consent)
    member.marketing_consent = consent
    ConsentChange.objects.create(
        member=member,
        consent=consent,
        source=source,
        actor=actor.user,
        actor_label=actor.label,
        created_at=now,
    )
    if audit and source in (ConsentSource.COUNTER, ConsentSource.API):
        audit_record(
            actor=actor,
            action="member.consent",
            obj=member,
            before={"marketing_consent": not consent},
            after={"marketing_consent": consent, "source": source},
        )
    return True


def consent_changes_of(*, member: Member) -> QuerySet[ConsentChange]:
    """The member's consent history, newest first."""
    return ConsentChange.objects.filter(member=member).select_related("actor")


def member_from_unsubscribe_token(token: str) -> Member | None:
    """The member an unsubscribe token names; None for a tampered, made-up or
    deleted member's token."""
    public_id = unsubscribe_token_read(token)
    if public_id is None:
        return None
    return Member.objects.exclude(status=MemberStatus.DELETED).filter(public_id=public_id).first()


@transaction.atomic
def member_unsubscribe(*, member: Member, actor: Actor) -> bool:
    """The one-click unsubscribe: marketing consent off (source
    `unsubscribe`). Returns whether the member was subscribed."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    return member_consent_set(
        member=member, consent=False, source=ConsentSource.UNSUBSCRIBE, actor=actor
    )
