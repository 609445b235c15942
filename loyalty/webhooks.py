"""Webhooks to merchant systems: the outbox, endpoints and their safety rules.

The rules this module keeps (API.md, "Feedback, notifications, webhooks"),
and who checks them:

- An event is written by `webhook_emit` in the transaction of the change it
  tells of, so none is lost and none is sent for a change that rolled back
  (tests/loyalty/test_webhooks.py). The relay (loyalty.webhook_relay) sends
  it after the commit.
- With no active endpoint subscribed to a type, emitting it writes nothing and
  reads nothing: the subscriptions come from the configuration cache
  (loyalty.config), so a program without webhooks pays no statement on any
  path, the sale included (tests/purchases/test_statement_budget.py). The
  event's data is then not even built: callers pass a function that builds it.
- An endpoint's URL is http or https on a public address: a host that is or
  resolves to a private, loopback, link-local, multicast or reserved address
  is refused (every address it resolves to is checked), unless
  `LOYALTY_WEBHOOK_ALLOW_PRIVATE` is on. The relay checks again at delivery
  time and connects to the address it checked (webhook_relay).
- The secret (`whsec_` + base64 of 32 random bytes) is kept, to sign, and
  shown once, when the endpoint is created.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.addresses import address_refusal
from loyalty.config import config_cached
from loyalty.db import insert, insert_unless_taken
from loyalty.errors import ValidationFailed
from loyalty.models import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookDisabledReason,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
)
from loyalty.services import audit_record, model_validate, snapshot

logger = logging.getLogger(__name__)

EVENT_TYPES: tuple[str, ...] = tuple(WebhookEventType.values)
# Defined in the contract, emitted once their feature lands (none left: challenges landed).
EVENT_TYPES_LATER: frozenset[str] = frozenset()
URL_MAX_LENGTH = WebhookEndpoint._meta.get_field("url").max_length
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret

EventData = dict[str, Any] | Callable[[], dict[str, Any]]


# --- Emitting ------------------------------------------------------------------------------


def webhook_subscriptions() -> dict[str, tuple[int, ...]]:
    """The active endpoints' ids by event type, from the configuration cache."""
    return config_cached("webhooks", _subscriptions_load)


def _subscriptions_load() -> dict[str, tuple[int, ...]]:
    subscribed: dict[str, list[int]] = {}
    for pk, events in WebhookEndpoint.objects.filter(active=True).values_list("pk", "events"):
        for event_type in events:
            subscribed.setdefault(event_type, []).append(pk)
    return {event_type: tuple(ids) for event_type, ids in subscribed.items()}


def webhook_is_subscribed(event_type: str) -> bool:
    return bool(webhook_subscriptions().get(event_type))


def new_msg_id() -> str:
    """The event's `webhook-id`: 128 random bits."""
    return f"msg_{secrets.token_hex(16)}"


def webhook_emit(
    event_type: str,
    data: EventData,
    *,
    key: str | None = None,
    now: datetime | None = None,
) -> WebhookEvent | None:
    """Write one event to the outbox, in the caller's transaction, when some
    active endpoint subscribes to `event_type`; otherwise do nothing at all
    (no statement, and `data`, when a function, is not called). `data` is the
    API's representation of the thing the event tells of. With `key`, an
    event of that key is written once only (a second emit returns None).
    The relay is queued for when the transaction commits."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type: {event_type!r}")
    endpoint_ids = webhook_subscriptions().get(event_type)
    if not endpoint_ids:
        return None
    payload = data() if callable(data) else data
    event = WebhookEvent(
        msg_id=new_msg_id(),
        type=event_type,
        created_at=now or timezone.now(),
        # JSON as the API gives it: amounts and times as strings.
        data=json.loads(json.dumps(payload, cls=DjangoJSONEncoder)),
        endpoint_ids=list(endpoint_ids),
        key=key,
    )
    if key is None:
        insert(event)
    elif not insert_unless_taken(event, unique=("key",)):
        return None
    webhooks_relay_on_commit()
    return event


def webhooks_relay_on_commit() -> None:
    """Queue the relay once the current transaction commits (once per
    transaction however many events it wrote)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        entry[1] is _relay_queue for entry in connection.run_on_commit
    ):
        return
    transaction.on_commit(_relay_queue)


