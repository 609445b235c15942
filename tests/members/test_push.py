"""Web push to members (members/push.py, the portal's subscription endpoint):
a subscription is stored for the signed-in member only and only when valid;
`push_send` reaches a push service, which can read exactly what we sent."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID
from django.urls import reverse
from py_vapid import Vapid02

from loyalty.models import NotificationDelivery
from loyalty.notifications import DeliveryFailed, notify
from loyalty.webpush import SubscriptionInput, b64url_decode, b64url_encode, vapid_keys_generate
from members.models import MemberStatus, PushSubscription
from members.push import (
    DEVICES_MAX,
    push_available,
    push_notification_send,
    push_send,
    push_subscription_save,
)
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

URL = "/portal/push/subscription/"


@pytest.fixture
def vapid(settings) -> tuple[str, str]:
    public, private = vapid_keys_generate()
    settings.LOYALTY_VAPID_PUBLIC_KEY = public
    settings.LOYALTY_VAPID_PRIVATE_KEY = private
    settings.LOYALTY_VAPID_SUBJECT = "mailto:ops@setia.example"
    return public, private


class Browser:
    """A browser's side of a subscription: its key pair and auth secret."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        point = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        self.p256dh = b64url_encode(point)

    def subscription(self, endpoint: str) -> dict:
        return {
            "endpoint": endpoint,
            "keys": {"p256dh": self.p256dh, "auth": b64url_encode(self.auth)},
        }

    def read(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


class PushService:
    """A push service on https://127.0.0.1: records each request and answers
    with the next of `statuses` (then 201)."""

    def __init__(self, certificate: str, key: str) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                service.received.append(
                    (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(service.statuses.pop(0) if service.statuses else 201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def endpoint(self, name: str) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/push/{name}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push_service(tmp_path, settings, monkeypatch) -> Iterator[PushService]:
    """A TLS push service on 127.0.0.1 whose certificate requests trusts for the test."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_path))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    settings.LOYALTY_PUSH_ALLOW_PRIVATE = True
    service = PushService(str(cert_path), str(key_path))
    yield service
    service.stop()


def subscribe(member, browser: Browser, endpoint: str) -> PushSubscription:
    data = browser.subscription(endpoint)
    return push_subscription_save(
        member=member,
        subscription=SubscriptionInput(
            endpoint=endpoint, p256dh=data["keys"]["p256dh"], auth=data["keys"]["auth"]
        ),
    )


# --- The portal's endpoint ---------------------------------------------------------------


def post(client, data, **extra):
    return client.post(URL, data=json.dumps(data), content_type="application/json", **extra)


def test_a_valid_subscription_is_stored_for_the_signed_in_member(client, member, vapid):
    client.force_login(member.user)
    data = Browser().subscription("https://fcm.googleapis.com/fcm/send/abc:123")
    response = post(client, data, HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 14)")
    assert response.status_code == 201
    assert response.json() == {"devices": 1}
    saved = PushSubscription.objects.get()
    assert saved.member == member
    assert saved.endpoint == data["endpoint"]
    assert saved.p256dh == data["keys"]["p256dh"] and saved.auth == data["keys"]["auth"]
    assert saved.user_agent == "Mozilla/5.0 (Linux; Android 14)"
    assert push_available(member)


@pytest.mark.parametrize(
    "change",
    [
        {"endpoint": "http://fcm.googleapis.com/fcm/send/abc"},
        {"endpoint": "https://fcm.googleapis.com/" + "a" * 1100},
        {"endpoint": "https://192.168.1.1/push"},
        {"keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
        {"keys": {"p256dh": Browser().p256dh, "auth": "short"}},
    ],
)
def test_a_bad_subscription_is_a_clear_400_and_nothing_is_stored(client, member, vapid, change):
    client.force_login(member.user)
    data = {**Browser().subscription("https://fcm.googleapis.com/fcm/send/abc"), **change}
    response = post(client, data)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"]
    assert not PushSubscription.objects.exists()


def test_a_body_that_is_not_json_or_too_long_is_a_400(client, member, vapid):
    client.force_login(member.user)
    assert client.post(URL, data="{", content_type="application/json").status_code == 400
    big = Browser().subscription("https://fcm.googleapis.com/fcm/send/abc")
    big["padding"] = "x" * 5000
    response = post(client, big)
    assert response.status_code == 400
    assert response.json()["detail"] == "The request is too large."
    assert not PushSubscription.objects.exists()


def test_signed_out_there_is_no_subscribing(client, vapid):
    response = post(client, Browser().subscription("https://fcm.googleapis.com/fcm/send/abc"))
    assert response.status_code == 403
    assert response.json()["code"] == "not_authenticated"
    assert not PushSubscription.objects.exists()


def test_the_endpoint_checks_the_csrf_token(member, vapid):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)
    response = post(client, Browser().subscription("https://fcm.googleapis.com/fcm/send/abc"))
    assert response.status_code == 403
    assert not PushSubscription.objects.exists()


def test_without_vapid_keys_nothing_is_stored(client, member, settings):
    settings.LOYALTY_VAPID_PUBLIC_KEY = ""
    client.force_login(member.user)
    response = post(client, Browser().subscription("https://fcm.googleapis.com/fcm/send/abc"))
    assert response.status_code == 400
    assert not PushSubscription.objects.exists()


def test_a_member_removes_only_their_own_subscription(client, member, vapid):
    other = MemberFactory()
    theirs = subscribe(other, Browser(), "https://fcm.googleapis.com/fcm/send/theirs")
    mine = subscribe(member, Browser(), "https://fcm.googleapis.com/fcm/send/mine")
    client.force_login(member.user)
    for endpoint in [theirs.endpoint, mine.endpoint]:
        response = client.delete(
            URL, data=json.dumps({"endpoint": endpoint}), content_type="application/json"
        )
        assert response.status_code == 204
    assert list(PushSubscription.objects.all()) == [theirs]


def test_the_member_who_subscribes_a_device_last_owns_it(client, member, vapid):
    other = MemberFactory()
    browser = Browser()
    subscribe(other, browser, "https://fcm.googleapis.com/fcm/send/shared")
    client.force_login(member.user)
    assert (
        post(client, browser.subscription("https://fcm.googleapis.com/fcm/send/shared")).status_code
        == 201
    )
    assert PushSubscription.objects.get().member == member
    assert not push_available(other)


def test_past_the_device_limit_the_oldest_subscription_goes(member, vapid):
    made = [
        subscribe(member, Browser(), f"https://fcm.googleapis.com/fcm/send/{n}")
        for n in range(DEVICES_MAX + 1)
    ]
    kept = set(PushSubscription.objects.values_list("pk", flat=True))
    assert len(kept) == DEVICES_MAX
    assert made[0].pk not in kept


def test_signing_out_forgets_the_subscription_this_browser_made(client, member, vapid):
    client.force_login(member.user)
    elsewhere = subscribe(member, Browser(), "https://fcm.googleapis.com/fcm/send/phone")
    post(client, Browser().subscription("https://fcm.googleapis.com/fcm/send/laptop"))
    assert PushSubscription.objects.count() == 2
    client.post(reverse("account_logout"))
    assert list(PushSubscription.objects.all()) == [elsewhere]


def test_the_profile_page_offers_the_switch_only_with_keys(client, member, settings, vapid):
    client.force_login(member.user)
    page = client.get(reverse("portal:profile")).content.decode()
    assert "Notifications on this device" in page
    assert f'data-vapid-key="{vapid[0]}"' in page
    assert 'data-testid="push-unavailable"' not in page
    settings.LOYALTY_VAPID_PRIVATE_KEY = ""
    page = client.get(reverse("portal:profile")).content.decode()
    assert "data-push-form" not in page
    assert "the program has not set them up" in page


def test_the_profile_page_says_it_in_malay(client, member, vapid):
    client.force_login(member.user)
    client.cookies["django_language"] = "ms"
    page = client.get(reverse("portal:profile")).content.decode()
    assert "Pemberitahuan pada peranti ini" in page
    assert "Hidupkan pemberitahuan" in page


# --- Sending -----------------------------------------------------------------------------


def test_push_send_reaches_every_device_with_what_we_sent_encrypted_and_signed(
    member, vapid, push_service
):
    phone, laptop = Browser(), Browser()
    subscribe(member, phone, push_service.endpoint("phone"))
    subscribe(member, laptop, push_service.endpoint("laptop"))

    reached = push_send(
        member, title="Mata diterima", body="Anda dapat 120 mata.", url="/portal/history/"
    )

    assert reached == 2
    by_path = {path: (headers, body) for path, headers, body in push_service.received}
    for path, browser in [("/push/phone", phone), ("/push/laptop", laptop)]:
        headers, body = by_path[path]
        assert browser.read(body) == {
            "title": "Mata diterima",
            "body": "Anda dapat 120 mata.",
            "url": "/portal/history/",
        }
        assert headers["content-encoding"] == "aes128gcm"
        assert int(headers["ttl"]) > 0
        # VAPID (RFC 8292): a JWT signed with our private key, and our public key.
        scheme, _space, params = headers["authorization"].partition(" ")
        assert scheme == "vapid"
        values = dict(part.strip().split("=", 1) for part in params.split(","))
        assert b64url_decode(values["k"]) == b64url_decode(vapid[0])
        claims = Vapid02.verify(headers["authorization"])
        assert claims
        payload = json.loads(b64url_decode(values["t"].split(".")[1]))
        assert payload["sub"] == "mailto:ops@setia.example"
        assert payload["aud"] == push_service.endpoint("").rsplit("/push/", 1)[0]
    assert all(s.last_success_at is not None for s in PushSubscription.objects.all())


def test_a_gone_subscription_is_deleted_and_other_failures_are_counted(member, vapid, push_service):
    gone = subscribe(member, Browser(), push_service.endpoint("gone"))
    push_service.statuses = [410]
    assert push_send(member, title="t", body="b", url="/portal/") == 0
    assert not PushSubscription.objects.filter(pk=gone.pk).exists()

    flaky = subscribe(member, Browser(), push_service.endpoint("flaky"))
    push_service.statuses = [500, 429]
    push_send(member, title="t", body="b", url="/portal/")
    push_send(member, title="t", body="b", url="/portal/")
    flaky.refresh_from_db()
    assert flaky.failure_count == 2
    assert push_send(member, title="t", body="b", url="/portal/") == 1
    flaky.refresh_from_db()
    assert flaky.failure_count == 0 and flaky.last_success_at is not None

    push_service.statuses = [404]
    push_send(member, title="t", body="b", url="/portal/")
    assert not PushSubscription.objects.exists()


def test_a_private_endpoint_is_not_posted_to_unless_allowed(member, vapid, push_service, settings):
    subscribe(member, Browser(), push_service.endpoint("private"))
    settings.LOYALTY_PUSH_ALLOW_PRIVATE = False
    assert push_send(member, title="t", body="b", url="/portal/") == 0
    assert push_service.received == []
    assert PushSubscription.objects.get().failure_count == 1


def test_a_redirect_is_not_followed(member, vapid, push_service):
    subscribe(member, Browser(), push_service.endpoint("moved"))
    push_service.statuses = [307]
    assert push_send(member, title="t", body="b", url="/portal/") == 0
    assert len(push_service.received) == 1


def test_nothing_is_sent_without_keys_or_to_a_member_who_left(
    member, settings, vapid, push_service
):
    subscribe(member, Browser(), push_service.endpoint("phone"))
    settings.LOYALTY_VAPID_PRIVATE_KEY = ""
    assert not push_available(member)
    assert push_send(member, title="t", body="b", url="/portal/") == 0
    settings.LOYALTY_VAPID_PRIVATE_KEY = vapid[1]
    member.status = MemberStatus.DELETED
    assert not push_available(member)
    assert push_send(member, title="t", body="b", url="/portal/") == 0
    assert push_service.received == []


TIER_CONTEXT = {"tier": "Gold", "program": "Setia Rewards"}


# --- As a notification channel -----------------------------------------------------------


def test_a_notification_goes_to_the_members_devices_by_the_push_channel(
    member, vapid, push_service, django_capture_on_commit_callbacks
):
    phone = Browser()
    subscribe(member, phone, push_service.endpoint("phone"))
    with django_capture_on_commit_callbacks(execute=True):
        notification = notify(member, "tier_up", TIER_CONTEXT, event_key="tier:test:1")
    assert notification is not None
    delivery = NotificationDelivery.objects.get(notification=notification, channel="push")
    assert delivery.status == "sent"
    [(_path, _headers, body)] = push_service.received
    message = phone.read(body)
    assert (message["title"], message["body"]) == (notification.title, notification.body)
    assert message["url"].startswith("/portal/")


def test_a_member_without_a_device_gets_no_push_delivery(member, vapid):
    notification = notify(member, "tier_up", TIER_CONTEXT, event_key="tier:test:2")
    assert notification is not None
    assert not NotificationDelivery.objects.filter(notification=notification, channel="push")


def test_a_failing_push_service_is_retried_not_dropped(member, vapid, push_service):
    subscribe(member, Browser(), push_service.endpoint("busy"))
    push_service.statuses = [500]
    notification = notify(member, "tier_up", TIER_CONTEXT, event_key="tier:test:3")
    with pytest.raises(DeliveryFailed):
        push_notification_send(notification)
