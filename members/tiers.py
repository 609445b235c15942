"""Every write about tiers: the tier table, a member's tier (reviewed at
once on a sale, nightly for downgrades, set by hand until a date) and the
activity the tier window counts."""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty.actors import Actor
from loyalty.db import insert
from loyalty.errors import ValidationFailed
from loyalty.models import ProgramSettings, TierBasis, WebhookEventType
from loyalty.selectors import program_settings_get
from loyalty.services import audit_record, model_validate, snapshot
from loyalty.webhooks import webhook_emit
from members.errors import TierInUse
from members.ledger import Source, account_changed
from members.locks import account_lock
from members.models import (
    Member,
    MemberActivity,
    MemberStatus,
    PointsAccount,
    Tier,
    TierChange,
)
from members.notifications import tier_change_notify
from members.selectors import (
    member_qualifying_value,
    qualifying_since,
    tier_for_value,
    tier_list,
)

TIER_FIELDS = ("code", "name", "threshold", "multiplier", "retention_days", "benefits", "color")


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


def _tier_webhook_data(tier: Tier | None) -> dict[str, Any] | None:
    if tier is None:
        return None
    return {"code": tier.code, "name": tier.name, "multiplier": str(tier.multiplier)}


def _tier_change(
    member: Member, to_tier: Tier | None, reason: str, now: datetime, note: str = ""
) -> None:
    """Write the change and tell the member once it commits (no statement in
    the caller's transaction: a sale may be the caller)."""
    from_tier = member.tier
    change = TierChange.objects.create(
        member=member,
        from_tier=member.tier,
        to_tier=to_tier,
        reason=reason,
        note=note,
        created_at=now,
    )
    Member.objects.filter(pk=member.pk).update(tier=to_tier, tier_since=now)
    member.tier, member.tier_since = to_tier, now
    if to_tier is not None and (from_tier is None or from_tier.pk != to_tier.pk):
        up = from_tier is None or to_tier.threshold > from_tier.threshold
        tier_change_notify(member=member, to_tier=to_tier, up=up, change_id=change.pk, at=now)
    webhook_emit(
        WebhookEventType.TIER_CHANGED,
        lambda: {
            "member_id": member.public_id,
            "from": _tier_webhook_data(from_tier),
            "to": _tier_webhook_data(to_tier),
            "reason": reason,
            "since": now,
        },
        now=now,
    )


def member_tier_review(
    *,
    member: Member,
    now: datetime,
    allow_downgrade: bool,
    value: Decimal | None = None,
    program: ProgramSettings | None = None,
    account: PointsAccount | None = None,
) -> Member:
    """Put the member in the tier their qualifying value earns. Upgrades apply
    at once; a downgrade (nightly job only) waits until the current tier's
    retention period is over. A tier set by hand holds until its date; the
    first nightly review after that date puts the member in the tier the rules
    give at once (no retention counts from the day it was set) and ends the
    override. A caller that already read the program settings passes them as
    `program`. The caller holds the member's points-account lock
    (members.locks), as a sale and the nightly review do, so the value read
    and the tier written cannot straddle another sale's. A sale passes that
    locked `account` (its totals up to date): when they show that no higher
    tier is within reach, the window's sum is not read."""
    override = member.tier_override_until
    if override is not None and override >= timezone.localdate(now):
        return member
    lapsed = override is not None and allow_downgrade
    program = program or program_settings_get()
    tiers = tier_list()
    # A sale can only move the member up: when even their lifetime total
    # (never below what the tier window counts) reaches no higher tier,
    # nothing can change and the window's sum is not read.
    if (
        value is None
        and account is not None
        and not allow_downgrade
        and not _higher_tier_within(tiers, member.tier, _lifetime_value(account, program))
    ):
        return member
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


def sale_tier_upgrade(
    *,
    tiers: list[Tier],
    current: Tier | None,
    override_until: date | None,
    now: datetime,
    account: PointsAccount,
    program: ProgramSettings,
    qualifying_value: Callable[[], Decimal],
) -> Tier | None:
    """The tier a sale at `now` moves the member up to, or None: what
    `member_tier_review` decides for a sale (`allow_downgrade=False`, the
    account given), without reading or writing anything, for a caller that
    plays a member's sales in memory (purchases.import_points) and writes
    the upgrade with `member_tier_upgrade_write`. `qualifying_value` gives
    the window's value as `member_qualifying_value` would read it; it is
    called only when a higher tier is within the account's lifetime value."""
    if override_until is not None and override_until >= timezone.localdate(now):
        return None
    if not _higher_tier_within(tiers, current, _lifetime_value(account, program)):
        return None
    target = tier_for_value(tiers, qualifying_value())
    if target is None or (
        current is not None and (target.pk == current.pk or target.threshold <= current.threshold)
    ):
        return None
    return target


def member_tier_upgrade_write(*, member: Member, to_tier: Tier, now: datetime) -> None:
    """Write an upgrade `sale_tier_upgrade` found, as `member_tier_review`
    writes one (the change, the member's tier, the message after the commit);
    the caller holds the member's points-account lock."""
    _tier_change(member, to_tier, TierChange.Reason.UPGRADE, now)


def _lifetime_value(account: PointsAccount, program: ProgramSettings) -> Decimal:
    """An upper bound of the member's qualifying value, from their account's
    totals (no query): lifetime spend, or lifetime points earned. Returns
    and reversals lower these as they lower the activity the window counts,
    and what the window leaves out is older activity, never negative in sum
    (a return comes after its sale)."""
    if program.tier_basis == TierBasis.SPEND:
        return account.lifetime_spend
    return Decimal(account.lifetime_earned)


def _higher_tier_within(tiers: list[Tier], current: Tier | None, value: Decimal) -> bool:
    """Whether a tier above `current` has a threshold `value` reaches."""
    floor = current.threshold if current is not None else None
    return any(
        tier.threshold <= value and (floor is None or tier.threshold > floor) for tier in tiers
    )


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
    tiers = tier_list()
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
    *,
    member: Member,
    occurred_at: datetime,
    spend: Decimal,
    points: int,
    source: Source,
    account: PointsAccount | None = None,
) -> None:
    """Count a purchase (or, negative, a return) towards tiers and segments.
    `account`: the member's account when the caller holds its lock (a sale);
    its `lifetime_spend` is then saved with the ledger's changes
    (members.points.points_account_writes)."""
    insert(
        MemberActivity(
            member=member,
            occurred_at=occurred_at,
            spend=spend,
            points=points,
            source_type=source.type,
            source_id=source.id,
        )
    )
    if account is None:
        PointsAccount.objects.filter(member=member).update(
            lifetime_spend=F("lifetime_spend") + spend
        )
        return
    account.lifetime_spend += spend
    account_changed(account, "lifetime_spend")
