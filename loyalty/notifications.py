"""Notifications: the one service that tells a member of something (DESIGN.md §7).

The rules it keeps, and who checks them (tests/loyalty/test_notifications.py):

- `notify(member, kind, context, event_key=...)` writes the member's inbox
  entry and one delivery row per channel the member gets it by, in the
  caller's transaction; each delivery is sent by a Celery task queued with
  `transaction.on_commit`, so nothing is sent for a change that rolled back.
- Once per event. The inbox entry is unique per (member, `event_key`) and a
  delivery per (entry, channel): telling a member of one event again writes
  and sends nothing. The task claims its delivery (queued → sending) in one
  conditional UPDATE before it sends, so a retried or doubled task sends
  once. A send that raises puts the row back to queued and raises
  DeliveryFailed, which Celery retries with backoff; after the last attempt
  the row is failed. A worker lost in the middle of a send leaves the row
  `sending`, and it is never sent again: at most once, never twice.
- Which channels. The kind's defaults, overridden by the member's own
  choices (NotificationPreference rows), among the channels registered in
  this process (`channel_register`: email and SMS here, web push by its own
  module) that can reach the member (an email address, a phone number).
  Marketing kinds reach only members with marketing consent, not even their
  inbox otherwise, and are checked again when sent. Optional kinds (points
  earned) are off until the member turns them on. A deleted member gets
  nothing; a blocked one only the inbox.
- Texts are rendered in the member's language (`translation.override`)
  when written, and emails in it when sent.

`notify_on_commit` is for the sale path: it adds no statement to the
caller's transaction and queues a task, after the commit, that calls
`notify`. The sale uses it only when the member asked for points-earned
messages (Member.notify_points_earned, read from the row the sale has).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from loyalty.db import insert_unless_taken
from loyalty.models import (
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    NotificationPreference,
)
from loyalty.money import money_format

if TYPE_CHECKING:  # the member model is members' (layer 2): only its attributes are read
    from django.db.models import Model as Member

logger = logging.getLogger(__name__)

INBOX = "inbox"
REQUEUE_BATCH = 1000
# Statuses of a member who gets nothing, and of one who gets only the inbox.
SILENT_STATUSES = frozenset({"deleted"})
INBOX_ONLY_STATUSES = frozenset({"blocked"})


class DeliveryFailed(Exception):
    """A channel could not send a delivery: the task retries it."""


# --- Kinds ----------------------------------------------------------------------------------------

Renderer = Callable[[dict[str, Any], str], tuple[str, str]]


@dataclass(frozen=True)
class Kind:
    """What a notification is about. `title` and `body` are lazy texts
    formatted with the context (`%(points)s`); a kind whose texts come with
    the context (a broadcast) gives `render` instead. `link`: a portal URL
    name the message points to. `amounts`: the context's keys that hold an
    amount, stored as a plain decimal ("123.50") and written for the reader
    by `money_format` in the member's language, whichever channel sends it."""

    name: str
    label: Promise
    title: Promise | None = None
    body: Promise | None = None
    marketing: bool = False
    # Off until the member turns it on, inbox included (points earned).
    optional: bool = False
    # The channels besides the inbox it goes by unless the member says otherwise.
    defaults: frozenset[str] = frozenset({"email", "push"})
    link: str = ""
    render: Renderer | None = None
    amounts: frozenset[str] = frozenset()

    def texts(self, context: dict[str, Any], language: str) -> tuple[str, str]:
        """(title, body) in `language`."""
        with translation.override(language):
            if self.render is not None:
                return self.render(context, language)
            assert self.title is not None and self.body is not None
            context = {
                **context,
                **{key: money_format(context[key]) for key in self.amounts if key in context},
            }
            # `%` picks a plural form by the context's number (ngettext_lazy).
            return str(self.title % context), str(self.body % context)


def _localised(value: Any, language: str) -> str:
    """A text given as is, or as {"en": …, "ms": …} (the member's, else English)."""
    if isinstance(value, dict):
        return str(value.get(language) or value.get("en") or next(iter(value.values()), ""))
    return str(value or "")


