"""The segments API (API.md): list, create, read, change with member_count,
the members paged or as CSV, errors in the envelope, scope admin only."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from loyalty.models import AuditEvent
from members.models import Member, Segment
from tests.factories import MemberFactory, TierFactory

pytestmark = pytest.mark.django_db

GOLD = {"all": [{"field": "tier", "op": "eq", "value": "gold"}]}


@pytest.fixture
def golds(db) -> list[Member]:
    TierFactory(code="bronze", threshold=Decimal("0"))
    gold = TierFactory(code="gold", threshold=Decimal("1000"))
    members = [
        MemberFactory(user=None, email=f"g{index}@example.com", first_name=f"G{index}")
        for index in range(3)
    ]
    MemberFactory(user=None, email="b@example.com", first_name="=HYPERLINK()")
    Member.objects.filter(pk__in=[m.pk for m in members]).update(tier=gold)
    return members


def test_create_read_change_and_list_a_segment(admin_api, golds):
    created = admin_api.post("/api/v1/segments", {"name": "Gold", "rules": GOLD}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["member_count"] == 3 and body["rules"] == GOLD and body["name"] == "Gold"
    segment_id = body["id"]
    assert admin_api.get(f"/api/v1/segments/{segment_id}").json()["member_count"] == 3

    everyone = {"any": [{"field": "tier", "op": "in", "value": ["gold", "bronze"]}]}
    changed = admin_api.patch(f"/api/v1/segments/{segment_id}", {"rules": everyone}, format="json")
    assert changed.status_code == 200 and changed.json()["member_count"] == 4
    assert changed.json()["name"] == "Gold"

    listed = admin_api.get("/api/v1/segments").json()
    assert listed["count"] == 1 and listed["results"][0]["member_count"] == 4
    assert set(
        AuditEvent.objects.filter(object_type="members.segment").values_list("action", flat=True)
    ) == {"segment.create", "segment.update"}


def test_bad_rules_are_400_invalid_with_the_path_of_each_problem(admin_api, golds):
    rules = {"all": [{"field": "tier", "op": "gt", "value": "gold"}, {"field": "x"}]}
    response = admin_api.post("/api/v1/segments", {"name": "Bad", "rules": rules}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert {"rules.all[0].op", "rules.all[1].field"} <= set(body["fields"])
    assert not Segment.objects.exists()
    assert (
        admin_api.post("/api/v1/segments", {"name": "x", "rules": None}, format="json").status_code
        == 400
    )


def test_unknown_segment_is_404_and_pos_keys_are_refused(admin_api, pos_api, golds):
    assert admin_api.get("/api/v1/segments/999").json()["code"] == "not_found"
    assert admin_api.get("/api/v1/segments/999/members?format=csv").status_code == 404
    assert pos_api.get("/api/v1/segments").status_code == 403
    assert (
        pos_api.post("/api/v1/segments", {"name": "G", "rules": GOLD}, format="json").status_code
        == 403
    )


def test_members_are_paged_and_given_as_csv(admin_api, golds):
    segment_id = admin_api.post(
        "/api/v1/segments", {"name": "Gold", "rules": GOLD}, format="json"
    ).json()["id"]
    page = admin_api.get(f"/api/v1/segments/{segment_id}/members?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    first = page["results"][0]
    assert first["id"] == golds[0].public_id and first["tier"] == "gold"
    assert first["points_balance"] == 0 and first["rfm_class"] is None

    response = admin_api.get(f"/api/v1/segments/{segment_id}/members?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["member_id", "card_number", "first_name"]
    assert [row[0] for row in rows[1:]] == [m.public_id for m in golds]
    assert admin_api.get(f"/api/v1/segments/{segment_id}/members?format=xml").status_code == 400


def test_csv_cells_that_look_like_formulas_are_defused(admin_api, golds):
    everyone = {"all": [{"field": "purchase_count", "op": "eq", "value": 0}]}
    segment_id = admin_api.post(
        "/api/v1/segments", {"name": "All", "rules": everyone}, format="json"
    ).json()["id"]
    response = admin_api.get(f"/api/v1/segments/{segment_id}/members?format=csv")
    text = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK()" in text and ",=HYPERLINK" not in text
