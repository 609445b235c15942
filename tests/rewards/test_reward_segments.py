"""A reward with a segment is for the members in it only (API.md: a reward
outside the member's audience is `422 reward_unavailable`): redeeming is
refused, the portal catalogue shows it as unavailable, and staff choose the
segment on the reward's form."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty.actors import Actor
from members.models import Member, PointsAccount
from members.segments import segment_create
from members.services import member_update
from rewards.errors import RewardUnavailable
from rewards.models import Reward
from rewards.services import redemption_create
from tests.factories import MemberFactory
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db


@pytest.fixture
def vip_reward(program, tiers):
    segment = segment_create(
        actor=Actor.system(),
        name="VIPs",
        rules={"all": [{"field": "tags", "op": "contains", "value": "vip"}]},
    )
    return make_reward(name="VIP lounge pass", segment=segment)


def _member(email: str, tags: list[str]) -> Member:
    member = MemberFactory(user__email=email, tags=tags)
    fund(member, 1000)
    return member


def test_redeeming_outside_the_segment_is_refused_and_costs_nothing(vip_reward):
    outsider = _member("out@example.com", [])
    with pytest.raises(RewardUnavailable):
        redemption_create(member=outsider, reward=vip_reward, actor=Actor.system())
    assert PointsAccount.objects.get(member=outsider).balance == 1000
    insider = _member("in@example.com", ["vip"])
    redemption_create(member=insider, reward=vip_reward, actor=Actor.system())
    assert PointsAccount.objects.get(member=insider).balance == 500


def test_the_api_answers_422_reward_unavailable_outside_the_segment(vip_reward, pos_api):
    outsider = _member("out@example.com", ["student"])
    response = pos_api.post(
        f"/api/v1/members/{outsider.public_id}/redemptions",
        {"reward": vip_reward.pk},
        format="json",
    )
    assert response.status_code == 422 and response.json()["code"] == "reward_unavailable"
    member_update(actor=Actor.system(), member=outsider, tags=["student", "vip"])
    response = pos_api.post(
        f"/api/v1/members/{outsider.public_id}/redemptions",
        {"reward": vip_reward.pk},
        format="json",
    )
    assert response.status_code == 201


def test_the_portal_catalogue_shows_the_reward_as_unavailable_outside_the_segment(
    vip_reward, client
):
    outsider = _member("out@example.com", [])
    client.force_login(outsider.user)
    content = client.get(reverse("portal:rewards")).content.decode()
    assert "VIP lounge pass" in content
    assert "This reward is offered to other members." in content
    assert "You can redeem this" not in content

    insider = _member("in@example.com", ["vip"])
    client.force_login(insider.user)
    content = client.get(reverse("portal:rewards")).content.decode()
    assert "This reward is offered to other members." not in content
    assert "You can redeem this" in content


def test_staff_choose_the_segment_on_the_reward_form(vip_reward, client, marketer):
    client.force_login(marketer)
    page = client.get(reverse("staff:reward_update", kwargs={"reward_id": vip_reward.pk}))
    assert page.status_code == 200 and "VIPs" in page.content.decode()
    data = {
        "name": "VIP lounge pass",
        "kind": "discount_fixed",
        "points_cost": 500,
        "value": "10.00",
        "voucher_valid_days": 30,
        "stock_seen": "",
        "segment": "",
        "active": "on",
    }
    response = client.post(
        reverse("staff:reward_update", kwargs={"reward_id": vip_reward.pk}), data
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Reward.objects.get(pk=vip_reward.pk).segment_id is None