def broadcast_render(context: dict[str, Any], language: str) -> tuple[str, str]:
    """A broadcast's own title and body, in the member's language when it has both."""
    return _localised(context.get("title"), language), _localised(context.get("body"), language)


_kinds: dict[str, Kind] = {}


def kind_register(kind: Kind) -> None:
    """Make `kind` known to `notify` and the preferences page (challenges and
    surveys add theirs when they land). Registering a name again replaces it."""
    _kinds[kind.name] = kind


def kind_get(name: str) -> Kind:
    """Raises KeyError for a kind nobody registered."""
    return _kinds[name]


def kinds_all() -> list[Kind]:
    return list(_kinds.values())


for _kind in (
    Kind(
        "welcome",
        _("Welcome"),
        _("Welcome to %(program)s"),
        _("Hello %(name)s, your card number is %(card)s. Show it at the till to earn points."),
        link="portal:home",
    ),
    Kind(
        "points_earned",
        _("Points earned on a purchase"),
        ngettext_lazy(
            "You earned %(points)s point",
            "You earned %(points)s points",
            "points",
        ),
        ngettext_lazy(
            "%(points)s point for your purchase of %(total)s at %(store)s (receipt %(reference)s).",
            "%(points)s points for your purchase of %(total)s at %(store)s (receipt "
            "%(reference)s).",
            "points",
        ),
        optional=True,
        defaults=frozenset(),
        link="portal:history",
        amounts=frozenset({"total"}),
    ),
    Kind(
        "tier_up",
        _("A higher tier"),
        _("You reached %(tier)s"),
        _("Congratulations: you are now a %(tier)s member of %(program)s."),
        link="portal:tiers",
    ),
    Kind(
        "tier_down",
        _("A lower tier"),
        _("Your tier is now %(tier)s"),
        _("Your %(program)s tier changed to %(tier)s. Shop with us to move up again."),
        link="portal:tiers",
    ),
    Kind(
        "reward_redeemed",
        _("Reward redeemed"),
        _("You redeemed %(reward)s"),
        ngettext_lazy(
            "%(points)s point spent on %(reward)s. Thank you!",
            "%(points)s points spent on %(reward)s. Thank you!",
            "points",
        ),
        link="portal:vouchers",
    ),
    Kind(
        "voucher_expiring",
        _("A voucher about to expire"),
        _("Your voucher for %(reward)s expires soon"),
        _("Use voucher %(code)s for %(reward)s before %(expires)s."),
        link="portal:vouchers",
    ),
    Kind(
        "points_expiring",
        _("Points about to expire"),
        ngettext_lazy(
            "%(points)s point expires soon",
            "%(points)s points expire soon",
            "points",
        ),
        ngettext_lazy(
            "%(points)s of your points expires on %(expires)s. Spend it on a reward before then.",
            "%(points)s of your points expire on %(expires)s. Spend them on a reward before then.",
            "points",
        ),
        link="portal:rewards",
    ),
    Kind(
        "campaign_award",
        _("Bonus points from an offer"),
        ngettext_lazy(
            "%(points)s bonus point",
            "%(points)s bonus points",
            "points",
        ),
        ngettext_lazy(
            "You earned %(points)s bonus point: %(campaign)s.",
            "You earned %(points)s bonus points: %(campaign)s.",
            "points",
        ),
        link="portal:history",
    ),
    Kind(
        "referral_rewarded",
        _("A friend's referral paid"),
        ngettext_lazy(
            "%(points)s point for a referral",
            "%(points)s points for a referral",
            "points",
        ),
        ngettext_lazy(
            "%(points)s point: %(reason)s.",
            "%(points)s points: %(reason)s.",
            "points",
        ),
        link="portal:referrals",
    ),
    Kind(
        "birthday",
        _("Birthday greeting"),
        _("Happy birthday, %(name)s!"),
        _("Everyone at %(merchant)s wishes you a happy birthday. %(gift)s"),
        link="portal:home",
    ),
    Kind(
        "broadcast",
        _("News and offers"),
        marketing=True,
        render=broadcast_render,
    ),
):
    kind_register(_kind)


