"""Campaigns in the sale flow: the engine's awards as ledger entries of the
sale, budgets cut under the lock, the preview's reasons, returns that take a
campaign's points back with the rest."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign
from members.checks import ledger_problems
from members.models import Member, PointsEntry
from tests.campaigns.factories import make_campaign
from tests.purchases.conftest import sale

pytestmark = pytest.mark.django_db


def _buy(pos_api, reference, amount, member, **extra):
    response = pos_api.post(
        "/api/v1/purchases",
        sale(reference, ("TEA", 1, amount), member=member, **extra),
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_double_points_campaign_on_a_silver_member_adds_its_own_award(pos_api, shopper, tiers):
    """API.md: ×1.5 tier and ×2 campaign on RM100 → 100 + 50 + 150."""
    Member.objects.filter(pk=shopper.pk).update(tier=tiers["silver"])
    campaign = make_campaign("multiplier", name="Double points", params={"factor": "2.00"})
    receipt = _buy(pos_api, "R1", "100.00", shopper)
    assert [a["points"] for a in receipt["awards"]] == [100, 50, 150]
    assert receipt["awards"][2] == {
        "source": f"campaign:{campaign.pk}",
        "points": 150,
        "label": "Double points",
    }
    assert receipt["points_earned"] == 300 and receipt["balance"] == 300
    entry = PointsEntry.objects.get(
        idempotency_key=f"purchase:{receipt['id']}:campaign:{campaign.pk}"
    )
    assert (entry.kind, entry.points, entry.source_type) == ("bonus", 150, "purchase")


def test_a_budget_is_cut_to_what_is_left_and_then_gives_nothing(pos_api, shopper):
    campaign = make_campaign(
        "spend_bonus", params={"min_spend": "10.00", "points": 80}, budget_points=120
    )
    first = _buy(pos_api, "R1", "20.00", shopper)
    second = _buy(pos_api, "R2", "20.00", shopper)
    third = _buy(pos_api, "R3", "20.00", shopper)
    bonus = [
        [a["points"] for a in r["awards"] if a["source"].startswith("campaign")]
        for r in (first, second, third)
    ]
    assert bonus == [[80], [40], []]
    assert Campaign.objects.get(pk=campaign.pk).budget_used == 120
    preview = pos_api.post(
        "/api/v1/purchases/preview", sale("R4", ("TEA", 1, "5.00"), member=shopper), format="json"
    ).json()
    assert {"campaign": campaign.pk, "reason": "min_spend"} in preview["not_matched"]


def test_a_sale_with_campaign_points_returned_in_two_parts_nets_to_zero(pos_api, shopper):
    make_campaign("multiplier", params={"factor": "3.00"})
    receipt = _buy(pos_api, "R1", "99.99", shopper, discount_total="0.00")
    assert receipt["points_earned"] == 99 * 3
    url = f"/api/v1/purchases/{receipt['id']}/returns"
    assert (
        pos_api.post(url, {"reference": "RET1", "amount": "33.33"}, format="json").status_code
        == 201
    )
    assert (
        pos_api.post(url, {"reference": "RET2", "amount": "66.66"}, format="json").status_code
        == 201
    )
    account = Member.objects.get(pk=shopper.pk).account
    assert (account.balance, account.lifetime_earned, account.clawback_owed) == (0, 0, 0)
    assert ledger_problems() == []


def test_an_anonymous_sale_and_a_sale_outside_the_campaign_store_get_nothing(
    pos_api, shopper, program
):
    from tests.factories import StoreFactory

    other = StoreFactory(code="ioi", name="IOI")
    campaign = make_campaign("multiplier", params={"factor": "2.00"})
    campaign.stores.set([other])
    receipt = _buy(pos_api, "R1", "10.00", shopper)
    assert [a["source"] for a in receipt["awards"]] == ["base"]
    anonymous = pos_api.post("/api/v1/purchases", sale("R2", ("TEA", 1, "10.00")), format="json")
    assert anonymous.json()["awards"] == []


def test_the_campaign_list_counts_its_sale_awards_and_the_members_reached(pos_api, shopper):
    from campaigns.selectors import campaign_figures

    campaign = make_campaign("multiplier", params={"factor": "2.00"})
    _buy(pos_api, "R1", "10.00", shopper)
    _buy(pos_api, "R2", "15.00", shopper)
    figures = campaign_figures(campaign_ids=[campaign.pk])[campaign.pk]
    assert (figures.points_awarded, figures.members_reached) == (25, 1)
