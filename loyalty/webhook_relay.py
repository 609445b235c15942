"""The webhook relay: deliver the outbox's events, signed as Standard Webhooks.

How a delivery goes (API.md, "Feedback, notifications, webhooks";
docs/integration.md):

1. Fan-out: each new event gets one delivery per endpoint that was
   subscribed when it was written (and still exists and subscribes).
2. Claim: a relay takes the due deliveries in a short transaction, with
   `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, counts the attempt and
   pushes `next_attempt_at` out by a lease, then commits. Two relays never
   claim one attempt: the second skips the locked rows, or finds them no
   longer due. A relay that dies mid-send leaves the delivery to be taken
   again when its lease runs out (at least once; the same `webhook-id` lets
   the receiver drop the repeat).
3. Send, outside any transaction: `POST` of `{"id", "type", "created_at",
   "data"}` with `webhook-id` (the event's, the same on every retry),
   `webhook-timestamp` (this attempt's) and `webhook-signature`. The host is
   resolved and every address checked again (loyalty.webhooks), and the
   connection goes to the address checked, so a DNS answer that changes
   between the check and the connection cannot lead elsewhere. A short
   timeout; redirects are not followed.
4. Record: the attempt's log row; a 2xx is delivered; anything else is
   retried after `LOYALTY_WEBHOOK_RETRY_SECONDS`, doubling each time, until a
   failure comes 24 hours or more after the first attempt (then the delivery
   has failed). A `410` disables the endpoint at once; an endpoint whose
   deliveries have all failed for 5 days is disabled too. Managers get a
   notice (an email, and a banner on the webhooks pages). A disabled
   endpoint's deliveries are held until a manager enables it again.

Retries are never slept on nor queued with a countdown: they are rows with a
`next_attempt_at` that the `webhooks_relay` job (beat, every 15 s) picks up,
so Celery's eager mode (`make run`) cannot recurse, and a broker that loses
a task loses nothing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateTimeField, F, Model, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.config import config_forget
from loyalty.errors import ValidationFailed
from loyalty.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookDisabledReason,
    WebhookEndpoint,
    WebhookEvent,
)
from loyalty.services import audit_record
from loyalty.webhooks import WebhookTarget, webhook_url_resolve

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=Model)

# Each network step (connect, send, each read) waits at most TIMEOUT_SECONDS;
# a whole attempt is cut off after ATTEMPT_SECONDS (a receiver that answers a
# byte at a time cannot hold a relay).
TIMEOUT_SECONDS = 10
ATTEMPT_SECONDS = 15
RETRY_FOR = timedelta(hours=24)
DISABLE_AFTER = timedelta(days=5)
# Deliveries a relay claims at once, and sends one after the other.
BATCH = 10
# A claimed attempt is not taken again before this, unless its relay recorded
# it: longer than a whole batch can take.
LEASE = timedelta(seconds=BATCH * ATTEMPT_SECONDS + 60)
USER_AGENT = "Setia-Webhooks/1"


# --- Signing -------------------------------------------------------------------------------


def webhook_body(event: WebhookEvent) -> bytes:
    return json.dumps(
        {
            "id": event.msg_id,
            "type": event.type,
            "created_at": timezone.localtime(event.created_at).isoformat(),
            "data": event.data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def webhook_signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}">`, keyed with
    the secret's decoded bytes (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_retry_delay(attempt: int) -> timedelta:
    """How long after failed attempt number `attempt` (1 = the first) the next
    one is due: LOYALTY_WEBHOOK_RETRY_SECONDS, doubling each time."""
    return timedelta(seconds=settings.LOYALTY_WEBHOOK_RETRY_SECONDS * 2 ** min(attempt - 1, 24))


# --- Sending -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _connection(target: WebhookTarget) -> http.client.HTTPConnection:
    """A connection to the addresses checked for `target` (the first that
    answers) that speaks to `target.host`: its Host header, and for https its
    TLS server name and certificate check. The host name itself is never
    looked up again."""
    if target.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            target.host,
            target.port,
            timeout=TIMEOUT_SECONDS,
            context=ssl.create_default_context(),
        )
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=TIMEOUT_SECONDS)

    def create_connection(
        _address: tuple[str, int], timeout: float, source: tuple[str, int] | None = None
    ) -> socket.socket:
        error: OSError | None = None
        for address in target.addresses:
            try:
                return socket.create_connection((address, target.port), timeout, source)
            except OSError as exc:
                error = exc
        assert error is not None
        raise error

    conn._create_connection = create_connection  # type: ignore[attr-defined]
    return conn


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def webhook_post(*, url: str, headers: dict[str, str], body: bytes) -> Outcome:
    """POST `body` to `url`, connecting to an address that passed the check.
    Never raises for what the network or the receiver does: it is the outcome."""
    started = time.monotonic()

    def done(status_code: int | None, error: str) -> Outcome:
        return Outcome(status_code, _short(error), int((time.monotonic() - started) * 1000))

    try:
        target = webhook_url_resolve(url)
    except ValidationFailed as refused:
        return done(None, refused.message)
    conn = _connection(target)
    cut_off = threading.Event()

    def cut() -> None:
        cut_off.set()
        if conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(ATTEMPT_SECONDS, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        status = response.status
        # A little of the answer, for the log: one read, whatever has come.
        answer = response.read1(2048).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        if cut_off.is_set() or isinstance(exc, TimeoutError):
            return done(None, f"Timed out (no answer within {ATTEMPT_SECONDS} s)")
        if isinstance(exc, ssl.SSLError):
            return done(None, f"TLS error: {exc}")
        return done(None, f"Connection failed: {exc.__class__.__name__} {exc}")
    finally:
        watchdog.cancel()
        conn.close()
    if 200 <= status < 300:
        return done(status, "")
    if 300 <= status < 400:
        return done(status, f"Redirect not followed (Location: {response.getheader('Location')})")
    return done(status, f"HTTP {status} {response.reason}: {answer}".rstrip(": "))


# --- The relay -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    attempt: int


@dataclass(frozen=True)
class RelaySummary:
    fanned_out: int
    attempted: int
    delivered: int

    def __str__(self) -> str:
        return (
            f"{self.fanned_out} events fanned out, {self.attempted} deliveries attempted, "
            f"{self.delivered} delivered"
        )


def _skip_locked(queryset: QuerySet[M]) -> QuerySet[M]:
    """FOR UPDATE SKIP LOCKED of the queryset's own rows on PostgreSQL; on
    SQLite, which has no row locks (one writer at a time), the plain query."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset


@transaction.atomic
def _fan_out(now: datetime) -> int:
    events = list(_skip_locked(WebhookEvent.objects.filter(fanned_out=False).order_by("id"))[:500])
    if not events:
        return 0
    wanted = {pk for event in events for pk in event.endpoint_ids}
    subscribed = dict(WebhookEndpoint.objects.filter(pk__in=wanted).values_list("pk", "events"))
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                event=event,
                endpoint_id=pk,
                next_attempt_at=min(event.created_at, now),
                created_at=event.created_at,
            )
            for event in events
            for pk in event.endpoint_ids
            if event.type in subscribed.get(pk, ())
        ],
        ignore_conflicts=True,
    )
    WebhookEvent.objects.filter(pk__in=[event.pk for event in events]).update(fanned_out=True)
    return len(events)


@transaction.atomic
def _claim(now: datetime) -> list[Claim]:
    """Take the due deliveries of active endpoints (see the module docstring)."""
    due = WebhookDelivery.objects.filter(
        status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__active=True
    ).order_by("next_attempt_at", "id")
    rows = list(_skip_locked(due).values_list("pk", "attempts")[:BATCH])
    if not rows:
        return []
    WebhookDelivery.objects.filter(pk__in=[pk for pk, _attempts in rows]).update(
        attempts=F("attempts") + 1,
        next_attempt_at=now + LEASE,
        first_attempt_at=Coalesce("first_attempt_at", Value(now, output_field=DateTimeField())),
    )
    return [Claim(delivery_id=pk, attempt=attempts + 1) for pk, attempts in rows]


def _send(claim: Claim) -> Outcome:
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=claim.delivery_id)
    event, endpoint = delivery.event, delivery.endpoint
    body = webhook_body(event)
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event.msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_signature(
            secret=endpoint.secret, msg_id=event.msg_id, timestamp=timestamp, body=body
        ),
    }
    return webhook_post(url=endpoint.url, headers=headers, body=body)