# --- Channels -------------------------------------------------------------------------------------

Sender = Callable[[Notification], None]


def _reaches_everyone(member: Member) -> bool:
    return True


@dataclass(frozen=True)
class Channel:
    """A way out besides the inbox. `send` gets the notification (its member
    loaded) and raises when it could not send; `reaches` says whether the
    member can be reached by it at all (no row is written otherwise)."""

    name: str
    send: Sender
    label: Promise | str
    reaches: Callable[[Member], bool] = field(default=_reaches_everyone)


_channels: dict[str, Channel] = {}


def channel_register(
    name: str,
    sender: Sender,
    *,
    label: Promise | str | None = None,
    reaches: Callable[[Member], bool] = _reaches_everyone,
) -> None:
    """Send the deliveries of channel `name` with `sender` (the web-push module
    registers "push" from its AppConfig.ready). Registering a name again
    replaces its sender."""
    if name == INBOX:
        raise ValueError("The inbox is not a channel to register.")
    _channels[name] = Channel(name=name, send=sender, label=label or name, reaches=reaches)


def channel_unregister(name: str) -> None:
    _channels.pop(name, None)


def channels_all() -> list[Channel]:
    return list(_channels.values())


# --- Writing -------------------------------------------------------------------------------------

# Set by `deliveries_off`: notifications are written to the inbox only.
_inbox_only: ContextVar[bool] = ContextVar("notifications_inbox_only", default=False)


@contextmanager
def deliveries_off() -> Iterator[None]:
    """Within the block, `notify` writes inbox entries and sends nothing (the
    demo's replayed history: a year of events is not a year of emails)."""
    token = _inbox_only.set(True)
    try:
        yield
    finally:
        _inbox_only.reset(token)


def preferences_of(
    *, member_id: int, kinds: Iterable[str] | None = None
) -> dict[tuple[str, str], bool]:
    """The member's own choices, {(kind, channel): enabled} (one query)."""
    rows = NotificationPreference.objects.filter(member_id=member_id)
    if kinds is not None:
        rows = rows.filter(kind__in=list(kinds))
    return {
        (kind, channel): enabled
        for kind, channel, enabled in rows.values_list("kind", "channel", "enabled")
    }


def channel_enabled(kind: Kind, channel: str, choices: dict[tuple[str, str], bool]) -> bool:
    """Whether the member gets `kind` by `channel` (the inbox included): their
    choice, else the kind's default."""
    if channel == INBOX and not kind.optional:
        return True
    default = False if kind.optional else channel in kind.defaults
    return choices.get((kind.name, channel), default)


