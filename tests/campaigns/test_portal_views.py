"""The portal's "Your offers now" panel (campaigns.portal_views.sale_offers_panel):
the live sale campaigns a member is in, in words, never one they are held out of."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from campaigns.engine import in_holdout
from campaigns.portal_views import sale_offers_panel
from members.models import Member
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db


def member_of(tier=None) -> Member:
    member = MemberFactory()
    if tier is not None:
        Member.objects.filter(pk=member.pk).update(tier=tier)
        member.refresh_from_db()
    return member


def offers(member) -> list[dict]:
    panel = sale_offers_panel(member, timezone.now())
    return [] if panel is None else panel.context["offers"]


def test_the_offers_say_each_sale_campaign_in_words(program, tiers):
    make_campaign(
        "multiplier", name="Double weekend", params={"factor": "2.00", "days_of_week": [5, 6]}
    )
    make_campaign(
        "category_bonus",
        name="Snack bonus",
        params={"categories": ["Snacks"], "points": 5, "per_amount": "1.00"},
    )
    make_campaign(
        "spend_bonus",
        name="Big basket",
        params={"min_spend": "100.00", "points": 50},
        ends_at=timezone.now() + timedelta(days=30),
    )
    make_campaign(
        "multiplier",
        name="Happy hour",
        params={"factor": "1.50", "days_of_week": [0, 2], "hours": ["18:00", "20:00"]},
        stores=[StoreFactory(code="bangsar", name="Bangsar")],
    )
    member = member_of(tiers["gold"])
    shown = {offer["name"]: (offer["headline"], offer["conditions"]) for offer in offers(member)}
    assert shown["Double weekend"] == ("×2 points", ["at the weekend"])
    assert shown["Snack bonus"] == ("+5 points per RM1.00 on Snacks", [])
    headline, conditions = shown["Big basket"]
    assert headline == "+50 points on a basket of RM100.00 or more"
    assert conditions[0].startswith("until ")
    assert shown["Happy hour"] == (
        "×1.5 points",
        ["on Monday and Wednesday", "from 18:00 to 20:00", "at Bangsar"],
    )


def test_the_offers_are_translated(program, tiers):
    make_campaign(
        "multiplier", name="Double weekend", params={"factor": "2.00", "days_of_week": [5, 6]}
    )
    with override("ms"):
        (offer,) = offers(MemberFactory())
    assert offer["headline"] == "×2 mata"
    assert offer["conditions"] == ["pada hujung minggu"]


def test_only_campaigns_of_the_members_tier_are_offered(program, tiers):
    make_campaign("multiplier", name="Gold double", tiers=[tiers["gold"]])
    assert [o["name"] for o in offers(member_of(tiers["gold"]))] == ["Gold double"]
    assert offers(member_of(tiers["bronze"])) == []


def test_a_held_out_member_is_never_told_of_the_campaign(program, tiers):
    campaign = make_campaign("multiplier", name="Half held out", holdout_percent=50)
    members = [MemberFactory() for _ in range(12)]
    sides = {
        m.pk: in_holdout(member_id=m.pk, campaign_id=campaign.pk, holdout_percent=50)
        for m in members
    }
    assert set(sides.values()) == {True, False}
    for member in members:
        assert (offers(member) == []) == sides[member.pk]


def test_a_spent_budget_a_used_cap_and_other_kinds_are_not_offered(program, tiers):
    spent = make_campaign("spend_bonus", name="Spent", budget_points=100)
    type(spent).objects.filter(pk=spent.pk).update(budget_used=100)
    make_campaign("event", name="Review", params={"event": "review", "points": 20})
    make_campaign(
        "multiplier", name="Later", starts_at=timezone.now() + timedelta(days=3), status="scheduled"
    )
    capped = make_campaign("multiplier", name="Capped", per_member_cap=50, cap_period="campaign")
    member = MemberFactory()
    assert [o["name"] for o in offers(member)] == ["Capped"]
    capped.member_uses.create(member=member, period_key="campaign", points=50, awards=1)
    assert offers(member) == []


def test_the_home_shows_the_offers_in_a_constant_number_of_queries(client, program, tiers):
    member = member_of(tiers["gold"])
    client.force_login(member.user)
    make_campaign("multiplier", name="Double weekend", params={"factor": "2.00"})

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("portal:home"))
        assert "Your offers now" in response.content.decode()
        return len(queries)

    one = count()
    for number in range(5):
        make_campaign(
            "category_bonus",
            name=f"Bonus {number}",
            tiers=[tiers["gold"]],
            stores=[StoreFactory(code=f"s{number}")],
        )
    assert count() == one


def test_the_home_shows_no_offers_without_sale_campaigns(client, program, tiers):
    member = MemberFactory()
    client.force_login(member.user)
    assert "Your offers now" not in client.get(reverse("portal:home")).content.decode()
