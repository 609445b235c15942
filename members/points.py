"""The ledger operations other apps call: earning, paying, refunds,
reversals and staff adjustments, with the business rules (member status,
staff limits) and the audit trail. Ledger mechanics live in `members/ledger.py`."""

from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.limits import POINTS_MAX
from loyalty.models import ProgramSettings, WebhookEventType
from loyalty.roles import MANAGE_PROGRAM
from loyalty.selectors import program_settings_get
from loyalty.services import audit_record
from loyalty.webhooks import webhook_emit, webhook_is_subscribed
from members import ledger
from members.errors import AdjustmentLimit, MemberInactive
from members.history import Text
from members.ledger import Credit, Reversal, Source, account_writes
from members.models import (
    EntryKind,
    EntryStatus,
    Member,
    MemberStatus,
    PointsAccount,
    PointsEntry,
)


def points_earn(
    *,
    member: Member,
    points: int,
    kind: EntryKind,
    description: str | Text,
    source: Source,
    occurred_at: datetime,
    now: datetime,
    program: ProgramSettings,
    idempotency_key: str | None = None,
    key_unused: bool = False,
    account: PointsAccount | None = None,
) -> PointsEntry | None:
    """Award points for something the member did at `occurred_at`: pending for
    the program's `pending_days`, then spendable until `expiry_days` after that.
    A backdated purchase (a till that was offline) starts both clocks at its
    `occurred_at`, not when it reached us. `account`: the member's account when
    the caller already locked it (members.locks); `key_unused` as in
    ledger.points_credit."""
    if points <= 0:
        return None
    with translation.override(member.language):  # the text stored; `message` for others
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
            key_unused=key_unused,
            account=account,
        )


__all__ = ["Credit"]  # the awards of points_earn_many


def points_earn_many(
    *,
    member: Member,
    awards: list[ledger.Credit],
    source: Source,
    occurred_at: datetime,
    now: datetime,
    program: ProgramSettings,
    account: PointsAccount,
) -> list[PointsEntry]:
    """Several awards for one thing the member did (a sale's base, tier and
    campaign awards), each its own entry, as `points_earn` writes them, in one
    INSERT when nothing follows them (ledger.points_credit_many). The caller
    holds the member's account lock and knows the awards' keys are unused."""
    with translation.override(member.language):  # the text stored; `message` for others
        return ledger.points_credit_many(
            account,
            credits=awards,
            now=now,
            available_at=occurred_at + timedelta(days=program.pending_days),
            expiry_days=program.expiry_days,
            source=source,
        )


def points_pay(
    *,
    member: Member,
    points: int,
    description: str | Text,
    source: Source,
    now: datetime,
    account: PointsAccount | None = None,
) -> PointsEntry:
    """Spend points (at the till, or on a reward). Raises InsufficientPoints.
    `account`: the member's account when the caller already locked it."""
    with translation.override(member.language):  # the text stored; `message` for others
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
    description: str | Text,
    source: Source,
    now: datetime,
    program: ProgramSettings,
) -> PointsEntry | None:
    """Give back points that were spent (a returned sale paid with points, a
    cancelled redemption): a new spendable lot with the program's expiry."""
    if points <= 0:
        return None
    with translation.override(member.language):  # the text stored; `message` for others
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


def points_account_writes(account: PointsAccount) -> AbstractContextManager[PointsAccount]:
    """For a flow holding the member's account lock through several ledger
    operations (a sale pays, earns and counts its spend): their changes to the
    account's totals are saved once, when the block ends (ledger.account_writes)."""
    return account_writes(account)


