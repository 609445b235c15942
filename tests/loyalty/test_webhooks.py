"""Webhooks (loyalty/webhooks.py, loyalty/webhook_relay.py): the outbox, the
signed relay with its retries, disabling, and the address rules."""

from __future__ import annotations

import itertools
import json
import socket
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.models import (
    AuditEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from loyalty.webhook_relay import RETRY_FOR, webhook_retry_delay, webhooks_relay
from loyalty.webhooks import (
    webhook_delivery_resend,
    webhook_emit,
    webhook_endpoint_create,
    webhook_endpoint_update,
    webhook_url_check,
)
from tests.factories import StaffUserFactory
from tests.loyalty.webhook_receiver import webhook_receiver
from tests.purchases.conftest import sale


def _endpoint(url: str, *events: str) -> tuple[WebhookEndpoint, str]:
    issued = webhook_endpoint_create(actor=Actor.system(), url=url, events=list(events))
    return issued.endpoint, issued.secret


def _verified(secret: str, received) -> dict:
    """The payload, once the standardwebhooks library accepts its signature."""
    return Webhook(secret).verify(received.body, received.headers)


# --- The outbox ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_event_nobody_subscribes_to_writes_nothing():
    """No active endpoint for the type: no row, and the data is never built."""
    _endpoint("http://127.0.0.1:9/hooks", "member.enrolled")

    def data() -> dict:
        raise AssertionError("built without a subscriber")

    assert webhook_emit("purchase.recorded", data) is None
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_paused_endpoint_gets_no_new_events():
    endpoint, _secret = _endpoint("http://127.0.0.1:9/hooks", "member.enrolled")
    webhook_endpoint_update(actor=Actor.system(), endpoint=endpoint, active=False)
    assert webhook_emit("member.enrolled", {"id": "x"}) is None


@pytest.mark.django_db
def test_a_receiver_that_fails_twice_gets_the_event_three_times_with_one_id(
    pos_api, shopper, django_capture_on_commit_callbacks
):
    """500, 503, then 200: three POSTs of one event, the same webhook-id each
    time, each signature verified by the standardwebhooks library; the log
    shows the three attempts and the delivery is delivered."""
    with webhook_receiver(500, 503) as receiver:
        endpoint, secret = _endpoint(receiver.url, "purchase.recorded")
        with django_capture_on_commit_callbacks(execute=True):
            response = pos_api.post(
                "/api/v1/purchases",
                sale("R-1", ("TEA", 2, "10.00"), member=shopper),
                format="json",
            )
        assert response.status_code == 201
        assert len(receiver.received) == 1  # the first attempt, right after the commit
        now = timezone.now()
        webhooks_relay(now=now + timedelta(seconds=5))  # not due yet: 30 s
        assert len(receiver.received) == 1
        webhooks_relay(now=now + timedelta(seconds=31))
        webhooks_relay(now=now + timedelta(seconds=31 + 61))

    assert len(receiver.received) == 3
    ids = {received.headers["webhook-id"] for received in receiver.received}
    assert len(ids) == 1 and next(iter(ids)).startswith("msg_")
    payloads = [_verified(secret, received) for received in receiver.received]
    assert all(payload == payloads[0] for payload in payloads)
    assert payloads[0]["type"] == "purchase.recorded"
    assert payloads[0]["id"] == next(iter(ids))
    assert payloads[0]["data"] == response.json() | {
        "occurred_at": payloads[0]["data"]["occurred_at"]
    }
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == "delivered" and delivery.attempts == 3
    log = list(delivery.attempt_log.order_by("number").values_list("number", "status_code"))
    assert log == [(1, 500), (2, 503), (3, 200)]
    attempts = pos_api_admin_deliveries(endpoint)
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(3, 200), (2, 503), (1, 500)]
    assert all(a["event_id"] == next(iter(ids)) for a in attempts)


