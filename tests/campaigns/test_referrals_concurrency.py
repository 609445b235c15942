"""Real threads against PostgreSQL: a referral pays once however many of the
friend's sales arrive at once, and friends of one referrer settling at once
do not deadlock."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.models import Referral, ReferralStatus
from campaigns.referrals import referral_sale_recorded, referral_settle
from loyalty.actors import Actor
from loyalty.selectors import program_settings_get
from loyalty.services import program_settings_update
from members.checks import ledger_problems
from members.locks import account_lock
from members.models import Member, PointsEntry
from members.services import member_enrol
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory
from tests.members.test_ledger_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARAMS = {"referrer_points": 500, "friend_points": 200, "min_spend": "50.00", "within_days": 30}


def _sale(member_id: int, purchase_id: int):
    """The sale flow's part; its commit queues the settle step (eager: it runs
    in this thread as the transaction commits), which is tried again here as
    the sweep would."""
    store_id = program_settings_get().main_store_id
    now = timezone.now()
    with transaction.atomic():
        account_lock(member_id=member_id)
        member = Member.objects.get(pk=member_id)
        qualified = referral_sale_recorded(
            member=member,
            purchase_id=purchase_id,
            store_id=store_id,
            eligible_amount=Decimal("80.00"),
            occurred_at=now,
            now=now,
        )
    if qualified is not None:
        referral_settle(referral_id=qualified.referral_id)
    return qualified is not None


def _campaign_points(member: Member) -> int:
    return sum(
        PointsEntry.objects.filter(member=member, source_type="campaign").values_list(
            "points", flat=True
        )
    )


def test_two_qualifying_sales_of_the_friend_at_once_pay_once():
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    make_campaign("referral", params=PARAMS)
    referrer = MemberFactory(user=None, email="ref@example.com")
    friend = member_enrol(
        actor=Actor.system(), email="friend@example.com", referral_code=referrer.referral_code
    )
    results = run_at_once(2, lambda i: _sale(friend.pk, 500 + i))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(results) == [False, True]
    assert _campaign_points(friend) == 200 and _campaign_points(referrer) == 500
    assert ledger_problems() == []


def test_friends_of_one_referrer_settling_at_once_do_not_deadlock_and_keep_the_cap():
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    make_campaign("referral", params={**PARAMS, "monthly_cap": 3})
    referrer = MemberFactory(user=None, email="ref@example.com")
    # The referrer is also someone's friend: their own referral settles with
    # another pair of accounts at the same time.
    advocate = MemberFactory(user=None, email="adv@example.com")
    friends = [
        member_enrol(
            actor=Actor.system(), email=f"f{i}@example.com", referral_code=referrer.referral_code
        )
        for i in range(6)
    ]
    Referral.objects.create(referrer=advocate, friend=referrer, code=advocate.referral_code)
    Member.objects.filter(pk=referrer.pk).update(referral_pending=True)
    buyers = [f.pk for f in friends] + [referrer.pk]
    results = run_at_once(len(buyers), lambda i: _sale(buyers[i], 600 + i))
    assert not [r for r in results if isinstance(r, Exception)], results
    statuses = list(Referral.objects.filter(referrer=referrer).values_list("status", flat=True))
    assert statuses.count(ReferralStatus.REWARDED) == 3
    assert statuses.count(ReferralStatus.REJECTED) == 3
    assert Referral.objects.get(friend=referrer).status == ReferralStatus.REWARDED
    assert _campaign_points(referrer) == 3 * 500 + 200
    assert ledger_problems() == []