def notify(
    member: Member,
    kind: str,
    context: dict[str, Any],
    *,
    event_key: str,
    at: datetime | None = None,
) -> Notification | None:
    """Tell `member` of the event `event_key` (unique for the member): write
    their inbox entry and the deliveries by their channels, and queue the
    sending after the commit. Returns the entry, or None when the member gets
    nothing (a marketing kind without consent, an optional kind they did not
    turn on, a deleted member) or was told of this event already.

    `context` is what the kind's texts are formatted with (JSON values:
    stored with the entry); a `link` in it (a portal path) overrides the
    kind's. `at`: when the event happened (default now), the entry's time.
    Raises KeyError for an unknown kind or a text's missing value."""
    spec = kind_get(kind)
    if member.status in SILENT_STATUSES:
        return None
    if spec.marketing and not member.marketing_consent:
        return None
    choices = preferences_of(member_id=member.pk, kinds=[kind])
    channels = []
    if not _inbox_only.get() and member.status not in INBOX_ONLY_STATUSES:
        channels = [
            channel.name
            for channel in _channels.values()
            if channel_enabled(spec, channel.name, choices) and channel.reaches(member)
        ]
    if spec.optional and not channels and not channel_enabled(spec, INBOX, choices):
        return None
    title, body = spec.texts(context, member.language)
    with translation.override(member.language):
        # A lazy text (a history line, a gettext_lazy) is kept as it read.
        context = {
            name: str(value) if isinstance(value, Promise) else value
            for name, value in context.items()
        }
    link = str(context.get("link") or "")
    if not link and spec.link:
        from django.urls import reverse

        link = reverse(spec.link)
    notification = Notification(
        member_id=member.pk,
        kind=kind,
        event_key=event_key[:160],
        title=title[:200],
        body=body,
        link=link[:255],
        context=context,
        created_at=at or timezone.now(),
    )
    if not insert_unless_taken(notification, unique=("member", "event_key")):
        return None
    deliveries = NotificationDelivery.objects.bulk_create(
        NotificationDelivery(notification=notification, channel=name) for name in channels
    )
    for delivery in deliveries:
        # A lambda, not a partial: Django logs a robust callback's failure by its __qualname__.
        transaction.on_commit(lambda pk=delivery.pk: _deliver_later(pk), robust=True)
    return notification


def _deliver_later(delivery_id: int) -> None:
    # Imported here: tasks call services, so services import tasks late.
    from loyalty.tasks import notification_deliver

    notification_deliver.delay(delivery_id)


def notify_on_commit(
    *,
    member_id: int,
    kind: str,
    context: dict[str, Any],
    event_key: str,
    at: datetime | None = None,
) -> None:
    """`notify` after the caller's transaction commits, in a task: no statement
    in the caller's transaction (the sale path), and nothing at all if it
    rolls back. The task is idempotent by `event_key`, so a retry writes once."""
    from loyalty.tasks import notification_create

    # Inside `deliveries_off` (an import, the demo) the task writes the inbox only.
    inbox_only = _inbox_only.get()
    item = (member_id, kind, context, event_key, at.isoformat() if at else None, inbox_only)
    collected = _collected.get()
    if collected is not None:
        collected.append(item)
        return
    transaction.on_commit(lambda: notification_create.delay(*item), robust=True)


# Set by `notifications_batched`: what notify_on_commit was asked, in order.
_collected: ContextVar[list[tuple[Any, ...]] | None] = ContextVar(
    "notifications_collected", default=None
)
# At most this many notifications a task of `notifications_batched`.
BATCHED_MAX = 500


@contextmanager
def notifications_batched() -> Iterator[None]:
    """Within the block (inside the transaction whose commit they wait for),
    `notify_on_commit`'s notifications are queued together when the block
    ends: one task writes BATCHED_MAX of them in one transaction
    (loyalty.tasks.notifications_create), each idempotent by its event key,
    instead of a task and a commit each. For a batch of an import, whose
    thousands of tier changes would otherwise be as many tasks. Nothing is
    queued if the block raises, nor if the transaction rolls back."""
    from loyalty.tasks import notifications_create

    items: list[tuple[Any, ...]] = []
    token = _collected.set(items)
    try:
        yield
    finally:
        _collected.reset(token)
    for start in range(0, len(items), BATCHED_MAX):
        chunk = items[start : start + BATCHED_MAX]
        transaction.on_commit(lambda chunk=chunk: notifications_create.delay(chunk), robust=True)


# --- Sending -------------------------------------------------------------------------------------


