"""The managers' webhook pages (loyalty/webhook_views.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty.actors import Actor
from loyalty.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from loyalty.webhook_relay import webhooks_relay
from loyalty.webhooks import webhook_emit, webhook_endpoint_create
from tests.loyalty.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_a_manager_adds_an_endpoint_and_sees_its_secret_once(manager_client, manager):
    response = manager_client.post(
        reverse("staff:webhook_create"),
        {
            "url": "https://93.184.216.34/hooks",
            "description": "CRM",
            "events": ["member.enrolled", "reward.redeemed"],
            "active": "on",
        },
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    assert endpoint.events == ["member.enrolled", "reward.redeemed"]
    listed = manager_client.get(reverse("staff:webhook_list")).content.decode()
    assert "https://93.184.216.34/hooks" in listed and endpoint.secret not in listed
    edit = manager_client.get(reverse("staff:webhook_update", args=[endpoint.pk])).content.decode()
    assert endpoint.secret not in edit
    event = AuditEvent.objects.get(action="webhook.create")
    assert event.actor == manager and "secret" not in event.after


def test_a_refused_url_shows_a_friendly_error_and_stores_nothing(manager_client, settings):
    settings.LOYALTY_WEBHOOK_ALLOW_PRIVATE = False
    response = manager_client.post(
        reverse("staff:webhook_create"),
        {"url": "http://169.254.169.254/", "events": ["member.enrolled"], "active": "on"},
    )
    assert response.status_code == 200
    assert "link-local" in str(response.context["form"].errors["url"])
    assert not WebhookEndpoint.objects.exists()


def test_a_manager_edits_pauses_and_deletes_an_endpoint(manager_client):
    endpoint = webhook_endpoint_create(
        actor=Actor.system(), url="https://93.184.216.34/a", events=["member.enrolled"]
    ).endpoint
    response = manager_client.post(
        reverse("staff:webhook_update", args=[endpoint.pk]),
        {"url": "https://93.184.216.34/b", "events": ["voucher.used"], "description": ""},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url.endswith("/b") and endpoint.events == ["voucher.used"]
    assert not endpoint.active and endpoint.disabled_reason == "manager"
    assert "Paused" in manager_client.get(reverse("staff:webhook_list")).content.decode()
    confirm = manager_client.get(reverse("staff:webhook_delete", args=[endpoint.pk]))
    assert confirm.status_code == 200
    assert (
        manager_client.post(reverse("staff:webhook_delete", args=[endpoint.pk])).status_code == 302
    )
    assert not WebhookEndpoint.objects.exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"webhook.update", "webhook.delete"} <= actions


def test_the_delivery_log_shows_attempts_and_resend_sends_again(manager_client):
    with webhook_receiver(500) as receiver:
        endpoint = webhook_endpoint_create(
            actor=Actor.system(), url=receiver.url, events=["member.updated"]
        ).endpoint
        event = webhook_emit("member.updated", {"id": "m1"})
        webhooks_relay()
        page = manager_client.get(reverse("staff:webhook_deliveries", args=[endpoint.pk]))
        text = page.content.decode()
        assert event.msg_id in text and "500" in text and "HTTP 500" in text and " ms" in text
        delivery = WebhookDelivery.objects.get()
        response = manager_client.post(reverse("staff:webhook_resend", args=[delivery.pk]))
        assert response.status_code == 302
        webhooks_relay()
    assert len(receiver.received) == 2
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert AuditEvent.objects.filter(action="webhook.resend").exists()


def test_a_disabled_endpoint_is_enabled_again_from_its_log(manager_client):
    with webhook_receiver(410) as receiver:
        endpoint = webhook_endpoint_create(
            actor=Actor.system(), url=receiver.url, events=["member.updated"]
        ).endpoint
        webhook_emit("member.updated", {"id": "m1"})
        webhooks_relay()
        page = manager_client.get(reverse("staff:webhook_deliveries", args=[endpoint.pk]))
        assert "Enable again" in page.content.decode()
        assert "410 Gone" in page.content.decode()
        manager_client.post(reverse("staff:webhook_enable", args=[endpoint.pk]))
        webhooks_relay()
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.disabled_reason == ""
    assert len(receiver.received) == 2


@pytest.mark.parametrize("who", ["marketer", "store_staff"])
def test_only_managers_reach_the_webhook_pages(client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("staff:webhook_list")).status_code == 403
    assert client.get(reverse("staff:webhook_create")).status_code == 403
