"""Web push, the platform's part: VAPID keys (RFC 8292), what a browser's push
subscription must look like, and the delivery of one message to one
subscription through pywebpush (which encrypts it, RFC 8291, and posts it to
the push service, RFC 8030). It knows nothing of members: `members/push.py`
keeps their subscriptions and calls `push_deliver` for each.

Rules kept here, and who checks them (tests/loyalty/test_webpush.py):

- Nothing is offered or sent while the VAPID key pair is not set
  (`vapid_configured`); a half pair, a mismatched pair or a subject that is not
  `mailto:`/`https:` fails `manage.py check` (loyalty.E002) rather than failing
  at the first message.
- The endpoint is a URL a member's browser chose and our server posts to, so
  it must be https, at most `ENDPOINT_MAX_LENGTH` characters, and on a public
  host: a literal private, loopback or link-local address (or `localhost`) is
  refused when the subscription is stored, and every address the name resolves
  to is checked again before each delivery, unless `LOYALTY_PUSH_ALLOW_PRIVATE`
  (tests). Redirects are never followed. (The name is resolved again by the
  HTTP client: a DNS answer that changes between the two is not caught.)
- The keys are the browser's: `p256dh` a P-256 public point (65 bytes,
  uncompressed), `auth` a 16-byte secret, both base64url.
- The message is JSON `{"title", "body", "url"}` with `url` a path of this
  site, kept well under the 4 KB a push service accepts.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import ipaddress
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.utils.translation import gettext as _
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from loyalty.addresses import address_refusal
from loyalty.errors import ValidationFailed

logger = logging.getLogger(__name__)

ENDPOINT_MAX_LENGTH = 1024
P256DH_BYTES = 65
AUTH_BYTES = 16
TITLE_MAX_LENGTH = 100
BODY_MAX_LENGTH = 500
URL_MAX_LENGTH = 512
# How long a push service keeps a message for a device that is offline.
TTL_SECONDS = 24 * 60 * 60
TIMEOUT_SECONDS = 10
# The push service's answers that mean the subscription is gone for good.
GONE_STATUSES = frozenset({404, 410})


class Delivery(enum.Enum):
    DELIVERED = "delivered"
    GONE = "gone"  # the push service forgot the subscription: delete it
    FAILED = "failed"  # anything else: try again with the next message


@dataclass(frozen=True)
class SubscriptionInput:
    """A browser's push subscription, checked (`subscription_clean`)."""

    endpoint: str
    p256dh: str
    auth: str


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Bytes of base64url `text`, padded or not; ValueError for anything else
    (the standard alphabet's `+` and `/` included)."""
    if not text or any(c not in _B64URL for c in text.rstrip("=")):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("not base64url") from error


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# --- VAPID keys ------------------------------------------------------------------------


def vapid_configured() -> bool:
    """Whether push is set up: both keys and the subject are given and fit
    together (when they do not, `manage.py check` says why: loyalty.E002)."""
    return _vapid_usable(
        settings.LOYALTY_VAPID_PUBLIC_KEY,
        settings.LOYALTY_VAPID_PRIVATE_KEY,
        settings.LOYALTY_VAPID_SUBJECT,
    )


@functools.lru_cache(maxsize=4)
def _vapid_usable(public: str, private: str, subject: str) -> bool:
    return bool(public and private and subject) and not _vapid_problems(public, private, subject)


def vapid_public_key() -> str:
    """The application server key browsers subscribe with (base64url)."""
    return settings.LOYALTY_VAPID_PUBLIC_KEY


def vapid_keys_generate() -> tuple[str, str]:
    """A new P-256 key pair as (public, private): base64url of the uncompressed
    public point and of the 32-byte private scalar."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url_encode(public), b64url_encode(private)


def vapid_problems() -> list[str]:
    """What is wrong with the VAPID settings; empty when push is off (nothing
    set) or set up right."""
    return _vapid_problems(
        settings.LOYALTY_VAPID_PUBLIC_KEY,
        settings.LOYALTY_VAPID_PRIVATE_KEY,
        settings.LOYALTY_VAPID_SUBJECT,
    )


def _vapid_problems(public: str, private: str, subject: str) -> list[str]:
    if not (public or private or subject):
        return []
    if not (public and private):
        return ["LOYALTY_VAPID_PUBLIC_KEY and LOYALTY_VAPID_PRIVATE_KEY must be set together."]
    problems = []
    if not subject.startswith(("mailto:", "https://")):
        problems.append(
            "LOYALTY_VAPID_SUBJECT must be a mailto: or https: URL (push services write to it)."
        )
    try:
        scalar = b64url_decode(private)
        if len(scalar) != 32:
            raise ValueError("length")
        key = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
    except ValueError:
        problems.append("LOYALTY_VAPID_PRIVATE_KEY is not a base64url P-256 private key.")
        return problems
    derived = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    try:
        given = b64url_decode(public)
    except ValueError:
        given = b""
    if given != derived:
        problems.append(
            "LOYALTY_VAPID_PUBLIC_KEY is not the public key of LOYALTY_VAPID_PRIVATE_KEY."
        )
    return problems


# --- Subscriptions ---------------------------------------------------------------------


def subscription_clean(data: Any) -> SubscriptionInput:
    """The subscription a browser sent (`PushSubscription.toJSON()`: `endpoint`
    and `keys.p256dh`, `keys.auth`), checked. Raises ValidationFailed naming
    every bad field; nothing is resolved or fetched."""
    if not isinstance(data, dict):
        raise ValidationFailed(_("Send the subscription as a JSON object."))
    fields: dict[str, list[str]] = {}
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    keys = keys if isinstance(keys, dict) else {}
    if isinstance(endpoint, str):
        problem = endpoint_problem(endpoint)
    else:
        problem = _("Give the endpoint URL.")
    if problem:
        fields["endpoint"] = [problem]
    p256dh = _key_clean(keys.get("p256dh"), P256DH_BYTES)
    if p256dh is None or not _is_p256_point(p256dh):
        fields["keys.p256dh"] = [_("Give the browser's P-256 public key in base64url (65 bytes).")]
    auth = _key_clean(keys.get("auth"), AUTH_BYTES)
    if auth is None:
        fields["keys.auth"] = [_("Give the authentication secret in base64url (16 bytes).")]
    if fields:
        raise ValidationFailed(_("This push subscription is not valid."), fields=fields)
    assert isinstance(endpoint, str) and p256dh is not None and auth is not None
    return SubscriptionInput(
        endpoint=endpoint, p256dh=b64url_encode(p256dh), auth=b64url_encode(auth)
    )


def _key_clean(value: Any, length: int) -> bytes | None:
    if not isinstance(value, str) or len(value) > 2 * length:
        return None
    try:
        raw = b64url_decode(value)
    except ValueError:
        return None
    return raw if len(raw) == length else None


def _is_p256_point(raw: bytes) -> bool:
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return False
    return raw[0] == 0x04


def endpoint_problem(endpoint: str, *, resolve: bool = False) -> str | None:
    """Why our server must not post to `endpoint`, or None. With `resolve`,
    every address the host name has is checked too (before each delivery)."""
    if len(endpoint) > ENDPOINT_MAX_LENGTH:
        return _("The endpoint is longer than %(max)s characters.") % {"max": ENDPOINT_MAX_LENGTH}
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        return _("The endpoint is not a URL.")
    if parts.scheme != "https" or not host:
        return _("The endpoint must be an https URL.")
    if parts.username is not None or parts.password is not None:
        return _("The endpoint must not carry a user name or password.")
    if settings.LOYALTY_PUSH_ALLOW_PRIVATE:
        return None
    refused = _("The endpoint must be on a public address.")
    if host == "localhost" or host.endswith((".localhost", ".local")):
        return refused
    literal = _ip_or_none(host)
    if literal is not None:
        return None if _is_public(literal) else refused
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        return _("The endpoint's host name does not resolve.")
    addresses = {_ip_or_none(str(info[4][0]).split("%")[0]) for info in infos}
    if not addresses or not all(a is not None and _is_public(a) for a in addresses):
        return refused
    return None


def _ip_or_none(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address_refusal(str(address)) is None


# --- Delivery --------------------------------------------------------------------------


def push_message(*, title: str, body: str, url: str) -> bytes:
    """The JSON the service worker shows (static/js/sw.js). `url` must be a
    path of this site ("/portal/..."); ValueError otherwise. Long texts are
    cut, so the message stays under what push services accept."""
    if not url.startswith("/") or url.startswith("//") or len(url) > URL_MAX_LENGTH:
        raise ValueError("url must be a path of this site, such as /portal/")
    return json.dumps(
        {"title": _cut(title, TITLE_MAX_LENGTH), "body": _cut(body, BODY_MAX_LENGTH), "url": url},
        ensure_ascii=False,
    ).encode("utf-8")


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def push_deliver(*, endpoint: str, p256dh: str, auth: str, message: bytes) -> Delivery:
    """Send `message` (from `push_message`) to one subscription. Never raises
    for what the network or the push service does: the answer says whether it
    was delivered, whether the subscription is gone (404, 410) or whether it
    failed (refused address, timeout, any other status)."""
    problem = endpoint_problem(endpoint, resolve=True)
    if problem:
        logger.warning("web push not sent to %s: %s", urlsplit(endpoint).hostname, problem)
        return Delivery.FAILED
    vapid = Vapid02.from_raw(settings.LOYALTY_VAPID_PRIVATE_KEY.encode("ascii"))
    with requests.Session() as session:
        # A redirect would send our post somewhere the checks above never saw.
        session.max_redirects = 0
        try:
            webpush(
                subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
                data=message,
                vapid_private_key=vapid,
                vapid_claims={"sub": settings.LOYALTY_VAPID_SUBJECT},
                ttl=TTL_SECONDS,
                timeout=TIMEOUT_SECONDS,
                requests_session=session,
            )
        except WebPushException as error:
            status = error.response.status_code if error.response is not None else None
            if status in GONE_STATUSES:
                return Delivery.GONE
            logger.warning("web push to %s failed: %s", urlsplit(endpoint).hostname, status)
            return Delivery.FAILED
        except requests.RequestException as error:
            logger.warning(
                "web push to %s failed: %s", urlsplit(endpoint).hostname, type(error).__name__
            )
            return Delivery.FAILED
    return Delivery.DELIVERED