@transaction.atomic
def _record(claim: Claim, outcome: Outcome, now: datetime) -> None:
    """Log the attempt and move the delivery and its endpoint on. Locks the
    endpoint, then the delivery."""
    delivery = WebhookDelivery.objects.only("endpoint_id").get(pk=claim.delivery_id)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    delivery = WebhookDelivery.objects.select_for_update().get(pk=claim.delivery_id)
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=claim.attempt,
        at=now,
        status_code=outcome.status_code,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
    )
    current = (
        delivery.status == WebhookDeliveryStatus.PENDING and delivery.attempts == claim.attempt
    )
    changes: dict[str, object] = {
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "last_duration_ms": outcome.duration_ms,
    }
    if outcome.delivered:
        if current:
            changes |= {
                "status": WebhookDeliveryStatus.DELIVERED,
                "next_attempt_at": None,
                "delivered_at": now,
            }
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**changes)
        if endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return
    if current:
        first = delivery.first_attempt_at or now
        if now - first >= RETRY_FOR:
            changes |= {"status": WebhookDeliveryStatus.FAILED, "next_attempt_at": None}
        else:
            changes["next_attempt_at"] = now + webhook_retry_delay(claim.attempt)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**changes)
    failing_since = endpoint.failing_since or now
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
    if not endpoint.active:
        return
    if outcome.status_code == 410:
        _endpoint_disable(endpoint, WebhookDisabledReason.GONE, now)
    elif now - failing_since >= DISABLE_AFTER:
        _endpoint_disable(endpoint, WebhookDisabledReason.FAILING, now)


def _endpoint_disable(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """Stop sending to the locked `endpoint` and tell the managers."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        active=False, disabled_reason=reason, disabled_at=now
    )
    config_forget()  # an update() sends no post_save
    audit_record(
        actor=Actor.system(),
        action="webhook.disable",
        obj=endpoint,
        before={"active": True},
        after={"active": False, "disabled_reason": reason},
    )
    logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)
    # Imported here: tasks call the relay.
    from loyalty.tasks import send_webhook_disabled_notice

    endpoint_id = endpoint.pk
    transaction.on_commit(lambda: send_webhook_disabled_notice.delay(endpoint_id))


def webhooks_relay(*, now: datetime | None = None, batches: int = 4) -> RelaySummary:
    """Fan out new events and send what is due, up to `batches` batches.
    `now`: the time to act as of (tests, `run_jobs --as-of`); by default each
    step takes the clock's time."""
    fanned = _fan_out(now or timezone.now())
    attempted = delivered = 0
    for _batch in range(batches):
        claims = _claim(now or timezone.now())
        if not claims:
            break
        for claim in claims:
            outcome = _send(claim)
            _record(claim, outcome, now or timezone.now())
            attempted += 1
            delivered += int(outcome.delivered)
    return RelaySummary(fanned_out=fanned, attempted=attempted, delivered=delivered)


# The delivery log a manager can read back: events older than this whose
# deliveries all ended (delivered, or given up) are deleted with their log.
LOG_DAYS = 30
PURGE_CHUNK = 2000


def webhook_events_purge(*, now: datetime) -> int:
    """The `purge_webhook_log` job: delete the events written more than
    LOG_DAYS before `now` that were fanned out and have no delivery still
    pending (their deliveries and attempts go with them). An event still being
    retried, or one a paused endpoint holds, stays. Returns the events deleted."""
    old = WebhookEvent.objects.filter(
        created_at__lt=now - timedelta(days=LOG_DAYS), fanned_out=True
    ).exclude(deliveries__status=WebhookDeliveryStatus.PENDING)
    removed = 0
    while True:  # in chunks: a month of a busy shop's events is not one statement
        chunk = list(old.values_list("pk", flat=True)[:PURGE_CHUNK])
        if not chunk:
            return removed
        _deleted, by_model = WebhookEvent.objects.filter(pk__in=chunk).delete()
        removed += by_model.get(WebhookEvent._meta.label, 0)