def pos_api_admin_deliveries(endpoint: WebhookEndpoint) -> list[dict]:
    from tests.conftest import api_client_for

    response = api_client_for("admin").get(f"/api/v1/webhooks/{endpoint.pk}/deliveries")
    assert response.status_code == 200
    return response.json()["results"]


@pytest.mark.django_db(transaction=True)
def test_a_sale_that_rolls_back_emits_no_event_and_one_that_commits_does(pos_api, shopper):
    """In real transactions: a sale refused (points it cannot pay) leaves no
    event and the receiver hears nothing; the next sale, committed, is
    delivered right after its commit."""
    with webhook_receiver() as receiver:
        _endpoint(receiver.url, "purchase.recorded", "voucher.used", "tier.changed")
        refused = pos_api.post(
            "/api/v1/purchases",
            sale("R-NO", ("TEA", 2, "10.00"), member=shopper, points_to_redeem=500),
            format="json",
        )
        assert refused.status_code == 422
        assert not WebhookEvent.objects.exists()
        assert receiver.received == []
        recorded = pos_api.post(
            "/api/v1/purchases", sale("R-YES", ("TEA", 2, "10.00"), member=shopper), format="json"
        )
        assert recorded.status_code == 201
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["purchase.recorded"]
    assert json.loads(receiver.received[0].body)["data"]["reference"] == "R-YES"


@pytest.mark.django_db
def test_the_backoff_doubles_from_the_setting_and_gives_up_after_24_hours(settings):
    """Failed attempts are retried after 30 s, 60 s, 120 s, … (the setting,
    doubling); a failure 24 hours or more after the first attempt ends the
    delivery as failed."""
    settings.LOYALTY_WEBHOOK_RETRY_SECONDS = 30
    with webhook_receiver(*[500] * 40) as receiver:
        endpoint, _secret = _endpoint(receiver.url, "member.updated")
        webhook_emit("member.updated", {"id": "m1"})
        now = timezone.now()
        delays = []
        for _attempt in range(30):
            webhooks_relay(now=now)
            delivery = WebhookDelivery.objects.get(endpoint=endpoint)
            if delivery.status != "pending":
                break
            delays.append((delivery.next_attempt_at - now).total_seconds())
            now = delivery.next_attempt_at
    assert delays[:5] == [30, 60, 120, 240, 480]
    assert all(later == 2 * earlier for earlier, later in itertools.pairwise(delays))
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    attempts = list(delivery.attempt_log.order_by("number"))
    assert attempts[-1].at - attempts[0].at >= RETRY_FOR
    assert attempts[-2].at - attempts[0].at < RETRY_FOR
    assert len(receiver.received) == len(attempts) == delivery.attempts


