"""The webhooks API (API.md: GET|POST /webhooks, GET|PATCH|DELETE
/webhooks/{id}, GET /webhooks/{id}/deliveries; scope admin)."""

from __future__ import annotations

import base64

import pytest

from loyalty.models import AuditEvent, WebhookEndpoint

pytestmark = pytest.mark.django_db

BODY = {"url": "https://93.184.216.34/hooks", "events": ["member.enrolled", "purchase.recorded"]}


def test_creating_an_endpoint_shows_its_secret_once(admin_api):
    """201 with id, url, events, active and the secret (whsec_ + base64 of 32
    bytes); reading it later never shows the secret again."""
    response = admin_api.post("/api/v1/webhooks", BODY, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "url", "events", "active", "secret"} <= set(body)
    assert body["url"] == BODY["url"] and body["active"] is True
    assert body["events"] == ["member.enrolled", "purchase.recorded"]
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]
    shown = admin_api.get(f"/api/v1/webhooks/{body['id']}").json()
    assert "secret" not in shown and shown["url"] == BODY["url"]
    listed = admin_api.get("/api/v1/webhooks").json()
    assert listed["count"] == 1 and "secret" not in listed["results"][0]
    assert AuditEvent.objects.filter(action="webhook.create").count() == 1


def test_a_pos_key_may_not_touch_webhooks(pos_api):
    assert pos_api.get("/api/v1/webhooks").status_code == 403
    assert pos_api.post("/api/v1/webhooks", BODY, format="json").json()["code"] == (
        "permission_denied"
    )


def test_unknown_or_no_event_types_are_refused(admin_api):
    for events in ([], ["member.exploded"]):
        response = admin_api.post("/api/v1/webhooks", {**BODY, "events": events}, format="json")
        assert response.status_code == 400
        assert any(name.startswith("events") for name in response.json()["fields"])
    assert not WebhookEndpoint.objects.exists()


def test_patch_changes_events_and_pauses_then_delete_removes(admin_api):
    pk = admin_api.post("/api/v1/webhooks", BODY, format="json").json()["id"]
    response = admin_api.patch(
        f"/api/v1/webhooks/{pk}", {"events": ["voucher.used"], "active": False}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["events"] == ["voucher.used"] and response.json()["active"] is False
    assert response.json()["disabled_reason"] == "manager"
    again = admin_api.patch(f"/api/v1/webhooks/{pk}", {"active": True}, format="json").json()
    assert again["active"] is True and again["disabled_reason"] == ""
    bad = admin_api.patch(f"/api/v1/webhooks/{pk}", {"url": "gopher://x"}, format="json")
    assert bad.status_code == 400
    assert WebhookEndpoint.objects.get(pk=pk).url == BODY["url"]
    assert admin_api.delete(f"/api/v1/webhooks/{pk}").status_code == 204
    assert admin_api.get(f"/api/v1/webhooks/{pk}").json()["code"] == "not_found"
    assert AuditEvent.objects.filter(action="webhook.delete").exists()


def test_deliveries_list_their_attempts_with_the_contract_fields(admin_api):
    from loyalty.webhook_relay import webhooks_relay
    from loyalty.webhooks import webhook_emit
    from tests.loyalty.webhook_receiver import webhook_receiver

    with webhook_receiver(500) as receiver:
        pk = admin_api.post(
            "/api/v1/webhooks", {"url": receiver.url, "events": ["member.updated"]}, format="json"
        ).json()["id"]
        event = webhook_emit("member.updated", {"id": "m1"})
        webhooks_relay()
    (row,) = admin_api.get(f"/api/v1/webhooks/{pk}/deliveries").json()["results"]
    assert {"event_id", "type", "attempt", "status_code", "error", "at"} <= set(row)
    assert row["event_id"] == event.msg_id and row["type"] == "member.updated"
    assert row["attempt"] == 1 and row["status_code"] == 500 and "HTTP 500" in row["error"]
    assert admin_api.get("/api/v1/webhooks/999/deliveries").status_code == 404
