"""Web push to members: the browsers (devices) each member allowed, and the
sending of one message to all of them. The notification service plugs this
in as its push channel (`push_available`, `push_send`); the delivery itself
(VAPID, encryption, address checks) is `loyalty/webpush.py`.

Rules kept here (tests/members/test_push.py):

- a subscription is stored only once `loyalty.webpush.subscription_clean`
  accepted it, and only for the signed-in member; an endpoint is one device,
  so the member who subscribed it last owns it;
- a member keeps at most `DEVICES_MAX` subscriptions: a new one past that
  replaces the oldest;
- the push service's 404 or 410 deletes the subscription; any other failure
  adds one to its `failure_count`, a delivery sets it back to 0;
- nothing is sent, and `push_available` is False, while VAPID is not set up
  or for a member who left the program.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from loyalty.webpush import (
    Delivery,
    SubscriptionInput,
    push_deliver,
    push_message,
    vapid_configured,
)
from members.models import Member, MemberStatus, PushSubscription

DEVICES_MAX = 10
USER_AGENT_MAX_LENGTH = 255
# Where the session keeps the id of the subscription its browser made
# (members.portal_views.PushSubscriptionView), removed when it signs out
# (members.adapters.AccountAdapter.logout).
PUSH_SESSION_KEY = "push_subscription_id"


def push_subscription_save(
    *, member: Member, subscription: SubscriptionInput, user_agent: str = ""
) -> PushSubscription:
    """Store (or take over, or refresh the keys of) the subscription of one of
    `member`'s browsers. Past `DEVICES_MAX`, the member's oldest goes."""
    with transaction.atomic():
        saved, _created = PushSubscription.objects.update_or_create(
            endpoint=subscription.endpoint,
            defaults={
                "member": member,
                "p256dh": subscription.p256dh,
                "auth": subscription.auth,
                "user_agent": user_agent[:USER_AGENT_MAX_LENGTH],
                "failure_count": 0,
            },
        )
        kept = PushSubscription.objects.filter(member=member).order_by("-created_at", "-pk")
        extra = list(kept.values_list("pk", flat=True)[DEVICES_MAX:])
        if extra:
            PushSubscription.objects.filter(pk__in=extra).delete()
    return saved


def push_subscription_remove(*, member: Member, endpoint: str) -> bool:
    """Forget `member`'s subscription with `endpoint` (another member's is left
    alone). True if there was one."""
    deleted, _by_model = PushSubscription.objects.filter(member=member, endpoint=endpoint).delete()
    return deleted > 0


def push_subscription_remove_by_id(*, member: Member, subscription_id: int) -> bool:
    """Forget `member`'s subscription `subscription_id` (signing out)."""
    deleted, _by_model = PushSubscription.objects.filter(member=member, pk=subscription_id).delete()
    return deleted > 0


def push_subscription_count(*, member: Member) -> int:
    return PushSubscription.objects.filter(member=member).count()


def push_available(member: Member) -> bool:
    """Whether `push_send` can reach `member` at all: push is set up and the
    member has at least one browser subscribed."""
    if not vapid_configured() or member.status == MemberStatus.DELETED:
        return False
    return PushSubscription.objects.filter(member=member).exists()


def push_send(member: Member, *, title: str, body: str, url: str) -> int:
    """Send one notification to every browser `member` subscribed; return how
    many push services accepted it. Clicking it opens `url`, a path of this
    site (ValueError otherwise). Texts are shown as given: the caller writes
    them in the member's language.

    Runs outside any transaction of the caller's (each subscription's
    bookkeeping is its own statement) and never raises for what a push
    service answers."""
    if not vapid_configured() or member.status == MemberStatus.DELETED:
        return 0
    message = push_message(title=title, body=body, url=url)
    reached = 0
    for subscription in list(PushSubscription.objects.filter(member=member)):
        outcome = push_deliver(
            endpoint=subscription.endpoint,
            p256dh=subscription.p256dh,
            auth=subscription.auth,
            message=message,
        )
        rows = PushSubscription.objects.filter(pk=subscription.pk)
        if outcome is Delivery.DELIVERED:
            reached += 1
            rows.update(last_success_at=timezone.now(), failure_count=0)
        elif outcome is Delivery.GONE:
            rows.delete()
        else:
            rows.update(failure_count=F("failure_count") + 1)
    return reached


def push_notification_send(notification: Any) -> None:
    """The `push` channel of loyalty.notifications (registered in
    MembersConfig.ready): the notification's title and body, already in the
    member's language, to every device of theirs; a click opens its link (the
    inbox when it has none). Raises DeliveryFailed when no device took it but
    some are still subscribed (a push service failing now), so the task
    retries; when every device was gone (404/410) there is nobody left to reach."""
    from django.urls import reverse

    from loyalty.notifications import DeliveryFailed

    member = notification.member
    url = notification.link if notification.link.startswith("/") else reverse("portal:inbox")
    reached = push_send(member, title=notification.title, body=notification.body, url=url)
    if not reached and push_subscription_count(member=member):
        raise DeliveryFailed("No device accepted the push message.")
