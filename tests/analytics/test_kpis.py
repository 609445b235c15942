"""The KPIs (analytics.kpis) on small hand-made histories whose answers are
worked out here, read from the roll-ups as the dashboards read them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from analytics.kpis import (
    LIFT_MIN_GROUP,
    Period,
    Scope,
    buyers_kpi,
    campaign_results,
    clv_kpi,
    cohort_retention,
    kpi_compare,
    lift_estimate,
    members_kpi,
    points_kpi,
    retention_kpi,
    sales_kpi,
)
from analytics.models import LedgerDay
from analytics.rollups import rollups_refresh
from campaigns.engine import in_holdout
from campaigns.models import CampaignHoldout
from members.models import PointsEntry
from tests.analytics.factories import bought
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db
KL = ZoneInfo("Asia/Kuala_Lumpur")
OCTOBER = Period(date(2026, 10, 1), date(2026, 10, 31))
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=KL)


def person(n: int, joined: date, **extra):
    return MemberFactory(user=None, email=f"k{n}@example.com", joined_at=at(joined, 9), **extra)


@pytest.fixture
def history(program, tiers):
    """Ten members buy in November, four of them twice (20.00 a sale); five of
    them and an eleventh, who lapses, bought in October; seven joined on
    1 October, three on 2 November; six anonymous sales of 10.00 in November."""
    store = program.main_store
    october_members = [person(i, date(2026, 10, 1)) for i in range(7)]
    november_members = [person(i, date(2026, 11, 2)) for i in range(7, 10)]
    lapsed = person(10, date(2026, 10, 1))
    members = october_members + november_members
    # In order of time: the ledger dates no entry before a member's latest.
    for member in [*members[:5], lapsed]:
        bought(member, store, at=at(date(2026, 10, 10)), amount="20.00")
    for i, member in enumerate(members):
        bought(member, store, at=at(date(2026, 11, 5 + i)), amount="20.00")
        if i < 4:
            bought(member, store, at=at(date(2026, 11, 20 + i)), amount="20.00")
    for i in range(6):
        bought(None, store, at=at(date(2026, 11, 10 + i)), amount="10.00")
    rollups_refresh(start=date(2026, 9, 1), end=date(2026, 12, 3), whole_months=True)
    return {"members": members, "lapsed": lapsed, "store": store}


def test_ten_buyers_four_of_them_twice_is_a_repeat_rate_of_40_percent(history):
    figures = buyers_kpi(period=NOVEMBER)
    assert (figures.buyers, figures.purchases, figures.repeat_buyers) == (10, 14, 4)
    assert figures.repeat_purchase_rate == Decimal("0.4000")
    assert figures.purchase_frequency == Decimal("1.40")
    assert figures.amount == Decimal("280.00")


def test_participation_counts_anonymous_sales_and_order_values_split(history):
    sales = sales_kpi(period=NOVEMBER)
    assert (sales.sales, sales.member_sales, sales.anonymous_sales) == (20, 14, 6)
    assert sales.participation_rate == Decimal("0.7000")
    assert sales.amount == Decimal("340.00")
    assert sales.average_order_value_members == Decimal("20.00")
    assert sales.average_order_value_non_members == Decimal("10.00")
    # A store with no sales has no rate, not a rate of 0.
    empty = sales_kpi(period=NOVEMBER, scope=Scope(store=StoreFactory(code="empty")))
    assert empty.sales == 0 and empty.participation_rate is None


def test_retention_and_churn_period_over_period(history):
    # October's buyers: five of the ten and the one who lapsed; five came back.
    retention = retention_kpi(period=NOVEMBER)
    assert (retention.base, retention.retained) == (6, 5)
    assert retention.retention_rate == Decimal("0.8333")
    assert retention.churn_rate == Decimal("0.1667")


def test_members_total_new_and_active(history):
    members = members_kpi(period=NOVEMBER)
    assert (members.total, members.new, members.active) == (11, 3, 11)
    compared = kpi_compare(members_kpi, period=NOVEMBER)
    # The previous period is the 30 days before: 2 to 31 October, after the
    # first eight joined; six of them bought in the 90 days up to its end.
    assert compared.previous == type(members)(total=8, new=0, active=6)
    # The 90 days up to 18 February start on 21 November: the second sales of
    # 21, 22 and 23 November count, that of the 20th does not.
    later = members_kpi(period=Period(date(2027, 2, 1), date(2027, 2, 18)))
    assert later.active == 3


def test_cohort_retention_by_join_month(history):
    matrix = cohort_retention(period=Period(date(2026, 10, 1), date(2026, 11, 30)))
    october, november = matrix.rows
    assert october.size == 8 and october.buyers == [6, 7]
    assert october.rates == [Decimal("0.7500"), Decimal("0.8750")]
    assert november.size == 3 and november.buyers == [3]
    assert november.rates == [Decimal("1.0000")]


def test_historical_clv_is_the_members_net_spend_per_member(history):
    clv = clv_kpi(period=NOVEMBER)
    assert clv.spend == Decimal("400.00") and clv.members == 11
    assert clv.value == Decimal("36.36")


def test_the_points_of_the_sales_are_issued_and_outstanding(history):
    points = points_kpi(period=NOVEMBER)
    assert points.issued == 280 and points.outstanding == 400
    assert points.redeemed == points.expired == 0
    # Nothing ever redeemed or expired: no breakage estimate, no deduction.
    assert points.expected_breakage is None and points.liability == Decimal("4.00")


def test_the_liability_deducts_the_programs_own_breakage(program):
    LedgerDay.objects.create(day=date(2026, 1, 5), earned=1000, redeemed=300, refunded=0)
    LedgerDay.objects.create(day=date(2026, 2, 5), expired=100, reversed=50, adjusted=20)
    points = points_kpi(period=Period(date(2026, 2, 1), date(2026, 2, 28)))
    # outstanding = 1000 - 50 + 20 - 300 - 100
    assert points.outstanding == 570 and points.issued == -50 and points.expired == 100
    # expected breakage = expired / (redeemed + expired) = 100 / 400
    assert points.expected_breakage == Decimal("0.2500")
    # 570 points x RM0.01 x (1 - 0.25)
    assert points.liability == Decimal("4.28")
    assert points.redemption_rate == Decimal("0.3158")  # 300 / 950
    assert points.breakage_rate == Decimal("0.1053")  # 100 / 950


def test_a_store_scope_counts_only_its_sales(history):
    other = StoreFactory(code="mall")
    bought(history["members"][0], other, at=at(date(2026, 11, 28)), amount="55.00")
    rollups_refresh(start=date(2026, 11, 28), end=date(2026, 11, 28))
    assert sales_kpi(period=NOVEMBER, scope=Scope(store=other)).amount == Decimal("55.00")
    assert buyers_kpi(period=NOVEMBER, scope=Scope(store=other)).buyers == 1
    assert sales_kpi(period=NOVEMBER, scope=Scope(store=history["store"])).sales == 20


def test_lift_has_no_interval_for_tiny_groups_and_narrows_as_they_grow():
    tiny = lift_estimate([Decimal("10")] * 5, [Decimal("5")] * 5)
    assert not tiny.enough_data and tiny.low is None and tiny.high is None
    assert tiny.difference == Decimal("5.00")

    def groups(n: int):
        audience = [Decimal(v) for v in (10, 30) * (n // 2)]
        control = [Decimal(v) for v in (5, 15) * (n // 2)]
        return lift_estimate(audience, control)

    small, large = groups(LIFT_MIN_GROUP), groups(20 * LIFT_MIN_GROUP)
    assert small.enough_data and large.enough_data
    assert small.difference == large.difference == Decimal("10.00")
    assert (large.high - large.low) < (small.high - small.low)
    assert small.low < Decimal("10.00") < small.high


def test_hold_out_members_get_no_award_and_are_the_control_group(program, tiers):
    campaign = make_campaign(
        "spend_bonus",
        params={"min_spend": "10.00", "points": 10},
        holdout_percent=50,
        starts_at=at(date(2026, 11, 1), 0),
    )
    members = [person(i, date(2026, 10, 1)) for i in range(12)]
    for i, member in enumerate(members):
        bought(member, program.main_store, at=at(date(2026, 11, 10 + i)), amount="40.00")
    held = {
        m.pk
        for m in members
        if in_holdout(member_id=m.pk, campaign_id=campaign.pk, holdout_percent=50)
    }
    assert (
        set(CampaignHoldout.objects.filter(campaign=campaign).values_list("member_id", flat=True))
        == held
    )
    awarded = PointsEntry.objects.filter(idempotency_key__endswith=f":campaign:{campaign.pk}")
    assert not awarded.filter(member_id__in=held).exists()
    rollups_refresh(start=date(2026, 11, 1), end=date(2026, 11, 30), whole_months=True)
    result = campaign_results(campaign=campaign, as_of=at(date(2026, 11, 30), 23))
    assert result.members_reached == len(members) - len(held)
    assert result.points == 10 * result.members_reached
    assert result.cost == Decimal(result.points) * Decimal("0.01")
    assert (result.lift.audience, result.lift.control) == (len(members) - len(held), len(held))
    # Twelve members are too few to say anything.
    assert not result.lift.enough_data and result.lift.low is None
    assert result.lift.audience_revenue == result.lift.control_revenue == Decimal("40.00")


def test_referred_members_against_the_others(history):
    from campaigns.models import Referral

    members, lapsed = history["members"], history["lapsed"]
    # Members 0 and 7 joined through member 1's code; the lapsed one through 2's.
    for friend in (members[0], members[7], lapsed):
        Referral.objects.create(
            referrer=members[1], friend=friend, code=members[1].referral_code, status="rewarded"
        )
    funnel = referral_kpi_of(NOVEMBER)
    # Referred: 0 (3 sales: 60.00), 7 (1 sale: 20.00), lapsed (1 sale: 20.00).
    assert funnel.referred.members == 3
    assert funnel.referred.clv == Decimal("33.33")
    # October's buyers among them: 0 and the lapsed one; 0 came back.
    assert funnel.referred.churn_rate == Decimal("0.5000")
    # The others: 8 members, 400.00 - 100.00; of October's 4 buyers, all back.
    assert funnel.others.members == 8
    assert funnel.others.clv == Decimal("37.50")
    assert funnel.others.churn_rate == Decimal("0.0000")
    # Counted over a segment's members (no cells), the same figures.
    from members.models import Segment
    from members.segments import segment_rules_clean

    rules = segment_rules_clean(
        {"all": [{"field": "joined_at", "op": "lt", "value": "2030-01-01"}]}
    )
    everyone = Segment.objects.create(name="Everyone", rules=rules)
    by_segment = referral_kpi_of(NOVEMBER, scope=Scope(segment=everyone))
    assert (by_segment.referred, by_segment.others) == (funnel.referred, funnel.others)


def referral_kpi_of(period, scope=None):
    from analytics.kpis import referral_kpi

    return referral_kpi(period=period, scope=scope or Scope())


def test_referred_members_against_the_others_add_up_to_the_program(history):
    from analytics.kpis import referral_kpi
    from campaigns.models import Referral

    members, lapsed = history["members"], history["lapsed"]
    advocate = members[1]
    joined = at(date(2026, 11, 3))
    for friend, status in (
        (members[0], "rewarded"),
        (members[7], "qualified"),
        (lapsed, "rejected"),
    ):
        Referral.objects.create(
            referrer=advocate, friend=friend, code="ABC", status=status, created_at=joined
        )

    funnel = referral_kpi(period=NOVEMBER)

    assert (funnel.joined, funnel.qualified, funnel.rewarded, funnel.rejected) == (3, 2, 1, 1)
    # Referred: 60.00 + 20.00 + 20.00 over 3; of the two who bought in October,
    # one came back (churn 50%).
    assert (funnel.referred.members, funnel.referred.clv) == (3, Decimal("33.33"))
    assert funnel.referred.churn_rate == Decimal("0.5000")
    # The others: the program's 400.00 over 11 less theirs; the four of them
    # who bought in October all came back.
    assert (funnel.others.members, funnel.others.clv) == (8, Decimal("37.50"))
    assert funnel.others.churn_rate == Decimal("0.0000")
    # Nothing referred in October.
    assert referral_kpi(period=OCTOBER).joined == 0


def test_tier_distribution_counts_members_not_deleted_by_tier_and_home_store(program, tiers):
    from analytics.kpis import tier_distribution
    from members.models import Member, MemberStatus

    mall = StoreFactory(code="mall")
    home = program.main_store
    for n, (tier, store, status) in enumerate(
        [
            ("bronze", home, MemberStatus.ACTIVE),
            ("bronze", home, MemberStatus.ACTIVE),
            ("bronze", mall, MemberStatus.BLOCKED),
            ("silver", mall, MemberStatus.ACTIVE),
            ("silver", mall, MemberStatus.DELETED),
            (None, None, MemberStatus.ACTIVE),
        ]
    ):
        member = person(100 + n, date(2026, 10, 1), home_store=store)
        Member.objects.filter(pk=member.pk).update(
            tier=tiers[tier] if tier else None, status=status
        )

    def counts(scope: Scope) -> list[tuple[str, int]]:
        return [(row.code, row.members) for row in tier_distribution(scope=scope)]

    assert counts(Scope()) == [("", 1), ("bronze", 3), ("silver", 1), ("gold", 0)]
    assert counts(Scope(store=mall)) == [("bronze", 1), ("silver", 1), ("gold", 0)]
    shares = [row.share for row in tier_distribution(scope=Scope(store=home))]
    assert shares == [Decimal("1.0000"), Decimal("0.0000"), Decimal("0.0000")]
