"""The earning rules engine (campaigns.engine): pure, so no database here."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns import engine
from campaigns.engine import (
    Audience,
    EventContext,
    LimitLeft,
    MemberContext,
    event_evaluate,
    in_holdout,
    member_evaluate,
    resolve,
    sale_evaluate,
)
from tests.campaigns.factories import KL, LONG_AGO, MONDAY, SATURDAY, line, sale, snap

WEEKEND_X2 = {"factor": "2.00", "days_of_week": [5, 6]}


def reasons(evaluation) -> dict[int, str]:
    return {n.campaign_id: n.reason for n in evaluation.not_matched}


def points(evaluation) -> dict[int, int]:
    return {a.campaign_id: a.points for a in evaluation.awards}


# --- API.md's numbers -------------------------------------------------------------------------


def test_weekend_double_points_on_rm80_gives_80_more_on_a_saturday_and_nothing_on_a_monday():
    weekend = snap(1, "multiplier", WEEKEND_X2, name="Double points weekend")
    saturday = sale_evaluate(sale(line(amount="80.00"), at=SATURDAY), [weekend])
    monday = sale_evaluate(sale(line(amount="80.00"), at=MONDAY), [weekend])
    assert points(saturday) == {1: 80}  # 80 base + 80 campaign = 160
    assert saturday.awards[0].label == "Double points weekend"
    assert saturday.awards[0].source == "campaign:1"
    assert points(monday) == {} and reasons(monday) == {1: engine.DAYS}


def test_gold_member_times_two_campaign_on_rm100_gives_100_50_150():
    """Tier ×1.5: 100 base + 50 tier = 150 points before campaigns; the
    stackable ×2 campaign adds 150 × (2 - 1)."""
    context = sale(line(amount="100.00", points=150), tier="gold")
    evaluation = sale_evaluate(context, [snap(1, "multiplier", {"factor": "2.00"})])
    assert points(evaluation) == {1: 150}
    assert 100 + 50 + evaluation.points == 300


def test_two_non_stackable_bonuses_of_50_and_80_give_only_80():
    fifty = snap(1, "spend_bonus", {"min_spend": "10.00", "points": 50}, stackable=False)
    eighty = snap(2, "spend_bonus", {"min_spend": "10.00", "points": 80}, stackable=False)
    evaluation = sale_evaluate(sale(), [fifty, eighty])
    assert points(evaluation) == {2: 80}
    assert reasons(evaluation) == {1: engine.SUPERSEDED}


# --- Kinds ----------------------------------------------------------------------------------


def test_multiplier_with_a_filter_multiplies_only_the_matching_lines():
    coffee = snap(1, "multiplier", {"factor": "3.00", "categories": ["Coffee"]})
    context = sale(line("C1", "coffee", "20.00"), line("B1", "books", "50.00"))
    assert points(sale_evaluate(context, [coffee])) == {1: 40}


def test_multiplier_ignores_lines_that_do_not_earn():
    coffee = snap(1, "multiplier", {"factor": "2.00", "skus": ["C1"]})
    context = sale(line("C1", "coffee", "20.00", earns=False), line("B1", "books", "50.00"))
    assert reasons(sale_evaluate(context, [coffee])) == {1: engine.NO_MATCHING_LINE}


def test_multiplier_factor_rounds_down():
    assert points(
        sale_evaluate(sale(line(points=33)), [snap(1, "multiplier", {"factor": "1.50"})])
    ) == {1: 16}


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 12, 7, 17, 59, tzinfo=KL), engine.HOURS),
        (datetime(2026, 12, 7, 18, 0, tzinfo=KL), None),
        (datetime(2026, 12, 7, 21, 59, tzinfo=KL), None),
        (datetime(2026, 12, 7, 22, 0, tzinfo=KL), engine.HOURS),
    ],
)
def test_multiplier_hours_include_the_start_and_exclude_the_end(at, expected):
    happy = snap(1, "multiplier", {"factor": "2.00", "hours": ["18:00", "22:00"]})
    assert reasons(sale_evaluate(sale(at=at), [happy])).get(1) == expected


def test_hours_that_end_before_they_start_run_past_midnight():
    late = snap(1, "multiplier", {"factor": "2.00", "hours": ["22:00", "02:00"]})
    assert points(sale_evaluate(sale(at=datetime(2026, 12, 7, 1, 0, tzinfo=KL)), [late]))
    assert points(sale_evaluate(sale(at=datetime(2026, 12, 7, 23, 0, tzinfo=KL)), [late]))
    assert not points(sale_evaluate(sale(at=datetime(2026, 12, 7, 12, 0, tzinfo=KL)), [late]))


def test_multiplier_below_its_minimum_spend():
    rich = snap(1, "multiplier", {"factor": "2.00", "min_spend": "150.00"})
    assert reasons(sale_evaluate(sale(), [rich])) == {1: engine.MIN_SPEND}
    assert points(sale_evaluate(sale(line(amount="150.00")), [rich])) == {1: 150}


def test_category_bonus_is_floor_of_matching_amount_over_per_amount_times_points():
    bonus = snap(1, "category_bonus", {"categories": ["coffee"], "points": 5, "per_amount": "2.00"})
    context = sale(
        line("C1", "coffee", "9.90"), line("C2", "COFFEE", "3.00"), line("B", "books", "99.00")
    )
    assert points(sale_evaluate(context, [bonus])) == {1: 30}  # floor(12.90 / 2) × 5
    assert reasons(sale_evaluate(sale(line("B", "books")), [bonus])) == {1: engine.NO_MATCHING_LINE}
    assert reasons(sale_evaluate(sale(line("C1", "coffee", "1.99")), [bonus])) == {
        1: engine.NO_POINTS
    }


def test_spend_bonus_once_at_its_minimum_and_first_purchase_only():
    bonus = snap(1, "spend_bonus", {"min_spend": "100.00", "points": 50})
    first = snap(
        2, "spend_bonus", {"min_spend": "100.00", "points": 70, "first_purchase_only": True}
    )
    assert points(sale_evaluate(sale(line(amount="100.00")), [bonus, first])) == {1: 50}
    assert reasons(sale_evaluate(sale(line(amount="100.00")), [first])) == {
        2: engine.FIRST_PURCHASE
    }
    assert points(sale_evaluate(sale(line(amount="100.00"), first_purchase=True), [first])) == {
        2: 70
    }
    assert reasons(sale_evaluate(sale(line(amount="99.99")), [bonus])) == {1: engine.MIN_SPEND}


def test_sale_evaluation_ignores_campaigns_of_other_kinds():
    evaluation = sale_evaluate(sale(), [snap(1, "signup"), snap(2, "event"), snap(3, "referral")])
    assert evaluation.awards == () and evaluation.not_matched == ()


def test_event_campaign_rewards_its_event_only_and_case_does_not_matter():
    review = snap(1, "event", {"event": "review", "points": 20})
    member = Audience(member_id=3)
    assert points(event_evaluate(EventContext(member, "Review ", MONDAY), [review])) == {1: 20}
    other = event_evaluate(EventContext(member, "app_download", MONDAY), [review])
    assert reasons(other) == {1: engine.OTHER_EVENT}


@pytest.mark.parametrize("kind", ["signup", "birthday", "anniversary"])
def test_member_moments_award_their_points(kind):
    campaign = snap(1, kind)
    evaluation = member_evaluate(
        MemberContext(Audience(5), MONDAY), [campaign, snap(2, "event")], kind=kind
    )
    assert points(evaluation) == {1: campaign.params.points}


def test_member_moment_of_an_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        member_evaluate(MemberContext(Audience(5), MONDAY), [], kind="multiplier")


# --- Targeting, window, hold-out ---------------------------------------------------------------


def test_audience_store_and_window_reasons():
    base = snap(1, "multiplier", {"factor": "2.00"})
    context = sale(tier="silver", segments=frozenset({4}), store="klcc")
    cases = {
        engine.TIER: replace(base, tier_codes=frozenset({"gold"})),
        engine.SEGMENT: replace(base, segment_id=9),
        engine.STORE: replace(base, store_codes=frozenset({"bangsar"})),
        engine.WINDOW: replace(base, starts_at=MONDAY + timedelta(hours=1)),
        engine.INACTIVE: replace(base, status="paused"),
    }
    for reason, campaign in cases.items():
        assert reasons(sale_evaluate(context, [campaign])) == {1: reason}, reason
    ended = replace(base, ends_at=MONDAY)
    assert reasons(sale_evaluate(context, [ended])) == {1: engine.WINDOW}
    welcome = replace(
        base, tier_codes=frozenset({"silver"}), segment_id=4, store_codes=frozenset({"klcc"})
    )
    assert points(sale_evaluate(context, [welcome])) == {1: 100}


def test_a_scheduled_campaign_counts_from_its_start():
    scheduled = snap(1, "multiplier", {"factor": "2.00"}, status="scheduled", starts_at=MONDAY)
    assert points(sale_evaluate(sale(at=MONDAY), [scheduled])) == {1: 100}


def test_holdout_keeps_a_stable_share_of_members_out_and_reports_them():
    campaign = snap(1, "spend_bonus", {"min_spend": "1.00", "points": 10}, holdout_percent=50)
    held = []
    for member_id in range(1, 101):
        evaluation = sale_evaluate(sale(member_id=member_id), [campaign])
        again = sale_evaluate(sale(member_id=member_id, at=SATURDAY), [campaign])
        assert evaluation.holdouts == again.holdouts
        if evaluation.holdouts:
            assert reasons(evaluation) == {1: engine.HOLDOUT} and not evaluation.awards
            held.append(member_id)
    assert 35 <= len(held) <= 65


def test_holdout_of_zero_keeps_nobody_out():
    assert not any(in_holdout(member_id=m, campaign_id=1, holdout_percent=0) for m in range(500))


def test_holdout_draws_different_members_for_different_campaigns():
    first = {m for m in range(200) if in_holdout(member_id=m, campaign_id=1, holdout_percent=50)}
    second = {m for m in range(200) if in_holdout(member_id=m, campaign_id=2, holdout_percent=50)}
    assert first != second


# --- Limits and stacking ---------------------------------------------------------------------


def test_an_award_is_cut_to_its_limit_left_and_dropped_at_zero():
    bonus = snap(1, "spend_bonus", {"min_spend": "1.00", "points": 100})
    cut = sale_evaluate(sale(), [bonus], limits_left={1: LimitLeft(30, engine.BUDGET)})
    assert points(cut) == {1: 30}
    none_left = sale_evaluate(sale(), [bonus], limits_left={1: LimitLeft(0, engine.CAP)})
    assert points(none_left) == {} and reasons(none_left) == {1: engine.CAP}


def test_a_capped_non_stackable_award_gives_way_to_the_next_largest():
    big = snap(1, "spend_bonus", {"min_spend": "1.00", "points": 100}, stackable=False)
    small = snap(2, "spend_bonus", {"min_spend": "1.00", "points": 60}, stackable=False)
    evaluation = sale_evaluate(sale(), [big, small], limits_left={1: LimitLeft(0, engine.BUDGET)})
    assert points(evaluation) == {2: 60}


def test_ties_between_non_stackable_awards_go_to_priority_then_the_older_campaign():
    older = snap(1, "spend_bonus", {"min_spend": "1.00", "points": 50}, stackable=False)
    newer = snap(2, "spend_bonus", {"min_spend": "1.00", "points": 50}, stackable=False)
    assert points(sale_evaluate(sale(), [newer, older])) == {1: 50}
    assert points(sale_evaluate(sale(), [older, replace(newer, priority=5)])) == {2: 50}


def test_cap_period_keys():
    moment = datetime(2026, 12, 31, 23, 0, tzinfo=KL)
    assert engine.cap_period_key("day", moment) == "2026-12-31"
    assert engine.cap_period_key("week", moment) == "2026-W53"
    assert engine.cap_period_key("month", moment) == "2026-12"
    assert engine.cap_period_key("campaign", moment) == "campaign"


# --- Properties --------------------------------------------------------------------------------

money = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("5000.00"), places=2)
lines_strategy = st.lists(
    st.builds(
        line,
        sku=st.sampled_from(["A", "B", "C"]),
        category=st.sampled_from(["coffee", "books", "toys"]),
        amount=money.map(str),
        points=st.integers(0, 10_000),
        earns=st.booleans(),
    ),
    min_size=1,
    max_size=5,
)
campaign_strategy = st.one_of(
    st.builds(
        lambda factor, days, cats, stack, prio: snap(
            0,
            "multiplier",
            {"factor": f"{factor:.2f}", "days_of_week": days or None, "categories": cats},
            stackable=stack,
            priority=prio,
        ),
        st.decimals(min_value=Decimal("1.01"), max_value=Decimal("10.00"), places=2),
        st.lists(st.integers(0, 6), max_size=3),
        st.lists(st.sampled_from(["coffee", "books"]), max_size=2),
        st.booleans(),
        st.integers(-3, 3),
    ),
    st.builds(
        lambda pts, per, cats, stack, prio: snap(
            0,
            "category_bonus",
            {"categories": cats, "points": pts, "per_amount": f"{per:.2f}"},
            stackable=stack,
            priority=prio,
        ),
        st.integers(1, 1000),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100.00"), places=2),
        st.lists(st.sampled_from(["coffee", "books", "toys"]), min_size=1, max_size=2),
        st.booleans(),
        st.integers(-3, 3),
    ),
    st.builds(
        lambda minimum, pts, first, stack, prio: snap(
            0,
            "spend_bonus",
            {"min_spend": f"{minimum:.2f}", "points": pts, "first_purchase_only": first},
            stackable=stack,
            priority=prio,
        ),
        money,
        st.integers(1, 1000),
        st.booleans(),
        st.booleans(),
        st.integers(-3, 3),
    ),
)
campaigns_strategy = st.lists(campaign_strategy, max_size=6).map(
    lambda cs: [
        replace(c, id=i + 1, created_at=LONG_AGO + timedelta(seconds=i)) for i, c in enumerate(cs)
    ]
)
days_strategy = st.integers(0, 6).map(lambda d: MONDAY + timedelta(days=d))


@settings(max_examples=150, deadline=None)
@given(lines_strategy, campaigns_strategy, days_strategy, st.booleans(), st.randoms())
def test_awards_never_negative_one_non_stackable_at_most_and_order_does_not_matter(
    lines, campaigns, at, first, rnd
):
    context = sale(*lines, at=at, first_purchase=first)
    evaluation = sale_evaluate(context, campaigns)
    assert all(award.points > 0 for award in evaluation.awards)
    by_id = {c.id: c for c in campaigns}
    exclusive = [a for a in evaluation.awards if not by_id[a.campaign_id].stackable]
    assert len(exclusive) <= 1
    if exclusive:
        losers = [n for n in evaluation.not_matched if n.reason == engine.SUPERSEDED]
        others = {a.campaign_id: a.points for a in evaluation.candidates}
        assert all(others[n.campaign_id] <= exclusive[0].points for n in losers)
    # every campaign answers exactly once: an award or a reason
    answered = [a.campaign_id for a in evaluation.awards] + [
        n.campaign_id for n in evaluation.not_matched
    ]
    assert sorted(answered) == sorted(by_id)
    shuffled = list(campaigns)
    rnd.shuffle(shuffled)
    assert sale_evaluate(context, shuffled) == evaluation


@settings(max_examples=150, deadline=None)
@given(lines_strategy, campaigns_strategy, st.lists(st.integers(0, 2000), min_size=6, max_size=6))
def test_limits_left_are_never_exceeded(lines, campaigns, lefts):
    limits_left = {
        c.id: LimitLeft(left, engine.BUDGET) for c, left in zip(campaigns, lefts, strict=False)
    }
    evaluation = sale_evaluate(sale(*lines), campaigns, limits_left=limits_left)
    assert all(0 < a.points <= limits_left[a.campaign_id].points for a in evaluation.awards)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 10_000), st.sampled_from(["1.50", "2.00", "3.25", "10.00"]), st.integers(0, 6)
)
def test_multiplier_award_is_the_sale_points_times_factor_minus_one(sale_points, factor, day):
    campaign = snap(1, "multiplier", {"factor": factor})
    evaluation = sale_evaluate(
        sale(line(points=sale_points), at=MONDAY + timedelta(days=day)), [campaign]
    )
    expected = int(Decimal(sale_points) * (Decimal(factor) - 1))
    assert evaluation.points == expected


@settings(max_examples=100, deadline=None)
@given(money, money, st.integers(0, 6), st.sampled_from(["coffee", "books"]))
def test_the_reason_given_is_true_changing_that_input_makes_it_match(
    amount, minimum, day, category
):
    """Each reason names the one input that, changed, makes the campaign match."""
    campaign = snap(
        1,
        "multiplier",
        {
            "factor": "2.00",
            "days_of_week": [5],
            "min_spend": f"{minimum:.2f}",
            "categories": ["coffee"],
        },
    )
    context = sale(
        line("A", category, f"{amount:.2f}", points=max(1, int(amount))),
        at=MONDAY + timedelta(days=day),
    )
    evaluation = sale_evaluate(context, [campaign])
    fixes = {
        engine.DAYS: lambda c: replace(c, at=SATURDAY),
        engine.MIN_SPEND: lambda c: replace(c, eligible_amount=minimum),
        engine.NO_MATCHING_LINE: lambda c: replace(
            c, lines=(replace(c.lines[0], category="coffee"),)
        ),
    }
    while evaluation.not_matched:
        reason = evaluation.not_matched[0].reason
        assert reason in fixes
        context = fixes.pop(reason)(context)
        evaluation = sale_evaluate(context, [campaign])
    assert evaluation.points > 0


def test_resolve_is_independent_of_candidate_order():
    campaigns = [
        snap(i, "spend_bonus", {"min_spend": "1.00", "points": p}, stackable=s)
        for i, (p, s) in enumerate(
            [(10, True), (50, False), (50, False), (70, False), (5, True)], 1
        )
    ]
    candidates = sale_evaluate(sale(), campaigns).candidates
    expected = resolve(campaigns, candidates)
    rnd = random.Random(4)
    for _ in range(20):
        shuffled = list(candidates)
        rnd.shuffle(shuffled)
        assert resolve(campaigns, shuffled) == expected
    assert {a.campaign_id for a in expected[0]} == {1, 4, 5}


def test_every_reason_has_a_sentence():
    from campaigns.reasons import REASON_TEXTS

    assert set(REASON_TEXTS) == set(engine.REASONS)
