"""GET|PATCH /program and GET|POST /stores (API.md, "Program configuration")."""

from __future__ import annotations

import pytest

from loyalty.models import AuditEvent, ProgramSettings, Store

pytestmark = pytest.mark.django_db


def test_program_has_the_fields_of_the_contract(admin_api):
    body = admin_api.get("/api/v1/program").json()
    assert body["currency"] == "MYR"
    assert body["earn_points"] == 1
    assert body["earn_per_amount"] == "1.00"
    assert body["point_value"] == "0.01"
    assert body["pending_days"] == 0
    assert body["expiry_days"] == 365
    assert body["tier_basis"] in {"points", "spend"}
    assert body["tier_window_days"] == 365


def test_patch_program_changes_only_what_is_sent_and_is_audited(admin_api):
    response = admin_api.patch(
        "/api/v1/program",
        {"earn_points": 2, "earn_per_amount": "5.00", "expiry_days": None},
        format="json",
    )
    assert response.status_code == 200, response.content
    program = ProgramSettings.objects.get()
    assert (program.earn_points, str(program.earn_per_amount), program.expiry_days) == (
        2,
        "5.00",
        None,
    )
    assert program.pending_days == 0
    event = AuditEvent.objects.get(action="program.update")
    assert event.before["earn_points"] == 1 and event.after["earn_points"] == 2
    assert event.actor_label.startswith("API key")


@pytest.mark.parametrize(
    "change",
    [
        {"earn_per_amount": "0"},
        {"earn_per_amount": "1.005"},
        {"earn_points": 0},
        {"tier_basis": "x"},
    ],
)
def test_bad_program_values_are_refused_and_nothing_changes(admin_api, change):
    response = admin_api.patch("/api/v1/program", change, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) == set(change)
    assert not AuditEvent.objects.filter(action="program.update").exists()


def test_create_and_list_stores(admin_api):
    created = admin_api.post("/api/v1/stores", {"code": "klcc", "name": "KLCC"}, format="json")
    assert created.status_code == 201
    assert created.json() == {
        "code": "klcc",
        "name": "KLCC",
        "address": "",
        "phone": "",
        "is_active": True,
    }
    listing = admin_api.get("/api/v1/stores").json()
    assert listing["count"] == 1
    assert listing["results"][0]["code"] == "klcc"
    assert set(listing) == {"count", "next", "previous", "results"}


def test_the_first_store_becomes_the_main_store(admin_api):
    admin_api.post("/api/v1/stores", {"code": "a", "name": "A"}, format="json")
    admin_api.post("/api/v1/stores", {"code": "b", "name": "B"}, format="json")
    assert admin_api.get("/api/v1/program").json()["main_store"] == "a"


def test_duplicate_store_code_is_invalid(admin_api):
    admin_api.post("/api/v1/stores", {"code": "klcc", "name": "KLCC"}, format="json")
    response = admin_api.post("/api/v1/stores", {"code": "klcc", "name": "Other"}, format="json")
    assert response.status_code == 400
    assert "code" in response.json()["fields"]
    assert Store.objects.get(code="klcc").name == "KLCC"


def test_patch_a_store(admin_api):
    admin_api.post("/api/v1/stores", {"code": "klcc", "name": "KLCC"}, format="json")
    response = admin_api.patch("/api/v1/stores/klcc", {"is_active": False}, format="json")
    assert response.status_code == 200
    assert response.json()["is_active"] is False


def test_lists_page_with_page_size_capped_at_200(admin_api):
    for n in range(3):
        admin_api.post("/api/v1/stores", {"code": f"s{n}", "name": f"S{n}"}, format="json")
    page = admin_api.get("/api/v1/stores?page=2&page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 1 and page["previous"]
    assert admin_api.get("/api/v1/stores?page_size=1000").status_code == 200


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/stores" in schema.content
    assert b"ApiKey" in schema.content
    assert client.get("/api/docs/").status_code == 200