def _relay_queue() -> None:
    # Imported here: tasks call the relay, which imports this module.
    from loyalty.tasks import webhooks_relay_task

    try:
        webhooks_relay_task.delay()
    except Exception:
        # A broker that is down, or (eager mode) a relay that failed: the
        # change is committed and its event is in the outbox, where the
        # `webhooks_relay` job finds it.
        logger.exception("webhook relay not run now; the webhooks_relay job will deliver")


# --- Addresses -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookTarget:
    """Where a URL points: what to connect to and what to send as Host."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def _url_error(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"url": [message]})


def webhook_url_parse(url: str) -> WebhookTarget:
    """The parts of an endpoint URL (no addresses yet). Raises ValidationFailed
    (`fields.url`) for anything but an absolute http or https URL."""
    if len(url) > URL_MAX_LENGTH:
        raise _url_error(_("At most %(count)s characters.") % {"count": URL_MAX_LENGTH})
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise _url_error(_("The URL cannot contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _url_error(_("This is not a valid URL.")) from exc
    if parts.scheme not in ("http", "https"):
        raise _url_error(_("The URL must start with https:// (or http://)."))
    if not parts.hostname:
        raise _url_error(_("The URL has no host name."))
    if parts.username is not None or parts.password is not None:
        raise _url_error(
            _("Put no user name or password in the URL; the signature proves it is us.")
        )
    host = parts.hostname
    try:
        host.encode("idna")
    except UnicodeError as exc:
        raise _url_error(_("The host name is not valid.")) from exc
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return WebhookTarget(
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
        addresses=(),
    )


def webhook_url_resolve(url: str, *, allow_private: bool | None = None) -> WebhookTarget:
    """Parse `url` and resolve its host. Every address it resolves to must be
    public unless private ones are allowed (`LOYALTY_WEBHOOK_ALLOW_PRIVATE`).
    Raises ValidationFailed (`fields.url`) naming what is wrong."""
    if allow_private is None:
        allow_private = settings.LOYALTY_WEBHOOK_ALLOW_PRIVATE
    target = webhook_url_parse(url)
    try:
        found = socket.getaddrinfo(
            target.host.encode("idna").decode(), target.port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as exc:
        raise _url_error(
            _("The host %(host)s could not be found.") % {"host": target.host}
        ) from exc
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise _url_error(_("The host %(host)s could not be found.") % {"host": target.host})
    if not allow_private:
        for address in addresses:
            reason = address_refusal(address)
            if reason is not None:
                raise _url_error(
                    _("Webhooks cannot go to %(host)s: %(reason)s (%(address)s).")
                    % {"host": target.host, "reason": reason, "address": address}
                )
    return WebhookTarget(
        scheme=target.scheme,
        host=target.host,
        port=target.port,
        path=target.path,
        addresses=addresses,
    )


def webhook_url_check(url: str) -> str:
    """Refuse an endpoint URL that can never be delivered to safely; returns
    it. With private addresses allowed only its form is checked (its host
    may not resolve yet); otherwise its host is resolved and every address
    checked. Raises ValidationFailed (`fields.url`)."""
    url = url.strip()
    if settings.LOYALTY_WEBHOOK_ALLOW_PRIVATE:
        webhook_url_parse(url)
    else:
        webhook_url_resolve(url, allow_private=False)
    return url


# --- Endpoints -----------------------------------------------------------------------------

ENDPOINT_FIELDS = ("url", "description", "events", "active", "disabled_reason")


@dataclass(frozen=True)
class IssuedWebhookEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # the same as endpoint.secret; shown once


def new_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _events_clean(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise ValidationFailed(
            fields={
                "events": [_("Unknown event types: %(types)s.") % {"types": ", ".join(unknown)}]
            }
        )
    if not events:
        raise ValidationFailed(fields={"events": [_("Choose at least one event type.")]})
    # In the contract's order, each once.
    return [event_type for event_type in EVENT_TYPES if event_type in set(events)]


@transaction.atomic
def webhook_endpoint_create(
    *,
    actor: Actor,
    url: str,
    events: list[str],
    description: str = "",
    active: bool = True,
) -> IssuedWebhookEndpoint:
    """Create an endpoint with a new secret. Raises ValidationFailed for a URL
    that is not http(s) or not on a public address (see the module), or no or
    unknown event types; then nothing is stored."""
    url = webhook_url_check(url)
    endpoint = WebhookEndpoint(
        url=url,
        description=description.strip(),
        secret=new_webhook_secret(),
        events=_events_clean(events),
        active=active,
        disabled_reason="" if active else WebhookDisabledReason.MANAGER,
        disabled_at=None if active else timezone.now(),
        created_by=actor.user,
    )
    model_validate(endpoint, exclude=["url", "created_by"])
    endpoint.save()
    audit_record(
        actor=actor,
        action="webhook.create",
        obj=endpoint,
        after=snapshot(endpoint, ENDPOINT_FIELDS),
    )
    return IssuedWebhookEndpoint(endpoint=endpoint, secret=endpoint.secret)


@transaction.atomic
def webhook_endpoint_update(
    *, actor: Actor, endpoint: WebhookEndpoint, **changes: Any
) -> WebhookEndpoint:
    """Change an endpoint's URL, description, events or `active`. Turning it
    active again (a re-enable after a 410 or 5 days of failures) resumes its
    held deliveries; turning it off holds them. Raises ValidationFailed."""
    unknown = set(changes) - {"url", "description", "events", "active"}
    if unknown:
        raise ValidationFailed(
            fields={name: [_("This field cannot be changed.")] for name in sorted(unknown)}
        )
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = snapshot(endpoint, ENDPOINT_FIELDS)
    if "url" in changes:
        endpoint.url = webhook_url_check(changes["url"])
    if "description" in changes:
        endpoint.description = changes["description"].strip()
    if "events" in changes:
        endpoint.events = _events_clean(changes["events"])
    if "active" in changes and changes["active"] != endpoint.active:
        if changes["active"]:
            endpoint.active = True
            endpoint.disabled_reason, endpoint.disabled_at = "", None
            endpoint.failing_since = None
            # What waited while it was off is due now, not at its old retry time.
            WebhookDelivery.objects.filter(
                endpoint=endpoint, status=WebhookDeliveryStatus.PENDING
            ).update(next_attempt_at=timezone.now())
        else:
            endpoint.active = False
            endpoint.disabled_reason = WebhookDisabledReason.MANAGER
            endpoint.disabled_at = timezone.now()
    model_validate(endpoint, exclude=["url", "created_by"])
    endpoint.save()
    audit_record(
        actor=actor,
        action="webhook.update",
        obj=endpoint,
        before=before,
        after=snapshot(endpoint, ENDPOINT_FIELDS),
    )
    if endpoint.active:
        webhooks_relay_on_commit()
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint with its deliveries and their log."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    audit_record(
        actor=actor,
        action="webhook.delete",
        obj=endpoint,
        before=snapshot(endpoint, ENDPOINT_FIELDS),
    )
    endpoint.delete()


@transaction.atomic
def webhook_delivery_resend(*, actor: Actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again (delivered, failed or waiting for its retry):
    it becomes due now, with the same `webhook-id`. Sent once the endpoint is
    active."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    before = {"status": delivery.status, "attempts": delivery.attempts}
    delivery.status = WebhookDeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    audit_record(
        actor=actor,
        action="webhook.resend",
        obj=delivery.endpoint,
        before=before,
        after={"event": delivery.event.msg_id, "status": delivery.status},
    )
    webhooks_relay_on_commit()
    return delivery