def test_the_retry_delay_doubles(settings):
    settings.LOYALTY_WEBHOOK_RETRY_SECONDS = 7
    assert [webhook_retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [7, 14, 28, 56]


@pytest.mark.django_db
def test_a_410_disables_the_endpoint_and_tells_the_managers(
    roles, client, django_capture_on_commit_callbacks
):
    """A 410 Gone: the endpoint is disabled at once (no retry), the managers
    get an email, the webhooks pages show the notice, and later events are
    not kept for it; enabling it again resumes."""
    manager = StaffUserFactory(role="Manager", email="boss@example.com")
    StaffUserFactory(role="Marketer", email="marketer@example.com")
    with webhook_receiver(410) as receiver:
        endpoint, _secret = _endpoint(receiver.url, "member.updated")
        webhook_emit("member.updated", {"id": "m1"})
        with django_capture_on_commit_callbacks(execute=True):
            webhooks_relay()
        endpoint.refresh_from_db()
        assert not endpoint.active and endpoint.disabled_reason == "gone"
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["boss@example.com"]
        assert receiver.url in mail.outbox[0].body
        assert AuditEvent.objects.filter(action="webhook.disable").exists()
        assert webhook_emit("member.updated", {"id": "m2"}) is None
        webhooks_relay(now=timezone.now() + timedelta(hours=1))
        assert len(receiver.received) == 1

        client.force_login(manager)
        page = client.get("/staff/webhooks/").content.decode()
        assert "it answered 410 Gone" in page and receiver.url in page

        webhook_endpoint_update(actor=Actor.system(), endpoint=endpoint, active=True)
        webhooks_relay(now=timezone.now() + timedelta(hours=1))
    assert len(receiver.received) == 2
    assert WebhookDelivery.objects.get(endpoint=endpoint).status == "delivered"
    assert "410 Gone" not in client.get("/staff/webhooks/").content.decode()


@pytest.mark.django_db
def test_five_days_of_failures_disable_the_endpoint(roles, django_capture_on_commit_callbacks):
    StaffUserFactory(role="Manager", email="boss@example.com")
    with webhook_receiver(*[500] * 10) as receiver:
        endpoint, _secret = _endpoint(receiver.url, "member.updated")
        start = timezone.now()
        webhook_emit("member.updated", {"id": "m1"})
        webhooks_relay(now=start)
        webhook_emit("member.updated", {"id": "m2"}, now=start + timedelta(days=4))
        webhooks_relay(now=start + timedelta(days=4))
        endpoint.refresh_from_db()
        assert endpoint.active
        webhook_emit("member.updated", {"id": "m3"}, now=start + timedelta(days=5))
        with django_capture_on_commit_callbacks(execute=True):
            webhooks_relay(now=start + timedelta(days=5))
    endpoint.refresh_from_db()
    assert not endpoint.active and endpoint.disabled_reason == "failing"
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_resend_sends_the_same_event_again(roles):
    with webhook_receiver() as receiver:
        endpoint, secret = _endpoint(receiver.url, "member.updated")
        webhook_emit("member.updated", {"id": "m1"})
        webhooks_relay()
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        webhook_delivery_resend(actor=Actor.system(), delivery=delivery)
        webhooks_relay()
    first, again = receiver.received
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert _verified(secret, again)["data"] == {"id": "m1"}
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 2


# --- Addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hooks",
        "http://localhost:8000/hooks",
        "http://10.1.2.3/hooks",
        "http://192.168.0.10/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://224.0.0.1/hooks",
        "http://0.0.0.0/hooks",
        "http://240.0.0.1/hooks",
    ],
)
@pytest.mark.django_db
def test_private_addresses_are_refused_without_the_setting(settings, admin_api, url):
    """A 400 envelope naming the url field, and nothing stored."""
    settings.LOYALTY_WEBHOOK_ALLOW_PRIVATE = False
    response = admin_api.post(
        "/api/v1/webhooks", {"url": url, "events": ["member.enrolled"]}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and "Webhooks cannot go to" in body["fields"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "example.com/hooks", "http://user:pw@example.com/", "http:///x"]
)
@pytest.mark.django_db
def test_urls_that_are_not_http_are_refused(admin_api, url):
    response = admin_api.post(
        "/api/v1/webhooks", {"url": url, "events": ["member.enrolled"]}, format="json"
    )
    assert response.status_code == 400 and "url" in response.json()["fields"]
    assert not WebhookEndpoint.objects.exists()