def delivery_send(*, delivery_id: int, last_attempt: bool) -> str:
    """Send one delivery unless another run has it: claim it (queued →
    sending, one UPDATE), send it, mark it sent. Returns the outcome ("sent",
    "taken", "cancelled"). A send that raises puts the row back to queued
    (failed when `last_attempt`) and raises DeliveryFailed."""
    now = timezone.now()
    claimed = NotificationDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.QUEUED
    ).update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return "taken"
    delivery = NotificationDelivery.objects.select_related("notification__member").get(
        pk=delivery_id
    )
    notification = delivery.notification
    member = notification.member
    cancelled = _cancel_reason(delivery, member)
    if cancelled:
        _delivery_end(delivery_id, DeliveryStatus.CANCELLED, error=cancelled)
        return "cancelled"
    try:
        _channels[delivery.channel].send(notification)
    except Exception as exc:
        logger.warning(
            "notification delivery %s by %s failed: %s", delivery_id, delivery.channel, exc
        )
        status = DeliveryStatus.FAILED if last_attempt else DeliveryStatus.QUEUED
        _delivery_end(delivery_id, status, error=f"{type(exc).__name__}: {exc}")
        raise DeliveryFailed(str(exc)) from exc
    NotificationDelivery.objects.filter(pk=delivery_id).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return "sent"


# A queued delivery this old whose last attempt is at least as old lost its task.
STALE_AFTER = timedelta(hours=1)


def deliveries_requeue(*, as_of: datetime) -> int:
    """The job `notifications_retry`: queue again the deliveries still queued
    an hour after they were written or last tried (a broker that lost the
    task, an eager run whose retry could not wait), up to the retries
    allowed. Claiming makes a task queued twice send once. Returns how many."""
    stale = as_of - STALE_AFTER
    ids = list(
        NotificationDelivery.objects.filter(
            status=DeliveryStatus.QUEUED,
            created_at__lte=stale,
            attempts__lte=settings.LOYALTY_NOTIFICATION_RETRIES,
        )
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lte=stale))
        .order_by("pk")
        .values_list("pk", flat=True)[:REQUEUE_BATCH]
    )
    for delivery_id in ids:
        # Marked as tried now, so the next sweep leaves it to this task.
        NotificationDelivery.objects.filter(pk=delivery_id).update(claimed_at=as_of)
        _deliver_later(delivery_id)
    return len(ids)


def _cancel_reason(delivery: NotificationDelivery, member: Member) -> str:
    """Why a claimed delivery must not go out after all, or ""."""
    if delivery.channel not in _channels:
        return "channel not registered"
    try:
        spec = kind_get(delivery.notification.kind)
    except KeyError:
        return "kind not registered"
    if member.status in SILENT_STATUSES | INBOX_ONLY_STATUSES:
        return "member not active"
    # Consent withdrawn between the notification and its sending.
    if spec.marketing and not member.marketing_consent:
        return "no marketing consent"
    return ""


def _delivery_end(delivery_id: int, status: str, *, error: str) -> None:
    NotificationDelivery.objects.filter(pk=delivery_id).update(
        status=status, last_error=error[:255]
    )


# --- The inbox -----------------------------------------------------------------------------------


def notification_mark_read(*, member_id: int, notification_id: int) -> bool:
    """Mark the member's own notification read (another member's is not
    touched). Returns whether it was unread."""
    return bool(
        Notification.objects.filter(
            pk=notification_id, member_id=member_id, read_at__isnull=True
        ).update(read_at=timezone.now())
    )


def notifications_mark_all_read(*, member_id: int) -> int:
    """Mark every unread notification of the member read. Returns how many."""
    return Notification.objects.filter(member_id=member_id, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def preferences_save(*, member_id: int, choices: dict[tuple[str, str], bool]) -> None:
    """Store the member's choices {(kind, channel): enabled}: a row where a
    choice differs from the kind's default, none where it agrees. For
    members.notifications, which keeps the member's sale-path flag in step."""
    with transaction.atomic():
        for (kind_name, channel), enabled in choices.items():
            spec = kind_get(kind_name)
            default = channel_enabled(spec, channel, {})
            rows = NotificationPreference.objects.filter(
                member_id=member_id, kind=kind_name, channel=channel
            )
            if enabled == default:
                rows.delete()
            else:
                NotificationPreference.objects.update_or_create(
                    member_id=member_id,
                    kind=kind_name,
                    channel=channel,
                    defaults={"enabled": enabled},
                )
