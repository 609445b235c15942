"""Referrals: joining with a code, qualification by the friend's first
qualifying sale, settling once (both paid, caps and budget), and the
reversal when the qualifying sale is returned in full."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, Referral, ReferralStatus
from campaigns.referrals import (
    ADDRESS_LIMIT,
    BUDGET,
    MONTHLY_CAP,
    REFERRER_AUDIENCE,
    RETURNED,
    SELF_EMAIL,
    SELF_NAME,
    WINDOW_PASSED,
    referral_purchase_returned,
    referral_reason_text,
    referral_sale_recorded,
    referral_settle,
    referrals_settle_due,
)
from campaigns.services import campaign_update
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.selectors import program_settings_get
from loyalty.services import program_settings_update
from members.checks import ledger_problems
from members.enrolment import Channel
from members.identifiers import email_identity
from members.locks import account_lock
from members.models import EntryKind, Member, PointsEntry
from members.services import member_enrol
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory, StoreFactory, TierFactory

pytestmark = pytest.mark.django_db

PURCHASE_IDS = count(1000)


@pytest.fixture
def program():
    return program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)


@pytest.fixture
def campaign(program) -> Campaign:
    return make_campaign(
        "referral",
        name="Bring a friend",
        params={
            "referrer_points": 500,
            "friend_points": 200,
            "min_spend": "50.00",
            "within_days": 30,
        },
    )


def enrol(referrer: Member | None = None, **fields) -> Member:
    fields.setdefault("email", f"friend{next(PURCHASE_IDS)}@example.com")
    fields.setdefault("first_name", "Aina")
    return member_enrol(
        actor=Actor.system(),
        referral_code=referrer.referral_code if referrer else None,
        **fields,
    )


def sell(
    member: Member, amount: str = "60.00", *, at=None, purchase_id=None, settle=True, store=None
):
    """The sale flow's call: inside the sale's transaction, the member's
    account locked; the settle task runs when it commits."""
    member.refresh_from_db()
    store_id = store.pk if store else program_settings_get().main_store_id
    at = at or timezone.now()
    purchase_id = purchase_id or next(PURCHASE_IDS)
    with transaction.atomic():
        account_lock(member_id=member.pk)
        qualified = referral_sale_recorded(
            member=member,
            purchase_id=purchase_id,
            store_id=store_id,
            eligible_amount=Decimal(amount),
            occurred_at=at,
            now=at,
        )
    if qualified and settle:
        referral_settle(referral_id=qualified.referral_id, now=at)
    return purchase_id, qualified


def bonus(member: Member) -> int:
    return sum(
        PointsEntry.objects.filter(member=member, source_type="campaign").values_list(
            "points", flat=True
        )
    )


@pytest.fixture
def referrer(program) -> Member:
    return MemberFactory(user=None, email="ahmad@example.com", first_name="Ahmad")


def test_joining_with_a_code_records_the_referral_and_raises_the_flag(referrer):
    friend = enrol(referrer, channel=Channel.API)
    referral = Referral.objects.get(friend=friend)
    assert referral.referrer == referrer and referral.status == ReferralStatus.JOINED
    assert referral.code == referrer.referral_code
    assert Member.objects.get(pk=friend.pk).referral_pending is True


def test_a_code_is_matched_without_case_or_spaces(referrer):
    code = referrer.referral_code
    friend = member_enrol(
        actor=Actor.system(), email="x@example.com", referral_code=f" {code[:4].lower()} {code[4:]}"
    )
    assert Referral.objects.filter(friend=friend, referrer=referrer).exists()


def test_an_unknown_code_is_refused_on_its_field_and_nothing_is_enrolled(referrer):
    with pytest.raises(ValidationFailed) as failed:
        member_enrol(actor=Actor.system(), email="nobody@example.com", referral_code="ZZZZ9999")
    assert "referral_code" in failed.value.fields
    assert not Member.objects.filter(email="nobody@example.com").exists()


def test_a_member_without_a_code_costs_the_sale_no_statement(referrer, django_assert_num_queries):
    plain = enrol()
    store_id = program_settings_get().main_store_id
    with transaction.atomic():
        account_lock(member_id=plain.pk)
        with django_assert_num_queries(0):
            assert (
                referral_sale_recorded(
                    member=plain,
                    purchase_id=1,
                    store_id=store_id,
                    eligible_amount=Decimal("500.00"),
                    occurred_at=timezone.now(),
                    now=timezone.now(),
                )
                is None
            )


@pytest.mark.parametrize(
    ("alias", "reason"),
    [("Ah.Mad+promo@gmail.com", SELF_EMAIL), ("ahmad@googlemail.com", SELF_EMAIL)],
)
def test_self_referral_by_an_address_alias_is_rejected_with_its_reason(program, alias, reason):
    referrer = MemberFactory(user=None, email="ahmad@gmail.com")
    friend = enrol(referrer, email=alias)
    referral = Referral.objects.get(friend=friend)
    assert referral.status == ReferralStatus.REJECTED and referral.reason == reason
    assert Member.objects.get(pk=friend.pk).referral_pending is False


def test_the_same_name_and_birth_date_is_a_self_referral(program):
    born = timezone.localdate() - timedelta(days=9000)
    referrer = MemberFactory(
        user=None, email="siti@example.com", first_name="Siti", last_name="Aminah", birth_date=born
    )
    friend = enrol(referrer, first_name="SITI", last_name="aminah", birth_date=born)
    assert Referral.objects.get(friend=friend).reason == SELF_NAME


def test_email_identity_ignores_tags_and_gmail_dots_only():
    assert email_identity("A.B+x@Gmail.com") == "ab@gmail.com"
    assert email_identity("a.b+x@example.com") == "a.b@example.com"


def test_too_many_signups_from_one_address_are_rejected(referrer):
    friends = [enrol(referrer, address="203.0.113.9", channel=Channel.PORTAL) for _ in range(4)]
    statuses = [Referral.objects.get(friend=f).status for f in friends]
    assert statuses == ["joined", "joined", "joined", "rejected"]
    assert Referral.objects.get(friend=friends[3]).reason == ADDRESS_LIMIT


def test_first_sale_below_the_minimum_leaves_it_joined(referrer, campaign):
    friend = enrol(referrer)
    sell(friend, "49.99")
    assert Referral.objects.get(friend=friend).status == ReferralStatus.JOINED
    assert bonus(friend) == bonus(referrer) == 0


def test_qualifying_sale_rewards_both_once_each_with_its_own_entry(referrer, campaign):
    friend = enrol(referrer)
    sell(friend, "49.00")
    purchase_id, qualified = sell(friend, "50.00")
    referral = Referral.objects.get(friend=friend)
    assert qualified is not None and referral.purchase_id == purchase_id
    assert referral.status == ReferralStatus.REWARDED
    assert bonus(friend) == 200 and bonus(referrer) == 500
    entry = PointsEntry.objects.get(member=referrer, source_type="campaign")
    assert entry.kind == EntryKind.BONUS and entry.source_id == str(campaign.pk)
    # A second sale, or the settle step again, pays nothing more.
    sell(friend, "500.00")
    assert referral_settle(referral_id=referral.pk) is None
    assert referrals_settle_due(now=timezone.now()) == 0
    assert bonus(friend) == 200 and bonus(referrer) == 500
    assert ledger_problems() == []


def test_the_settle_task_runs_when_the_sale_commits(
    referrer, campaign, django_capture_on_commit_callbacks
):
    friend = enrol(referrer)
    with django_capture_on_commit_callbacks(execute=True):
        sell(friend, "80.00", settle=False)
    assert Referral.objects.get(friend=friend).status == ReferralStatus.REWARDED
    assert bonus(referrer) == 500


def test_a_sale_after_within_days_leaves_it_joined_and_stops_asking(referrer, campaign):
    friend = enrol(referrer)
    later = timezone.now() + timedelta(days=31)
    sell(friend, "100.00", at=later)
    referral = Referral.objects.get(friend=friend)
    assert referral.status == ReferralStatus.JOINED and referral.reason == WINDOW_PASSED
    assert Member.objects.get(pk=friend.pk).referral_pending is False
    assert bonus(referrer) == 0


def test_without_a_live_referral_campaign_it_stays_joined_and_pending(referrer):
    friend = enrol(referrer)
    sell(friend, "100.00")
    assert Referral.objects.get(friend=friend).status == ReferralStatus.JOINED
    assert Member.objects.get(pk=friend.pk).referral_pending is True


def test_the_monthly_cap_rejects_the_referrer_s_next_referral(referrer, program):
    make_campaign(
        "referral",
        params={
            "referrer_points": 500,
            "friend_points": 200,
            "min_spend": "50.00",
            "within_days": 30,
            "monthly_cap": 2,
        },
    )
    friends = [enrol(referrer) for _ in range(3)]
    for friend in friends:
        sell(friend, "60.00")
    statuses = [Referral.objects.get(friend=f).status for f in friends]
    assert statuses == ["rewarded", "rewarded", "rejected"]
    assert Referral.objects.get(friend=friends[2]).reason == MONTHLY_CAP
    assert bonus(referrer) == 1000 and bonus(friends[2]) == 0


def test_a_budget_that_cannot_pay_both_rejects_and_is_never_exceeded(referrer, program):
    campaign = make_campaign(
        "referral",
        budget_points=1000,
        params={
            "referrer_points": 500,
            "friend_points": 200,
            "min_spend": "50.00",
            "within_days": 30,
        },
    )
    first, second = enrol(referrer), enrol(referrer)
    sell(first)
    sell(second)
    assert Referral.objects.get(friend=second).reason == BUDGET
    campaign.refresh_from_db()
    assert campaign.budget_used == 700


def test_a_full_return_reverses_both_and_the_ledger_nets_to_zero(
    referrer, campaign, django_capture_on_commit_callbacks
):
    friend = enrol(referrer)
    purchase_id, _ = sell(friend, "60.00")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        account_lock(member_id=friend.pk)
        assert referral_purchase_returned(
            purchase_id=purchase_id, fully_returned=True, now=timezone.now()
        )
    referral = Referral.objects.get(friend=friend)
    assert referral.status == ReferralStatus.REJECTED and referral.reason == RETURNED
    assert referral.reversed_at is not None and not referral.reversal_due
    assert bonus(friend) == 0 and bonus(referrer) == 0
    referrer.account.refresh_from_db()
    assert referrer.account.balance == 0
    assert ledger_problems() == []


def test_a_partial_return_changes_nothing_and_costs_no_statement(
    referrer, campaign, django_assert_num_queries
):
    friend = enrol(referrer)
    purchase_id, _ = sell(friend, "60.00")
    with django_assert_num_queries(0):
        referral_purchase_returned(
            purchase_id=purchase_id, fully_returned=False, now=timezone.now()
        )
    assert Referral.objects.get(friend=friend).status == ReferralStatus.REWARDED
    assert bonus(referrer) == 500


def test_a_return_after_the_return_window_keeps_the_reward(referrer, campaign):
    program_settings_update(actor=Actor.system(), pending_days=7)
    friend = enrol(referrer)
    purchase_id, _ = sell(friend, "60.00")
    later = timezone.now() + timedelta(days=8)
    assert not referral_purchase_returned(purchase_id=purchase_id, fully_returned=True, now=later)
    assert Referral.objects.get(friend=friend).status == ReferralStatus.REWARDED


def test_a_return_before_settling_rejects_without_paying(referrer, campaign):
    friend = enrol(referrer)
    purchase_id, qualified = sell(friend, "60.00", settle=False)
    referral_purchase_returned(purchase_id=purchase_id, fully_returned=True, now=timezone.now())
    assert referral_settle(referral_id=qualified.referral_id) is None
    assert bonus(referrer) == 0 and bonus(friend) == 0


def test_a_sale_at_a_store_outside_the_campaign_does_not_qualify(referrer, campaign):
    other = StoreFactory(code="bangsar", name="Bangsar")
    main = StoreFactory(code="klcc", name="KLCC")
    campaign_update(actor=Actor.system(), campaign=campaign, stores=[main])
    friend = enrol(referrer)
    sell(friend, "80.00", store=other)
    assert Referral.objects.get(friend=friend).status == ReferralStatus.JOINED
    sell(friend, "80.00", store=main)
    assert Referral.objects.get(friend=friend).status == ReferralStatus.REWARDED


def test_a_referrer_outside_the_campaign_tiers_is_rejected_with_its_reason(referrer, campaign):
    gold = TierFactory(code="gold", name="Gold", threshold=Decimal("5000"))
    campaign_update(actor=Actor.system(), campaign=campaign, tiers=[gold])
    friend = enrol(referrer)
    sell(friend, "80.00")
    referral = Referral.objects.get(friend=friend)
    assert (referral.status, referral.reason) == (ReferralStatus.REJECTED, REFERRER_AUDIENCE)
    assert "audience" in referral_reason_text(referral.reason)
    assert bonus(friend) == bonus(referrer) == 0


def test_a_referral_campaign_refuses_a_holdout_and_a_per_member_cap(program):
    with pytest.raises(ValidationFailed) as refused:
        make_campaign(
            "referral",
            holdout_percent=20,
            per_member_cap=1,
            params={
                "referrer_points": 500,
                "friend_points": 200,
                "min_spend": "50.00",
                "within_days": 30,
            },
        )
    assert set(refused.value.fields) == {"holdout_percent", "per_member_cap"}