def points_reverse(
    *,
    member: Member,
    points: int,
    description: str | Text,
    source: Source,
    now: datetime,
    expired_counted: int = 0,
) -> Reversal:
    """Take back points earned from `source`: what is alive of them, nothing
    for what expired (beyond `expired_counted`, what earlier reversals of the
    source counted), the rest from the balance or as a clawback (see
    ledger.points_reverse)."""
    with translation.override(member.language):  # the text stored; `message` for others
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
    *,
    actor: Actor,
    member: Member,
    points: int,
    reason: str | Text,
    now: datetime | None = None,
    idempotency_key: str | None = None,
) -> PointsEntry:
    """A manual correction with a reason. Store staff may move at most the
    program's `staff_adjust_limit` points at once; managers (and `admin` API
    keys) have no limit. A `reason` given as a history line (members.history
    Text: goodwill for service recovery) reads in each reader's language; one
    typed by staff reads as typed. With `idempotency_key`, a credit posts once
    (a second call returns the first entry, and writes no audit row). Raises
    AdjustmentLimit, InsufficientPoints, ValidationFailed."""
    now = now or timezone.now()
    typed = reason.strip() if isinstance(reason, str) else str(reason)
    if points == 0:
        raise ValidationFailed(fields={"points": [_("A correction cannot be zero.")]})
    if abs(points) > POINTS_MAX:
        raise ValidationFailed(
            fields={"points": [_("At most %(limit)s points at once.") % {"limit": POINTS_MAX}]}
        )
    if not typed:
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
    if points > 0 and idempotency_key is not None:
        existing = PointsEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    source = Source("adjustment", "")
    created_by_id = actor.user.pk if actor.user else None
    description = reason if isinstance(reason, Text) else typed
    # A history line is stored as the member reads it; `message` for others.
    with translation.override(member.language):
        if points > 0:
            entry = ledger.points_credit(
                member_id=member.pk,
                points=points,
                kind=EntryKind.ADJUST,
                now=now,
                expiry_days=program.expiry_days,
                description=description,
                source=source,
                counts_as_earned=False,
                created_by_id=created_by_id,
                idempotency_key=idempotency_key,
            )
        else:
            entry = ledger.points_debit(
                member_id=member.pk,
                points=-points,
                kind=EntryKind.ADJUST,
                now=now,
                description=description,
                source=source,
                created_by_id=created_by_id,
            )
    audit_record(
        actor=actor,
        action="points.adjust",
        obj=member,
        after={"points": points, "reason": typed, "balance": entry.balance_after},
    )
    webhook_emit(WebhookEventType.POINTS_ADJUSTED, lambda: _adjustment_data(member, entry), now=now)
    return entry


def _adjustment_data(member: Member, entry: PointsEntry) -> dict:
    """The answer of POST /members/{id}/adjustments, with the member's id."""
    # Imported here: the API module imports these services.
    from members.api import LedgerEntrySerializer

    return {
        "member_id": member.public_id,
        "entry": LedgerEntrySerializer(entry).data,
        "balance": entry.balance_after,
    }


def points_expiring_emit(*, as_of: datetime) -> int:
    """Tell webhooks (points.expiring) of each lot with points left that
    expires within the program's `expiry_warning_days` of `as_of` (the
    members' own reminders' horizon; none: no warnings), once per lot (the
    event's key is the lot's); run by the `expiry_reminders` job. Reads nothing
    when no endpoint subscribes. Returns the number of events written."""
    if not webhook_is_subscribed(WebhookEventType.POINTS_EXPIRING):
        return 0
    days = program_settings_get().expiry_warning_days
    if days is None:
        return 0
    horizon = as_of + timedelta(days=days)
    lots = (
        PointsEntry.objects.filter(
            status=EntryStatus.AVAILABLE,
            remaining__gt=0,
            expires_at__gt=as_of,
            expires_at__lte=horizon,
        )
        .select_related("member")
        .order_by("expires_at", "pk")
    )
    written = 0
    with transaction.atomic():
        for lot in lots.iterator(chunk_size=500):
            event = webhook_emit(
                WebhookEventType.POINTS_EXPIRING,
                {
                    "member_id": lot.member.public_id,
                    "points": lot.remaining,
                    "expires_at": lot.expires_at,
                    "entry_id": lot.pk,
                },
                key=f"points.expiring:{lot.pk}",
                now=as_of,
            )
            written += event is not None
    return written
