"""Campaign writes (campaigns.services): the marketers' and the flows'."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from campaigns import engine
from campaigns.engine import sale_evaluate
from campaigns.errors import CampaignStatusRefused
from campaigns.models import Campaign, CampaignHoldout, CampaignMemberUse, CampaignStatus
from campaigns.selectors import campaign_snapshot, campaign_status, campaigns_active
from campaigns.services import (
    campaign_awards_reserve,
    campaign_duplicate,
    campaign_holdouts_record,
    campaign_status_set,
    campaign_update,
    campaigns_status_catch_up,
)
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.models import AuditEvent
from tests.campaigns.factories import MONDAY, line, make_campaign, sale
from tests.factories import MemberFactory, StoreFactory, TierFactory

pytestmark = pytest.mark.django_db


def reserve(campaign: Campaign, member_id: int, context=None, at=MONDAY):
    snapshots = [campaign_snapshot(Campaign.objects.get(pk=campaign.pk))]
    context = context or sale(member_id=member_id)
    evaluation = sale_evaluate(context, snapshots)
    with transaction.atomic():
        return campaign_awards_reserve(
            member_id=member_id, evaluation=evaluation, campaigns=snapshots, at=at
        )


# --- Create, edit, status -----------------------------------------------------------------------


def test_create_cleans_params_and_audits():
    tier = TierFactory(code="gold")
    store = StoreFactory(code="klcc")
    campaign = make_campaign(
        "multiplier",
        params={"factor": "2", "days_of_week": [6, 5, 5]},
        tiers=[tier],
        stores=[store],
    )
    assert campaign.params == {"factor": "2.00", "days_of_week": [5, 6]}
    event = AuditEvent.objects.get(action="campaign.create")
    assert event.after["tiers"] == ["gold"] and event.after["stores"] == ["klcc"]


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("multiplier", {"factor": "1.00"}, "params.factor"),
        ("multiplier", {"factor": "10.01"}, "params.factor"),
        ("multiplier", {"factor": "2.00", "days_of_week": [7]}, "params.days_of_week"),
        ("multiplier", {"factor": "2.00", "hours": ["18:00"]}, "params.hours"),
        ("multiplier", {"factor": "2.00", "hours": ["25:00", "26:00"]}, "params.hours"),
        ("multiplier", {"factor": "2.00", "min_spend": "-1.00"}, "params.min_spend"),
        ("multiplier", {"factor": "2.00", "skus": ["x"] * 201}, "params.skus"),
        ("multiplier", {"factor": "2.00", "colour": "red"}, "params.colour"),
        ("category_bonus", {"points": 5, "per_amount": "1.00"}, "params.categories"),
        (
            "category_bonus",
            {"categories": ["a"], "points": 5, "per_amount": "0"},
            "params.per_amount",
        ),
        ("spend_bonus", {"min_spend": "1e3", "points": 5}, "params.min_spend"),
        ("spend_bonus", {"min_spend": "10.00", "points": 0}, "params.points"),
        ("spend_bonus", {"min_spend": "10.00", "points": True}, "params.points"),
        ("event", {"event": "Bad name!", "points": 5}, "params.event"),
        ("birthday", {"points": 5, "when": "year"}, "params.when"),
        (
            "referral",
            {"referrer_points": 5, "friend_points": 5, "min_spend": "1.00", "within_days": 36501},
            "params.within_days",
        ),
        ("signup", [], "params"),
        ("nonsense", {}, "kind"),
    ],
)
def test_params_that_cannot_work_are_refused(kind, params, field):
    with pytest.raises(ValidationFailed) as refused:
        make_campaign(kind, params=params)
    assert field in refused.value.fields


def test_window_must_end_after_it_starts_and_holdout_is_bounded():
    now = timezone.now()
    with pytest.raises(ValidationFailed) as refused:
        make_campaign(starts_at=now, ends_at=now)
    assert "ends_at" in refused.value.fields
    with pytest.raises(ValidationFailed) as refused:
        make_campaign(holdout_percent=51)
    assert "holdout_percent" in refused.value.fields


def test_status_follows_the_window_when_it_goes_live():
    now = timezone.now()
    later = make_campaign(starts_at=now + timedelta(days=2), status="scheduled")
    assert later.status == CampaignStatus.SCHEDULED
    assert campaign_status(campaign=later, now=now + timedelta(days=3)) == CampaignStatus.ACTIVE
    with pytest.raises(CampaignStatusRefused):
        make_campaign(starts_at=now + timedelta(days=2), status="active")
    started = make_campaign(starts_at=now - timedelta(days=1), status="scheduled")
    assert started.status == CampaignStatus.ACTIVE


def test_pause_resume_end_and_ended_is_final():
    campaign = make_campaign()
    actor = Actor.system()
    campaign = campaign_status_set(actor=actor, campaign=campaign, status="paused")
    assert campaign.status == CampaignStatus.PAUSED
    campaign = campaign_status_set(actor=actor, campaign=campaign, status="active")
    assert campaign.status == CampaignStatus.ACTIVE
    with pytest.raises(CampaignStatusRefused):
        campaign_status_set(actor=actor, campaign=campaign, status="draft")
    campaign = campaign_status_set(actor=actor, campaign=campaign, status="ended")
    with pytest.raises(CampaignStatusRefused):
        campaign_status_set(actor=actor, campaign=campaign, status="active")
    with pytest.raises(CampaignStatusRefused):
        campaign_update(actor=actor, campaign=campaign, name="Again")
    assert AuditEvent.objects.filter(action="campaign.status").count() == 3


def test_resuming_after_the_window_is_refused():
    now = timezone.now()
    campaign = make_campaign(starts_at=now - timedelta(days=3), ends_at=now + timedelta(days=1))
    campaign = campaign_status_set(actor=Actor.system(), campaign=campaign, status="paused")
    with pytest.raises(CampaignStatusRefused):
        campaign_status_set(
            actor=Actor.system(), campaign=campaign, status="active", now=now + timedelta(days=2)
        )


def test_kind_changes_only_in_a_draft():
    draft = make_campaign(status="draft")
    draft = campaign_update(
        actor=Actor.system(), campaign=draft, kind="signup", params={"points": 10}
    )
    assert draft.kind == "signup"
    live = make_campaign()
    with pytest.raises(ValidationFailed):
        campaign_update(actor=Actor.system(), campaign=live, kind="signup", params={"points": 1})


def test_budget_cannot_go_below_what_is_used():
    campaign = make_campaign(budget_points=500)
    Campaign.objects.filter(pk=campaign.pk).update(budget_used=300)
    campaign.refresh_from_db()
    with pytest.raises(ValidationFailed) as refused:
        campaign_update(actor=Actor.system(), campaign=campaign, budget_points=200)
    assert "budget_points" in refused.value.fields


def test_duplicate_is_a_draft_with_nothing_used():
    tier = TierFactory(code="gold")
    campaign = make_campaign(budget_points=500, tiers=[tier])
    Campaign.objects.filter(pk=campaign.pk).update(budget_used=300)
    copy = campaign_duplicate(actor=Actor.system(), campaign=campaign)
    assert copy.status == CampaignStatus.DRAFT and copy.budget_used == 0
    assert copy.name == f"Copy of {campaign.name}"
    assert list(copy.tiers.values_list("code", flat=True)) == ["gold"]


def test_status_catch_up_job_writes_what_readers_already_see():
    now = timezone.now()
    starting = make_campaign(starts_at=now + timedelta(hours=1), status="scheduled")
    ending = make_campaign(starts_at=now - timedelta(days=1), ends_at=now + timedelta(hours=1))
    later = now + timedelta(hours=2)
    assert campaigns_status_catch_up(now=later) == 2
    assert campaigns_status_catch_up(now=later) == 0
    starting.refresh_from_db()
    ending.refresh_from_db()
    assert (starting.status, ending.status) == ("active", "ended")


def test_campaigns_active_is_three_statements_and_live_only(django_assert_num_queries):
    now = timezone.now()
    for _ in range(3):
        make_campaign(tiers=[TierFactory(threshold=_ * 100)], stores=[StoreFactory()])
    make_campaign(status="draft")
    make_campaign(starts_at=now + timedelta(days=1), status="scheduled")
    with django_assert_num_queries(3):
        snapshots = campaigns_active(now=now)
    assert len(snapshots) == 3 and all(len(s.tier_codes) == 1 for s in snapshots)


# --- Budgets, caps, hold-outs -----------------------------------------------------------------


def test_reserve_writes_nothing_for_unlimited_campaigns(django_assert_num_queries):
    member = MemberFactory()
    campaign = make_campaign()
    snapshots = [campaign_snapshot(campaign)]
    evaluation = sale_evaluate(sale(line(amount="150.00"), member_id=member.pk), snapshots)
    with transaction.atomic(), django_assert_num_queries(0):
        result = campaign_awards_reserve(
            member_id=member.pk, evaluation=evaluation, campaigns=snapshots, at=MONDAY
        )
    assert result == evaluation


def test_reserve_cuts_to_the_budget_left_in_two_statements(django_assert_max_num_queries):
    member = MemberFactory()
    campaign = make_campaign(params={"min_spend": "10.00", "points": 100}, budget_points=250)
    snapshots = [campaign_snapshot(campaign)]
    evaluation = sale_evaluate(sale(member_id=member.pk), snapshots)
    got = []
    for _ in range(4):
        with transaction.atomic(), django_assert_max_num_queries(2):
            result = campaign_awards_reserve(
                member_id=member.pk, evaluation=evaluation, campaigns=snapshots, at=MONDAY
            )
        got.append(result.points)
    assert got == [100, 100, 50, 0]
    assert {n.reason for n in result.not_matched} == {engine.BUDGET}
    campaign.refresh_from_db()
    assert campaign.budget_used == 250


def test_reserve_cuts_to_the_member_cap_per_period():
    member = MemberFactory()
    campaign = make_campaign(
        params={"min_spend": "10.00", "points": 30}, per_member_cap=50, cap_period="day"
    )
    got = [reserve(campaign, member.pk).points for _ in range(3)]
    assert got == [30, 20, 0]
    assert reserve(campaign, member.pk, at=MONDAY + timedelta(days=1)).points == 30
    use = CampaignMemberUse.objects.get(member=member, period_key="2026-12-07")
    assert (use.points, use.awards) == (50, 2)


@pytest.mark.django_db(transaction=True)
def test_reserve_refuses_to_run_outside_a_transaction():
    member = MemberFactory()
    campaign = make_campaign(budget_points=100)
    snapshots = [campaign_snapshot(campaign)]
    evaluation = sale_evaluate(sale(member_id=member.pk), snapshots)
    with pytest.raises(RuntimeError):
        campaign_awards_reserve(
            member_id=member.pk, evaluation=evaluation, campaigns=snapshots, at=MONDAY
        )


def test_holdouts_are_recorded_once(django_assert_num_queries):
    member = MemberFactory()
    campaign = make_campaign(holdout_percent=50)
    campaign_holdouts_record(member_id=member.pk, campaign_ids=[campaign.pk])
    campaign_holdouts_record(member_id=member.pk, campaign_ids=[campaign.pk])
    with django_assert_num_queries(0):
        campaign_holdouts_record(member_id=member.pk, campaign_ids=[])
    assert CampaignHoldout.objects.filter(campaign=campaign, member=member).count() == 1


class TestReserveProperties(HypothesisTestCase):
    """Whatever the awards asked, in any order and for any members, a budget
    and a member's cap are never exceeded and nothing is given beyond them."""

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        budget=st.integers(1, 500),
        cap=st.one_of(st.none(), st.integers(1, 200)),
        wants=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 150)), min_size=1, max_size=12),
    )
    def test_budget_and_caps_are_never_exceeded(self, budget, cap, wants):
        members = [MemberFactory() for _ in range(3)]
        campaign = make_campaign(
            name="budget", budget_points=budget, per_member_cap=cap, cap_period="campaign"
        )
        given_to: dict[int, int] = {}
        for who, points in wants:
            member = members[who]
            snapshot = campaign_snapshot(Campaign.objects.get(pk=campaign.pk))
            evaluation = engine.Evaluation(
                candidates=(engine.CampaignAward(campaign.pk, points, "x"),)
            )
            with transaction.atomic():
                result = campaign_awards_reserve(
                    member_id=member.pk, evaluation=evaluation, campaigns=[snapshot], at=MONDAY
                )
            assert 0 <= result.points <= points
            given_to[member.pk] = given_to.get(member.pk, 0) + result.points
        campaign.refresh_from_db()
        assert campaign.budget_used == sum(given_to.values()) <= budget
        if cap is not None:
            assert all(total <= cap for total in given_to.values())
        # what was cut was cut only because a limit was reached
        wanted = sum(points for _, points in wants)
        if campaign.budget_used < min(budget, wanted) and cap is None:
            pytest.fail("an award was cut while budget was left")
