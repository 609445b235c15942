"""The challenges and badges API (API.md, "Challenges and badges")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Challenge
from loyalty.models import AuditEvent
from tests.campaigns.challenge_helpers import buy, make_badge, make_challenge

pytestmark = pytest.mark.django_db


def _body(**overrides) -> dict:
    body = {
        "name": "Three visits",
        "goal": {"type": "purchase_count", "target": 3},
        "rolling_days": 30,
        "opt_in": True,
        "reward": {"points": 100},
        "status": "active",
    }
    body.update(overrides)
    return body


def test_an_admin_key_creates_reads_and_edits_a_challenge_audited(admin_api, program, tiers):
    badge = make_badge("Regular", icon="coffee", rarity="rare")
    created = admin_api.post(
        "/api/v1/challenges",
        _body(
            reward={"points": 100, "badge": badge.pk},
            audience={"tiers": ["gold"], "segment": None},
        ),
        format="json",
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["goal"] == {"type": "purchase_count", "target": 3}
    assert data["reward"] == {"points": 100, "badge": badge.pk, "reward": None}
    assert data["audience"] == {"tiers": ["gold"], "segment": None}
    assert (data["status"], data["opt_in"], data["rolling_days"]) == ("active", True, 30)
    path = f"/api/v1/challenges/{data['id']}"
    assert admin_api.get(path).json() == data
    edited = admin_api.patch(path, {"name": "Three visits a month"}, format="json")
    assert edited.status_code == 200 and edited.json()["name"] == "Three visits a month"
    actions = AuditEvent.objects.filter(object_type__endswith="challenge").values_list(
        "action", flat=True
    )
    assert sorted(actions) == ["challenge.create", "challenge.update"]


def test_a_spend_target_is_money_and_a_streak_takes_freezes_and_milestones(admin_api, program):
    spend = admin_api.post(
        "/api/v1/challenges",
        _body(goal={"type": "spend", "target": "150.50"}),
        format="json",
    )
    assert spend.json()["goal"] == {"type": "spend", "target": "150.50"}
    streak = admin_api.post(
        "/api/v1/challenges",
        _body(
            goal={
                "type": "weekly_streak",
                "target": 4,
                "freezes": 1,
                "milestones": [{"weeks": 12, "points": 200}, {"weeks": 4, "points": 50}],
            }
        ),
        format="json",
    )
    assert streak.status_code == 201, streak.content
    assert streak.json()["goal"]["milestones"] == [
        {"weeks": 4, "points": 50},
        {"weeks": 12, "points": 200},
    ]


@pytest.mark.parametrize(
    ("goal", "field"),
    [
        ({"type": "purchase_count", "target": "2.5"}, "target"),
        ({"type": "purchase_count", "target": 100001}, "target"),
        ({"type": "weekly_streak", "target": 521}, "target"),
        ({"type": "spend", "target": "1000000000.00"}, "goal.target"),
        ({"type": "category_spend", "target": "50.00"}, "categories"),
        ({"type": "event_count", "target": 3}, "event"),
        ({"type": "weekly_streak", "target": 4, "freezes": 53}, "goal.freezes"),
        (
            {"type": "weekly_streak", "target": 4, "milestones": [{"weeks": 4, "points": 0}]},
            "goal.milestones[0].points",
        ),
    ],
)
def test_out_of_bounds_goals_are_refused_in_the_envelope(admin_api, program, goal, field):
    response = admin_api.post("/api/v1/challenges", _body(goal=goal), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"], body
    assert not Challenge.objects.exists()


def test_a_challenge_without_a_reward_or_with_an_unknown_badge_is_refused(admin_api, program):
    nothing = admin_api.post("/api/v1/challenges", _body(reward={"points": 0}), format="json")
    assert nothing.status_code == 400 and "reward_points" in nothing.json()["fields"]
    unknown = admin_api.post(
        "/api/v1/challenges", _body(reward={"points": 1, "badge": 2**62}), format="json"
    )
    assert unknown.status_code == 400 and "reward.badge" in unknown.json()["fields"]


def test_the_goal_of_a_challenge_someone_joined_stays(admin_api, pos_api, shopper):
    challenge = make_challenge("purchase_count", "3")
    pos_api.post(f"/api/v1/members/{shopper.public_id}/challenges/{challenge.pk}/join")
    response = admin_api.patch(
        f"/api/v1/challenges/{challenge.pk}",
        {"goal": {"type": "purchase_count", "target": 2}},
        format="json",
    )
    assert response.status_code == 400 and "target" in response.json()["fields"]


def test_badges_are_listed_and_created_by_admin_keys_only(admin_api, pos_api, program):
    created = admin_api.post(
        "/api/v1/badges", {"name": "Explorer", "icon": "map", "rarity": "epic"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json() == {
        "id": created.json()["id"],
        "name": "Explorer",
        "description": "",
        "icon": "map",
        "image": None,
        "rarity": "epic",
    }
    assert admin_api.get("/api/v1/badges").json()["count"] == 1
    assert pos_api.get("/api/v1/badges").status_code == 403
    assert pos_api.get("/api/v1/challenges").status_code == 403
    bad = admin_api.post("/api/v1/badges", {"name": "X", "icon": "unicorn"}, format="json")
    assert bad.status_code == 400 and "icon" in bad.json()["fields"]


def test_a_till_joins_a_member_to_a_challenge_and_reads_progress_and_badges(pos_api, shopper):
    badge = make_badge("Regular")
    challenge = make_challenge("purchase_count", "2", badge=badge)
    base = f"/api/v1/members/{shopper.public_id}"
    joined = pos_api.post(f"{base}/challenges/{challenge.pk}/join")
    assert joined.status_code == 201, joined.content
    assert joined.json()["status"] == "in_progress"
    buy(shopper, "R-0", timezone.now() - timedelta(minutes=5))  # before joining: not counted
    buy(shopper, "R-1", timezone.now())
    (entry,) = pos_api.get(f"{base}/challenges").json()["results"]
    assert (entry["challenge"], entry["progress"], entry["target"], entry["status"]) == (
        challenge.pk,
        1,
        2,
        "in_progress",
    )
    buy(shopper, "R-2", timezone.now())
    (entry,) = pos_api.get(f"{base}/challenges").json()["results"]
    assert entry["status"] == "completed" and entry["completed_at"]
    (held,) = pos_api.get(f"{base}/badges").json()["results"]
    assert held["badge"]["name"] == "Regular" and held["times"] == 1


def test_joining_a_challenge_not_open_to_the_member_is_refused(pos_api, shopper, tiers):
    gold = make_challenge("purchase_count", "2")
    gold.tiers.set([tiers["gold"]])
    response = pos_api.post(f"/api/v1/members/{shopper.public_id}/challenges/{gold.pk}/join")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    missing = pos_api.post(f"/api/v1/members/{shopper.public_id}/challenges/999999/join")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
