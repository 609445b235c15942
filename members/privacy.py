"""A member's own data: what the program keeps about them as one JSON
document (the portal's download, a manager's answer to a request), and the
erasure of their personal details (docs/privacy.md).

Apps above members add their part of the document through
`member_export_section_register` (purchases, rewards, campaigns, analytics
register theirs in their AppConfig.ready), and forget what they keep about a
member through members.services' member deletion hooks, which erasure runs.

Erasure keeps the records the merchant must keep (sales, the points ledger,
redemptions, the audit log) but nothing that says who the member was: the
personal fields are cleared, the login is deleted, the inbox, preferences and
push subscriptions go, the audit log's copies of the personal fields are
blanked, and the points still held are forfeited (an `expire` entry each, so
the ledger adds up). It cannot be undone, and doing it twice changes nothing
the second time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.models import (
    AuditEvent,
    Notification,
    NotificationPreference,
    User,
    WebhookEventType,
)
from loyalty.services import audit_record
from loyalty.webhooks import webhook_emit
from members.history import Text
from members.ledger import points_forfeit
from members.locks import account_lock
from members.models import (
    ConsentChange,
    ConsentSource,
    Member,
    MemberActivity,
    MemberStatus,
    PointsEntry,
    PushSubscription,
    TierChange,
)
from members.notifications import member_consent_set
from members.services import member_deletion_hooks, member_webhook_data

EXPORT_FORMAT = "setia-member-data/1"
ERASED = "[erased]"
# The member fields that say who the member is: cleared by erasure, and
# blanked wherever the audit log copied them.
PERSONAL_FIELDS = (
    "email",
    "phone",
    "external_id",
    "first_name",
    "last_name",
    "birth_date",
    "tags",
)

ExportSection = Callable[[Member], object]
_sections: dict[str, ExportSection] = {}


def member_export_section_register(name: str, section: ExportSection) -> None:
    """Add `section(member)` to every member's data document under `name`
    (JSON-safe values: `rows` helps)."""
    _sections[name] = section


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def rows(queryset: QuerySet[Model] | Iterable[dict[str, Any]], *fields: str) -> list[dict]:
    """The rows of `queryset` as plain dicts of `fields` (times in ISO 8601,
    amounts as strings), for a section of the document."""
    values = queryset.values(*fields) if isinstance(queryset, QuerySet) else queryset
    return [{name: _plain(value) for name, value in row.items()} for row in values]


def member_data_export(*, member: Member) -> dict[str, Any]:
    """Everything the program keeps about the member, as one JSON-safe dict."""
    member = Member.objects.select_related("account", "tier", "home_store").get(pk=member.pk)
    account = member.account
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        "member": {
            "member_id": member.public_id,
            "card_number": member.card_number,
            "email": member.email,
            "phone": member.phone,
            "external_id": member.external_id,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "birth_date": _plain(member.birth_date),
            "language": member.language,
            "status": member.status,
            "marketing_consent": member.marketing_consent,
            "tags": member.tags,
            "home_store": member.home_store.code if member.home_store else None,
            "referral_code": member.referral_code,
            "joined_at": _plain(member.joined_at),
            "tier": member.tier.name if member.tier else None,
            "tier_since": _plain(member.tier_since),
            "login": member.user.email if member.user_id else None,
        },
        "points": {
            "balance": account.balance,
            "pending": account.pending,
            "lifetime_earned": account.lifetime_earned,
            "redeemed": account.redeemed,
            "expired": account.expired,
            "lifetime_spend": str(account.lifetime_spend),
        },
        "points_history": rows(
            PointsEntry.objects.filter(member=member).order_by("created_at", "id"),
            "created_at",
            "kind",
            "status",
            "points",
            "balance_after",
            "description",
            "source_type",
            "source_id",
            "expires_at",
        ),
        "activity": rows(
            MemberActivity.objects.filter(member=member).order_by("occurred_at", "id"),
            "occurred_at",
            "spend",
            "points",
            "source_type",
            "source_id",
        ),
        "tier_changes": rows(
            TierChange.objects.filter(member=member).order_by("id"),
            "created_at",
            "from_tier__name",
            "to_tier__name",
            "reason",
            "note",
        ),
        "consent_changes": rows(
            ConsentChange.objects.filter(member=member).order_by("created_at", "id"),
            "created_at",
            "consent",
            "source",
            "actor_label",
        ),
        "notifications": rows(
            Notification.objects.filter(member=member).order_by("created_at", "id"),
            "created_at",
            "kind",
            "title",
            "body",
            "read_at",
        ),
        "notification_preferences": rows(
            NotificationPreference.objects.filter(member=member).order_by("kind", "channel"),
            "kind",
            "channel",
            "enabled",
        ),
        "push_subscriptions": rows(
            PushSubscription.objects.filter(member=member).order_by("id"),
            "created_at",
            "user_agent",
            "last_success_at",
        ),
    }
    for name, section in _sections.items():
        document[name] = section(member)
    return document


def member_data_export_json(*, actor: Actor, member: Member) -> bytes:
    """The member's data document as JSON, its download audited (who asked
    for whose data)."""
    document = member_data_export(member=member)
    audit_record(actor=actor, action="member.data_export", obj=member)
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode()


def export_filename(member: Member) -> str:
    return f"setia-member-{member.card_number}-{timezone.localdate():%Y%m%d}.json"


@dataclass(frozen=True)
class Erasure:
    member: Member
    points_forfeited: int
    already: bool


def _scrubbed(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """An audit row's copy of a member's fields with the personal ones blanked."""
    if not values:
        return values
    return {
        name: ERASED if name in PERSONAL_FIELDS and value not in (None, "", []) else value
        for name, value in values.items()
    }


def _erased(member: Member) -> bool:
    return member.status == MemberStatus.DELETED and not any(
        getattr(member, name) for name in (*PERSONAL_FIELDS, "user_id")
    )


@transaction.atomic
def member_erase(
    *, actor: Actor, member: Member, by_member: bool = False, now: datetime | None = None
) -> Erasure:
    """Erase the member's personal data (see the module docstring): the
    member's own request from the portal (`by_member`), or a manager's on
    their behalf. Locks the points account, then the member row (the order of
    every flow that locks both)."""
    now = now or timezone.now()
    account_lock(member_id=member.pk)
    member = Member.objects.select_for_update().get(pk=member.pk)
    if _erased(member):
        return Erasure(member=member, points_forfeited=0, already=True)
    forfeited = points_forfeit(member_id=member.pk, now=now, description=Text("privacy.erased"))
    source = ConsentSource.PORTAL if by_member else ConsentSource.COUNTER
    member_consent_set(
        member=member, consent=False, source=source, actor=actor, now=now, audit=False
    )
    # The other apps forget what they keep while the member's name is still
    # there for them to find (a friend's referral lines name the member).
    member.status = MemberStatus.DELETED
    for forget in member_deletion_hooks:
        forget(member)
    user_id = member.user_id
    member.email = member.phone = member.external_id = member.birth_date = None
    member.first_name = member.last_name = ""
    member.tags = []
    member.marketing_consent = member.notify_points_earned = False
    member.user = None
    member.save()
    Notification.objects.filter(member=member).delete()
    NotificationPreference.objects.filter(member=member).delete()
    PushSubscription.objects.filter(member=member).delete()
    audit_record(
        actor=actor,
        action="member.erase",
        obj=member,
        after={"points_forfeited": forfeited, "by_member": by_member},
    )
    # The audit log keeps what was done, to this member and by their login,
    # without the personal details it copied (their login's label is their email).
    label = f"member {member.card_number}"
    about = Q(object_type=member._meta.label_lower, object_id=str(member.pk))
    by = Q(actor_id=user_id) if user_id is not None else Q(pk__in=[])
    for event in AuditEvent.objects.filter(about | by).iterator():
        if user_id is not None and event.actor_id == user_id:
            event.actor_label = label
        if (event.object_type, event.object_id) == (member._meta.label_lower, str(member.pk)):
            event.before, event.after = _scrubbed(event.before), _scrubbed(event.after)
            event.object_repr = label
        event.save(update_fields=["before", "after", "object_repr", "actor_label"])
    if user_id is not None:
        # A member's own login (never a staff account, which is not theirs alone).
        User.objects.filter(pk=user_id, is_staff=False, is_superuser=False).delete()
    webhook_emit(WebhookEventType.MEMBER_UPDATED, lambda: member_webhook_data(member.pk), now=now)
    return Erasure(member=member, points_forfeited=forfeited, already=False)
