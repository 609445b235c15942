"""GET|POST /campaigns, GET|PATCH /campaigns/{id} (API.md, scope admin)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from members.ledger import Source
from members.models import EntryKind
from members.points import points_earn
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db

FIELDS = {
    "id", "name", "kind", "status", "starts_at", "ends_at", "audience", "stores",
    "budget_points", "per_member_cap", "cap_period", "stackable", "priority",
    "holdout_percent", "params", "points_awarded", "members_reached",
}  # fmt: skip


def test_pos_keys_cannot_read_campaigns(pos_api):
    assert pos_api.get("/api/v1/campaigns").status_code == 403


def test_create_a_weekend_multiplier_for_gold_at_one_store(admin_api, tiers, program):
    StoreFactory(code="bangsar")
    body = {
        "name": "Double points weekend",
        "kind": "multiplier",
        "status": "scheduled",
        "starts_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "audience": {"tiers": ["gold"], "segment": None},
        "stores": ["bangsar"],
        "budget_points": 100000,
        "stackable": True,
        "params": {"factor": "2.00", "days_of_week": [5, 6]},
    }
    response = admin_api.post("/api/v1/campaigns", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert set(data) >= FIELDS
    assert data["status"] == "active"
    assert data["audience"] == {"tiers": ["gold"], "segment": None}
    assert data["stores"] == ["bangsar"]
    assert data["params"] == {"factor": "2.00", "days_of_week": [5, 6]}


def test_bad_params_are_400_with_the_field(admin_api, program):
    response = admin_api.post(
        "/api/v1/campaigns",
        {"name": "x", "kind": "spend_bonus", "params": {"min_spend": "abc", "points": 5}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "params.min_spend" in response.json()["fields"]


def test_list_is_a_page_with_points_awarded_and_members_reached(admin_api, program):
    campaign = make_campaign(name="Welcome")
    for email in ("a@example.com", "b@example.com"):
        member = MemberFactory(user=None, email=email)
        now = timezone.now()
        points_earn(
            member=member, points=50, kind=EntryKind.BONUS, description="Welcome",
            source=Source("campaign", str(campaign.pk)), occurred_at=now, now=now, program=program,
        )  # fmt: skip
    data = admin_api.get("/api/v1/campaigns").json()
    assert data["count"] == 1
    assert (data["results"][0]["points_awarded"], data["results"][0]["members_reached"]) == (100, 2)


def test_patch_pauses_and_a_change_that_cannot_work_is_refused(admin_api, program):
    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign.pk}"
    assert admin_api.patch(url, {"status": "paused"}, format="json").json()["status"] == "paused"
    assert admin_api.patch(url, {"status": "ended"}, format="json").json()["status"] == "ended"
    refused = admin_api.patch(url, {"status": "active"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid"
    assert Campaign.objects.get(pk=campaign.pk).status == "ended"


def test_patch_params_are_checked_against_the_kind(admin_api, program):
    campaign = make_campaign("multiplier")
    url = f"/api/v1/campaigns/{campaign.pk}"
    response = admin_api.patch(url, {"params": {"points": 5}}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"params.points", "params.factor"}
    ok = admin_api.patch(url, {"params": {"factor": "3"}}, format="json")
    assert ok.json()["params"] == {"factor": "3.00"}


def test_unknown_campaign_is_404(admin_api):
    assert admin_api.get("/api/v1/campaigns/999").json()["code"] == "not_found"
