"""Manager pages: program settings, stores, API keys and the audit log."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty.models import ApiKey, AuditEvent, ProgramSettings, Store
from loyalty.services import api_key_hash

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_manager_creates_and_edits_a_store(manager_client, manager):
    response = manager_client.post(
        reverse("staff:store_create"),
        {"code": "klcc", "name": "KLCC", "address": "Suria KLCC", "phone": "", "is_active": "on"},
    )
    assert response.status_code == 302
    store = Store.objects.get(code="klcc")
    response = manager_client.post(
        reverse("staff:store_update", args=["klcc"]),
        {"name": "Suria KLCC", "address": "Level 2", "phone": "03-1234", "is_active": ""},
    )
    assert response.status_code == 302
    store.refresh_from_db()
    assert (store.name, store.is_active) == ("Suria KLCC", False)
    event = AuditEvent.objects.get(action="store.update")
    assert event.actor == manager and event.ip == "127.0.0.1"
    assert event.before["name"] == "KLCC" and event.after["name"] == "Suria KLCC"


def test_a_taken_store_code_shows_a_friendly_error(manager_client):
    Store.objects.create(code="klcc", name="KLCC")
    response = manager_client.post(reverse("staff:store_create"), {"code": "klcc", "name": "Again"})
    assert response.status_code == 200
    assert "code" in response.context["form"].errors
    assert Store.objects.count() == 1


def test_manager_saves_program_settings(manager_client):
    form = {
        "name": "Kedai Rewards",
        "merchant_name": "Kedai",
        "earn_points": "2",
        "earn_per_amount": "1.00",
        "point_value": "0.01",
        "pending_days": "14",
        "expiry_days": "",
        "tier_basis": "points",
        "tier_window_days": "365",
        "staff_adjust_limit": "200",
        "brand_color": "#7a1f3d",
        "accent_color": "#f2c14e",
        "expiry_warning_days": "7",
        "main_store": "",
    }
    response = manager_client.post(reverse("staff:program"), form)
    assert response.status_code == 302, response.context["form"].errors
    program = ProgramSettings.objects.get()
    assert (program.earn_points, program.pending_days, program.expiry_days) == (2, 14, None)
    assert (program.brand_color, program.expiry_warning_days) == ("#7a1f3d", 7)
    assert AuditEvent.objects.filter(action="program.update").count() == 1


def test_a_brand_colour_white_text_cannot_be_read_on_is_refused(manager_client):
    """The emails' header is white text on the brand colour: a pale colour
    (contrast below 4.5:1) is refused when written, with a message."""
    form = {
        "name": "Kedai Rewards",
        "merchant_name": "Kedai",
        "earn_points": "1",
        "earn_per_amount": "1.00",
        "point_value": "0.01",
        "pending_days": "0",
        "expiry_days": "365",
        "tier_basis": "spend",
        "tier_window_days": "365",
        "staff_adjust_limit": "500",
        "brand_color": "#ffe680",
        "accent_color": "#f2c14e",
        "expiry_warning_days": "14",
        "main_store": "",
    }
    response = manager_client.post(reverse("staff:program"), form)
    assert response.status_code == 200
    assert "brand_color" in response.context["form"].errors
    for bad in ("red", "#12345", "#gggggg"):
        response = manager_client.post(reverse("staff:program"), {**form, "brand_color": bad})
        assert "brand_color" in response.context["form"].errors
    assert ProgramSettings.objects.filter(brand_color="#ffe680").count() == 0


def test_bad_program_settings_are_shown_not_saved(manager_client):
    response = manager_client.post(
        reverse("staff:program"), {"name": "X", "earn_points": "0", "earn_per_amount": "-1"}
    )
    assert response.status_code == 200
    assert {"earn_points", "earn_per_amount"} <= set(response.context["form"].errors)
    assert not AuditEvent.objects.filter(action="program.update").exists()


def test_a_new_api_key_is_shown_once_and_only_its_hash_is_kept(manager_client):
    response = manager_client.post(
        reverse("staff:api_key_create"), {"name": "Web shop", "scopes": ["pos"]}
    )
    assert response.status_code == 200
    key = response.context["key"]
    assert key.encode() in response.content
    assert response["Cache-Control"] == "no-store"
    api_key = ApiKey.objects.get(name="Web shop")
    assert api_key.key_hash == api_key_hash(key)
    listing = manager_client.get(reverse("staff:api_key_list"))
    assert key.encode() not in listing.content
    assert api_key.prefix.encode() in listing.content


def test_manager_revokes_a_key(manager_client, admin_api):
    response = manager_client.post(reverse("staff:api_key_revoke", args=[admin_api.api_key.pk]))
    assert response.status_code == 302
    assert admin_api.get("/api/v1/program").status_code == 401
    assert AuditEvent.objects.filter(action="api_key.revoke").count() == 1


def test_audit_log_lists_and_filters_events(manager_client):
    Store.objects.create(code="a", name="A")
    manager_client.post(reverse("staff:store_create"), {"code": "klcc", "name": "KLCC"})
    manager_client.post(reverse("staff:api_key_create"), {"name": "Till", "scopes": ["pos"]})

    everything = manager_client.get(reverse("staff:audit_log"))
    assert [e.action for e in everything.context["events"]] == ["api_key.create", "store.create"]

    stores_only = manager_client.get(reverse("staff:audit_log"), {"action": "store"})
    assert [e.action for e in stores_only.context["events"]] == ["store.create"]
    by_actor = manager_client.get(reverse("staff:audit_log"), {"actor": "nobody@"})
    assert list(by_actor.context["events"]) == []
    assert b"Nothing recorded" in by_actor.content


def test_the_overview_offers_each_role_its_own_first_steps(client, store_staff, marketer):
    client.force_login(store_staff)
    page = client.get(reverse("staff:home")).content.decode()
    assert f'action="{reverse("staff:member_search")}"' in page
    assert reverse("staff:reward_list") not in page

    client.force_login(marketer)
    page = client.get(reverse("staff:home")).content.decode()
    assert reverse("staff:reward_list") in page
    assert f'action="{reverse("staff:member_search")}"' not in page