def test_a_host_resolving_to_any_private_address_is_refused(settings, monkeypatch):
    """Every address the host resolves to is checked, not only the first."""
    settings.LOYALTY_WEBHOOK_ALLOW_PRIVATE = False

    def resolve(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr("loyalty.webhooks.socket.getaddrinfo", resolve)
    with pytest.raises(ValidationFailed, match="private"):
        webhook_url_check("https://hooks.example.com/x")


def test_a_public_address_is_accepted(settings):
    settings.LOYALTY_WEBHOOK_ALLOW_PRIVATE = False
    assert webhook_url_check(" https://93.184.216.34/hooks ") == "https://93.184.216.34/hooks"


@pytest.mark.django_db
def test_the_address_is_checked_again_at_delivery_time(settings):
    """An endpoint stored while private addresses were allowed: once they are
    not, its delivery is refused before any connection."""
    with webhook_receiver() as receiver:
        endpoint, _secret = _endpoint(receiver.url, "member.updated")
        settings.LOYALTY_WEBHOOK_ALLOW_PRIVATE = False
        webhook_emit("member.updated", {"id": "m1"})
        webhooks_relay()
    assert receiver.received == []
    attempt = WebhookAttempt.objects.get(delivery__endpoint=endpoint)
    assert attempt.status_code is None and "loopback" in attempt.error


@pytest.mark.django_db
def test_the_delivery_connects_to_the_address_it_checked(monkeypatch):
    """The host is resolved once per attempt and the connection goes to the
    address that was checked, with the URL's host in the Host header: a
    second DNS answer (rebinding) is never asked for."""
    with webhook_receiver() as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
        endpoint, _secret = _endpoint(f"http://hooks.example.test:{port}/in", "member.updated")
        answers = []

        def resolve(host, port, *args, **kwargs):
            answers.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

        monkeypatch.setattr("loyalty.webhooks.socket.getaddrinfo", resolve)
        webhook_emit("member.updated", {"id": "m1"})
        webhooks_relay()
    # The name is looked up once; the connection then only parses the address
    # it was given (socket.create_connection looks the literal up too).
    assert answers == ["hooks.example.test", "127.0.0.1"]
    (received,) = receiver.received
    assert received.headers["host"] == f"hooks.example.test:{port}" and received.path == "/in"
    assert WebhookDelivery.objects.get(endpoint=endpoint).status == "delivered"


@pytest.mark.django_db
def test_a_redirect_is_not_followed():
    with webhook_receiver(302) as receiver:
        endpoint, _secret = _endpoint(receiver.url, "member.updated")
        webhook_emit("member.updated", {"id": "m1"})
        webhooks_relay()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == "pending" and delivery.last_status_code == 302
    assert "Redirect not followed" in delivery.last_error
    assert len(receiver.received) == 1


# --- Two relays ------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_send_each_delivery_once(monkeypatch):
    """Two relays started together on PostgreSQL (FOR UPDATE SKIP LOCKED):
    every event reaches the receiver exactly once. (The relay queued after
    each emit is held back, so the two relays find all the work.)"""
    assert connection.vendor == "postgresql"
    monkeypatch.setattr("loyalty.webhooks._relay_queue", lambda: None)
    with webhook_receiver() as receiver:
        _endpoint(receiver.url, "member.updated")
        for n in range(30):
            webhook_emit("member.updated", {"id": f"m{n}"})
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def relay() -> None:
            from django.db import connection as thread_connection

            try:
                barrier.wait()
                webhooks_relay(batches=10)
            except BaseException as exc:
                errors.append(exc)
            finally:
                thread_connection.close()

        threads = [threading.Thread(target=relay) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    ids = [received.headers["webhook-id"] for received in receiver.received]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert WebhookAttempt.objects.count() == 30
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


@pytest.mark.django_db
def test_an_expiring_lot_is_told_once(shopper, program):
    """points.expiring: once per lot within the warning days, however often
    the job runs."""
    from members.points import points_expiring_emit
    from tests.rewards.conftest import fund

    _endpoint("http://127.0.0.1:9/hooks", "points.expiring")
    fund(shopper, 100)
    later = timezone.now() + timedelta(days=program.expiry_days - 3)
    assert points_expiring_emit(as_of=timezone.now()) == 0  # a year away
    assert points_expiring_emit(as_of=later) == 1
    assert points_expiring_emit(as_of=later) == 0
    event = WebhookEvent.objects.get(type="points.expiring")
    assert event.data["member_id"] == shopper.public_id and event.data["points"] == 100
    assert Decimal(event.data["points"]) == 100


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_relay_skips_the_deliveries_another_relay_is_claiming(monkeypatch):
    """While one relay's claim is still open (its transaction not committed),
    a second relay does not wait for it nor take its rows: it takes the
    others (SKIP LOCKED). Without the lock it would claim the same ones."""
    from django.db import transaction

    from loyalty.webhook_relay import BATCH, _claim, _fan_out

    monkeypatch.setattr("loyalty.webhooks._relay_queue", lambda: None)
    _endpoint("http://127.0.0.1:9/hooks", "member.updated")
    for n in range(BATCH + 10):
        webhook_emit("member.updated", {"id": f"m{n}"})
    now = timezone.now()
    _fan_out(now)
    first, second = [], []
    first_claimed, second_done = threading.Event(), threading.Event()

    def claim_and_hold() -> None:
        from django.db import connection as thread_connection

        try:
            with transaction.atomic():
                first.extend(_claim(now))
                first_claimed.set()
                second_done.wait(timeout=10)
        finally:
            thread_connection.close()

    def claim_meanwhile() -> None:
        from django.db import connection as thread_connection

        try:
            first_claimed.wait(timeout=10)
            second.extend(_claim(now))
            second_done.set()
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=claim_and_hold), threading.Thread(target=claim_meanwhile)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(first) == BATCH and len(second) == 10
    assert not {c.delivery_id for c in first} & {c.delivery_id for c in second}


@pytest.mark.django_db
def test_the_plain_python_check_of_the_integration_guide_verifies_our_signature():
    """docs/integration.md shows a receiver's check in plain Python: run as
    written, it accepts a real delivery and refuses a changed body."""
    from pathlib import Path

    from django.conf import settings

    guide = (Path(settings.BASE_DIR) / "docs" / "integration.md").read_text()
    block = next(
        part.split("```", 1)[0]
        for part in guide.split("```python\n")[1:]
        if "def verify(" in part.split("```", 1)[0]
    )
    namespace: dict = {}
    exec(block, namespace)  # noqa: S102 - the guide's own example
    with webhook_receiver() as receiver:
        _unused, secret = _endpoint(receiver.url, "member.updated")
        webhook_emit("member.updated", {"id": "m1"})
        webhooks_relay()
    (received,) = receiver.received
    assert namespace["verify"](secret, received.headers, received.body)
    assert not namespace["verify"](secret, received.headers, received.body + b" ")


@pytest.mark.django_db
def test_a_receiver_too_slow_to_answer_is_a_failed_attempt(monkeypatch):
    """An attempt is cut off after ATTEMPT_SECONDS, whatever the receiver
    does, and retried like any failure."""
    monkeypatch.setattr("loyalty.webhook_relay.ATTEMPT_SECONDS", 0.5)
    with webhook_receiver(delay=2.0) as receiver:
        endpoint, _secret = _endpoint(receiver.url, "member.updated")
        webhook_emit("member.updated", {"id": "m1"})
        webhooks_relay()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "Timed out" in delivery.last_error and delivery.last_duration_ms < 1900


@pytest.mark.django_db
def test_the_purge_removes_old_ended_events_with_their_log_and_keeps_the_rest():
    from loyalty.jobs import job_run

    endpoint, _secret = _endpoint("https://93.184.216.34/hooks", "member.updated")
    now = timezone.now()

    def event(name: str, days_ago: int, status: str) -> WebhookEvent:
        at = now - timedelta(days=days_ago)
        made = WebhookEvent.objects.create(
            msg_id=f"msg_{name}", type="member.updated", created_at=at, fanned_out=True
        )
        delivery = WebhookDelivery.objects.create(
            event=made, endpoint=endpoint, created_at=at, status=status
        )
        WebhookAttempt.objects.create(delivery=delivery, number=1, at=at, status_code=200)
        return made

    event("old_delivered", 31, "delivered")
    event("old_failed", 40, "failed")
    event("old_retrying", 31, "pending")
    event("recent", 29, "delivered")
    assert job_run("purge_webhook_log", as_of=now).startswith("2 webhook events")
    left = set(WebhookEvent.objects.values_list("msg_id", flat=True))
    assert left == {"msg_old_retrying", "msg_recent"}
    assert WebhookAttempt.objects.count() == 2
    assert job_run("purge_webhook_log", as_of=now).startswith("0 webhook events")
