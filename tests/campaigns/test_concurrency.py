"""Real threads against PostgreSQL: a campaign's budget and a member's cap are
never exceeded, however many sales award from them at once.

Each thread does what the sale flow does with campaigns: in one transaction,
lock the member's points account, evaluate, reserve (campaigns lock their
budget rows last), write each award to the ledger with source ("campaign", id).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.engine import Audience, EventContext, event_evaluate, sale_evaluate
from campaigns.models import Campaign, CampaignMemberUse
from campaigns.selectors import campaign_figures, campaigns_active
from campaigns.services import campaign_awards_reserve
from loyalty.actors import Actor
from loyalty.selectors import program_settings_get
from loyalty.services import program_settings_update
from members.checks import ledger_problems
from members.ledger import Source
from members.locks import account_lock
from members.models import EntryKind, Member
from members.points import points_earn
from tests.campaigns.factories import line, make_campaign, sale
from tests.factories import MemberFactory
from tests.members.test_ledger_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _award(member: Member, evaluate) -> int:
    """One sale's campaign part, as the sale flow runs it."""
    program = program_settings_get()
    now = timezone.localtime()
    with transaction.atomic():
        account = account_lock(member_id=member.pk)
        snapshots = campaigns_active(now=now)
        evaluation = campaign_awards_reserve(
            member_id=member.pk, evaluation=evaluate(snapshots, now), campaigns=snapshots, at=now
        )
        for award in evaluation.awards:
            points_earn(
                member=member,
                points=award.points,
                kind=EntryKind.BONUS,
                description=award.label,
                source=Source("campaign", str(award.campaign_id)),
                occurred_at=now,
                now=now,
                program=program,
                account=account,
            )
        return evaluation.points


def test_budget_1000_with_100_per_sale_and_30_concurrent_sales_awards_exactly_10():
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    members = [MemberFactory(user=None, email=f"budget{i}@example.com") for i in range(30)]
    campaign = make_campaign(params={"min_spend": "10.00", "points": 100}, budget_points=1000)

    def evaluate(member):
        return lambda snapshots, now: sale_evaluate(
            sale(line(amount="50.00"), member_id=member.pk, at=now), snapshots
        )

    results = run_at_once(30, lambda i: _award(members[i], evaluate(members[i])))

    assert sorted(results, reverse=True)[:11] == [100] * 10 + [0]
    campaign.refresh_from_db()
    assert campaign.budget_used == 1000
    assert campaign_figures(campaign_ids=[campaign.pk])[campaign.pk].points_awarded == 1000
    assert campaign_figures(campaign_ids=[campaign.pk])[campaign.pk].members_reached == 10
    assert ledger_problems() == []


def test_a_budget_that_does_not_divide_is_cut_and_never_exceeded():
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    members = [MemberFactory(user=None, email=f"cut{i}@example.com") for i in range(12)]
    campaign = make_campaign(params={"min_spend": "10.00", "points": 70}, budget_points=500)

    def evaluate(member):
        return lambda snapshots, now: sale_evaluate(
            sale(line(amount="50.00"), member_id=member.pk, at=now), snapshots
        )

    results = run_at_once(12, lambda i: _award(members[i], evaluate(members[i])))

    assert sum(results) == 500
    assert sorted(results, reverse=True)[:8] == [70] * 7 + [10]
    assert Campaign.objects.get(pk=campaign.pk).budget_used == 500


def test_a_cap_of_one_event_a_day_holds_under_10_concurrent_posts():
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    member = MemberFactory(user=None, email="reviewer@example.com")
    make_campaign(
        "event",
        params={"event": "review", "points": 20},
        per_member_cap=20,
        cap_period="day",
    )

    def evaluate(snapshots, now):
        return event_evaluate(EventContext(Audience(member.pk), "review", now), snapshots)

    results = run_at_once(10, lambda i: _award(member, evaluate))

    assert sorted(results) == [0] * 9 + [20]
    use = CampaignMemberUse.objects.get(member=member)
    assert (use.points, use.awards) == (20, 1)
    assert ledger_problems() == []


def test_budget_and_cap_together_with_two_campaigns_do_not_deadlock():
    """Sales awarding from two budgeted campaigns lock both rows in id order."""
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    members = [MemberFactory(user=None, email=f"both{i}@example.com") for i in range(16)]
    first = make_campaign(params={"min_spend": "1.00", "points": 30}, budget_points=300)
    second = make_campaign(
        params={"min_spend": "1.00", "points": 50},
        budget_points=1000,
        per_member_cap=50,
        cap_period="campaign",
    )

    def evaluate(member):
        return lambda snapshots, now: sale_evaluate(
            sale(line(amount=str(Decimal("20.00"))), member_id=member.pk, at=now), snapshots
        )

    results = run_at_once(16, lambda i: _award(members[i % 8], evaluate(members[i % 8])))

    assert not [r for r in results if isinstance(r, Exception)]
    assert Campaign.objects.get(pk=first.pk).budget_used == 300
    assert Campaign.objects.get(pk=second.pk).budget_used == 8 * 50
    assert all(use.points == 50 for use in CampaignMemberUse.objects.filter(campaign=second))
