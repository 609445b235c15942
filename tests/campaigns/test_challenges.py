"""Challenges move with the sales, returns and events that move them, in
their transaction, and pay a completion once (campaigns.challenges)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.challenge_engine import week_of
from campaigns.challenge_selectors import challenges_for_member, leaderboard
from campaigns.challenges import challenge_join, leaderboard_join
from campaigns.errors import ChallengeNotJoinable, NicknameRefused
from campaigns.models import ChallengeAward, ChallengeParticipation, MemberBadge
from loyalty.actors import Actor
from members.checks import ledger_problems
from members.models import PointsAccount, PointsEntry
from tests.campaigns.challenge_helpers import buy, give_back, make_badge, make_challenge
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _row(challenge, member) -> ChallengeParticipation:
    return ChallengeParticipation.objects.get(challenge=challenge, member=member)


def _challenge_points(member) -> int:
    entries = PointsEntry.objects.filter(member=member, source_type="challenge")
    return sum(entries.values_list("points", flat=True))


def _week_start(weeks_ago: int):
    """Noon on the Monday `weeks_ago` weeks before this week, in the program's time zone."""
    today = timezone.localtime()
    monday = today - timedelta(days=today.weekday(), weeks=weeks_ago)
    return monday.replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def three_in_30(program):
    badge = make_badge("Regular")
    return make_challenge("purchase_count", "3", rolling_days=30, badge=badge, reward_points=100)


def test_three_purchases_in_30_days_two_make_2_of_3_and_the_third_on_day_29_completes_once(
    shopper, three_in_30
):
    joined = timezone.now() - timedelta(days=35)
    challenge_join(member=shopper, challenge=three_in_30, now=joined)
    buy(shopper, "R-1", joined + timedelta(days=1))
    buy(shopper, "R-2", joined + timedelta(days=2))
    (shown,) = challenges_for_member(member=shopper, now=joined + timedelta(days=3))
    assert (shown.progress, shown.target, shown.status) == (Decimal(2), Decimal(3), "in_progress")
    assert shown.days_left == 27

    third = buy(shopper, "R-3", joined + timedelta(days=29))
    again = buy(shopper, "R-3", joined + timedelta(days=29))  # the till sends it twice

    assert again.replayed
    row = _row(three_in_30, shopper)
    assert (row.status, row.progress, row.times_completed) == ("completed", Decimal(3), 1)
    assert ChallengeAward.objects.filter(member=shopper).count() == 1
    assert MemberBadge.objects.get(member=shopper).times == 1
    assert _challenge_points(shopper) == 100
    account = PointsAccount.objects.get(member=shopper)
    assert account.balance == 130  # 3 × 10 points for the sales, 100 for the challenge
    assert third.receipt["balance"] == 130
    assert ledger_problems() == []


def test_a_purchase_after_the_rolling_window_or_before_joining_does_not_count(shopper, three_in_30):
    joined = timezone.now() - timedelta(days=40)
    buy(shopper, "BEFORE", joined - timedelta(days=1))
    challenge_join(member=shopper, challenge=three_in_30, now=joined)
    buy(shopper, "R-1", joined + timedelta(days=1))
    buy(shopper, "LATE", joined + timedelta(days=31))
    assert _row(three_in_30, shopper).progress == 1
    (shown,) = challenges_for_member(member=shopper, now=timezone.now())
    assert shown.status == "expired"


def test_an_opt_in_challenge_counts_nothing_until_joined_and_an_automatic_one_counts_at_once(
    shopper, program
):
    opt_in = make_challenge("purchase_count", "5")
    automatic = make_challenge("spend", "100.00", opt_in=False)
    buy(shopper, "R-1", timezone.now() - timedelta(hours=1), amount="30.00")
    assert not ChallengeParticipation.objects.filter(challenge=opt_in).exists()
    assert _row(automatic, shopper).progress == Decimal("30.00")


def test_the_return_of_the_completing_purchase_reverses_its_points_and_it_stays_completed(
    shopper, three_in_30
):
    joined = timezone.now() - timedelta(days=10)
    challenge_join(member=shopper, challenge=three_in_30, now=joined)
    buy(shopper, "R-1", joined + timedelta(days=1))
    buy(shopper, "R-2", joined + timedelta(days=2))
    third = buy(shopper, "R-3", joined + timedelta(days=3))
    give_back(third, "RET-1", amount="4.00")
    assert _challenge_points(shopper) == 100  # a partial return keeps them

    give_back(third, "RET-2")

    assert _challenge_points(shopper) == 0
    row = _row(three_in_30, shopper)
    assert row.status == "completed" and row.progress == 2
    assert ChallengeAward.objects.get(member=shopper).reversed_at is not None
    reversal = (
        PointsEntry.objects.filter(member=shopper, source_type="challenge").order_by("pk").last()
    )
    assert reversal.text == "purchase_count 3: challenge points taken back, purchase returned"
    (shown,) = challenges_for_member(member=shopper, now=timezone.now())
    assert shown.status == "completed" and shown.points_reversed
    assert ledger_problems() == []


def test_a_return_takes_spend_back_in_proportion(shopper, program):
    spend = make_challenge("spend", "500.00", opt_in=False)
    sale = buy(shopper, "R-1", timezone.now() - timedelta(hours=2), amount="90.00")
    give_back(sale, "RET-1", amount="30.00")
    assert _row(spend, shopper).progress == Decimal("60.00")
    give_back(sale, "RET-2", amount="60.00")
    assert _row(spend, shopper).progress == Decimal("0.00")


def test_category_spend_counts_only_its_lines_and_stores_visited_counts_stores(shopper, program):
    from tests.factories import StoreFactory

    coffee = make_challenge("category_spend", "50.00", opt_in=False, categories=["coffee"])
    stores = make_challenge("stores_visited", "2", opt_in=False)
    at = timezone.now() - timedelta(hours=3)
    buy(shopper, "R-1", at, amount="20.00", category="coffee")
    buy(shopper, "R-2", at, amount="70.00", category="tea")
    buy(shopper, "R-3", at, amount="5.00", store=StoreFactory(code="mv", name="Mid Valley"))
    assert _row(coffee, shopper).progress == Decimal("20.00")
    assert _row(stores, shopper).status == "completed"


def _streak(freezes: int = 0):
    return make_challenge(
        "weekly_streak", "4", opt_in=False, streak_freezes=freezes, starts_days_ago=70
    )


def test_a_weekly_streak_of_4_broken_in_week_4_restarts(shopper, program):
    streak = _streak()
    for n, weeks_ago in enumerate((5, 4, 3)):
        buy(shopper, f"W-{n}", _week_start(weeks_ago))
    assert _row(streak, shopper).progress == 3
    # No purchase in the fourth week: at the start of the fifth the streak is broken.
    (shown,) = challenges_for_member(member=shopper, now=_week_start(1))
    assert shown.streak_broken and shown.progress == 0
    buy(shopper, "W-5", _week_start(1))
    row = _row(streak, shopper)
    assert (row.progress, row.status) == (1, "in_progress")


def test_a_weekly_streak_of_4_in_weeks_1_to_4_completes(shopper, program):
    streak = _streak()
    for n, weeks_ago in enumerate((4, 3, 2, 1)):
        buy(shopper, f"W-{n}", _week_start(weeks_ago) + timedelta(days=n % 3))
    row = _row(streak, shopper)
    assert (row.progress, row.status, row.streak_week) == (4, "completed", week_of(_week_start(1)))
    assert _challenge_points(shopper) == 100


def test_a_weekly_streak_with_one_freeze_forgives_one_missed_week(shopper, program):
    streak = _streak(freezes=1)
    for n, weeks_ago in enumerate((5, 4, 2, 1)):  # none 3 weeks ago
        buy(shopper, f"W-{n}", _week_start(weeks_ago))
    row = _row(streak, shopper)
    assert (row.progress, row.status) == (4, "completed")
    assert row.state["freezes_used"] == 1


def test_a_streak_pays_each_milestone_once(shopper, program):
    streak = make_challenge(
        "weekly_streak",
        "2",
        opt_in=False,
        starts_days_ago=70,
        streak_milestones=[{"weeks": 3, "points": 30}, {"weeks": 4, "points": 40}],
    )
    for n, weeks_ago in enumerate((4, 3, 3, 2, 1)):
        buy(shopper, f"W-{n}", _week_start(weeks_ago) + timedelta(hours=n))
    awards = ChallengeAward.objects.filter(challenge=streak).order_by("weeks")
    assert [(a.kind, a.weeks, a.points) for a in awards] == [
        ("completion", 0, 100),
        ("milestone", 3, 30),
        ("milestone", 4, 40),
    ]
    assert _challenge_points(shopper) == 170


def test_an_event_challenge_counts_its_event(shopper, program, pos_api):
    reviews = make_challenge("event_count", "2", opt_in=False, event="review")
    for n in range(3):
        body = {"member_id": shopper.public_id, "name": "review", "reference": f"rv-{n}"}
        assert pos_api.post("/api/v1/events", body, format="json").status_code == 201
    pos_api.post("/api/v1/events", {"member_id": shopper.public_id, "name": "share"}, format="json")
    row = _row(reviews, shopper)
    assert (row.status, row.progress) == ("completed", 2)  # a completed round stops counting
    assert _challenge_points(shopper) == 100


def test_a_repeatable_challenge_starts_a_new_round_after_completing(shopper, program):
    twice = make_challenge("purchase_count", "2", opt_in=False, repeatable=True)
    at = timezone.now() - timedelta(hours=5)
    for n in range(5):
        buy(shopper, f"R-{n}", at + timedelta(minutes=n))
    row = _row(twice, shopper)
    assert (row.round, row.times_completed, row.progress) == (3, 2, 1)
    assert _challenge_points(shopper) == 200


def test_joining_needs_a_live_opt_in_challenge_of_the_members_audience(shopper, tiers):
    gold_only = make_challenge("purchase_count", "3")
    gold_only.tiers.set([tiers["gold"]])
    with pytest.raises(ChallengeNotJoinable):
        challenge_join(member=shopper, challenge=gold_only)
    automatic = make_challenge("purchase_count", "3", opt_in=False)
    with pytest.raises(ChallengeNotJoinable):
        challenge_join(member=shopper, challenge=automatic)


def test_leaderboard_ties_share_a_rank_ordered_by_who_got_there_first(program):
    board = make_challenge("purchase_count", "10", opt_in=False, leaderboard=True)
    members = [MemberFactory(user=None, email=f"lb{i}@example.com") for i in range(4)]
    start = timezone.now() - timedelta(days=3)
    # m1 reaches 2 first, m0 reaches 2 later, m2 has 3, m3 has 1.
    plan = [(1, 2), (0, 2), (2, 3), (3, 1)]
    minute = 0
    for index, count in plan:
        for n in range(count):
            minute += 1
            buy(members[index], f"L-{index}-{n}", start + timedelta(minutes=minute))
    for i, member in enumerate(members):
        leaderboard_join(member=member, nickname=f"Runner {i}")
    rows = leaderboard(challenge=board, now=timezone.now())
    assert [(r.rank, r.nickname, r.progress) for r in rows] == [
        (1, "Runner 2", 3),
        (2, "Runner 1", 2),
        (2, "Runner 0", 2),
        (4, "Runner 3", 1),
    ]


def test_a_broken_streak_leaves_the_streak_board(program):
    board = make_challenge(
        "weekly_streak", "10", opt_in=False, leaderboard=True, starts_days_ago=70
    )
    alive, broken = (MemberFactory(user=None, email=f"s{i}@example.com") for i in range(2))
    buy(alive, "A-1", _week_start(1))
    buy(broken, "B-1", _week_start(4))
    buy(broken, "B-2", _week_start(3))
    for member, nickname in ((alive, "Alive"), (broken, "Broken")):
        leaderboard_join(member=member, nickname=nickname)
    assert [r.nickname for r in leaderboard(challenge=board, now=timezone.now())] == ["Alive"]


@pytest.mark.parametrize(
    "nickname",
    ["Aisyah", "aisyah rahman", "AISYAH.R", "aisyah.rahman@example.com", "0123456789", "ab"],
)
def test_a_nickname_never_shows_the_members_name_email_or_phone(program, nickname):
    member = MemberFactory(
        user=None,
        first_name="Aisyah",
        last_name="Rahman",
        email="aisyah.rahman@example.com",
        phone="012-345 6789",
    )
    with pytest.raises(NicknameRefused):
        leaderboard_join(member=member, nickname=nickname)


def test_a_nickname_is_one_members_whatever_its_case(program):
    first, second = (MemberFactory(user=None, email=f"n{i}@example.com") for i in range(2))
    leaderboard_join(member=first, nickname="Kopi King")
    with pytest.raises(NicknameRefused):
        leaderboard_join(member=second, nickname="kopi  KING")
    assert leaderboard_join(member=first, nickname="Kopi Queen").nickname == "Kopi Queen"


def test_completing_tells_the_member_in_their_language_and_writes_the_webhook_event(
    shopper, program, monkeypatch, django_capture_on_commit_callbacks, mailoutbox
):
    from loyalty.models import Notification, WebhookEvent
    from loyalty.webhooks import webhook_endpoint_create
    from members.models import Member
    from tests.campaigns.challenge_helpers import make_badge

    monkeypatch.setattr("loyalty.webhooks._relay_queue", lambda: None)
    webhook_endpoint_create(
        actor=Actor.system(), url="https://93.184.216.34/hooks", events=["challenge.completed"]
    )
    Member.objects.filter(pk=shopper.pk).update(language="ms", first_name="Aisyah")
    once = make_challenge(
        "purchase_count", "1", opt_in=False, badge=make_badge("Kopi"), name="Kopi pertama"
    )
    with django_capture_on_commit_callbacks(execute=True):
        buy(shopper, "R-1", timezone.now() - timedelta(minutes=1))
    (event,) = WebhookEvent.objects.filter(type="challenge.completed")
    assert event.data["member_id"] == shopper.public_id
    assert (event.data["challenge"], event.data["points"]) == (once.pk, 100)
    note = Notification.objects.get(member=shopper, kind="challenge_completed")
    assert "Kopi pertama" in note.title
    assert note.title != "Challenge completed: Kopi pertama"  # in Malay
    (email,) = mailoutbox
    assert "Kopi" in email.body and "Aisyah" in email.body


def test_a_catalogue_reward_is_given_once_as_a_free_voucher(
    shopper, program, django_capture_on_commit_callbacks
):
    from campaigns.challenges import challenge_reward_grant
    from rewards.models import Voucher
    from tests.rewards.conftest import make_reward

    coffee = make_reward(stock=5)
    once = make_challenge("purchase_count", "1", opt_in=False, reward=coffee, reward_points=0)
    with django_capture_on_commit_callbacks(execute=True):
        buy(shopper, "R-1", timezone.now() - timedelta(minutes=1))
    award = ChallengeAward.objects.get(challenge=once)
    (voucher,) = Voucher.objects.filter(member=shopper)
    assert award.voucher_id == voucher.pk and voucher.reward == coffee
    assert challenge_reward_grant(award_id=award.pk) == voucher.pk  # again: nothing more
    assert Voucher.objects.filter(member=shopper).count() == 1
    coffee.refresh_from_db()
    assert coffee.stock == 4
    assert PointsAccount.objects.get(member=shopper).balance == 10


def test_the_challenges_a_purchase_moved_are_those_it_moved_last(shopper, program):
    from campaigns.challenge_selectors import challenges_moved_by_purchase

    spend = make_challenge("spend", "500.00", opt_in=False)
    make_challenge("event_count", "5", opt_in=False, event="review")
    first = buy(shopper, "R-1", timezone.now() - timedelta(minutes=2))
    (moved,) = challenges_moved_by_purchase(member=shopper, purchase_id=first.record_id)
    assert moved.challenge == spend and moved.progress == Decimal("10.00")
    second = buy(shopper, "R-2", timezone.now() - timedelta(minutes=1))
    assert challenges_moved_by_purchase(member=shopper, purchase_id=first.record_id) == []
    assert len(challenges_moved_by_purchase(member=shopper, purchase_id=second.record_id)) == 1


def test_a_voucher_out_of_stock_at_completion_goes_out_once_the_reward_is_restocked(
    shopper, program, django_capture_on_commit_callbacks
):
    from campaigns.challenges import challenge_rewards_owed
    from rewards.models import Reward, Voucher
    from tests.rewards.conftest import make_reward

    coffee = make_reward(stock=0)
    once = make_challenge("purchase_count", "1", opt_in=False, reward=coffee, reward_points=0)
    with django_capture_on_commit_callbacks(execute=True):
        buy(shopper, "R-1", timezone.now() - timedelta(minutes=1))
    award = ChallengeAward.objects.get(challenge=once)
    assert award.voucher_id is None and not Voucher.objects.filter(member=shopper).exists()
    assert challenge_rewards_owed(now=timezone.now()) == 0  # still none left

    Reward.objects.filter(pk=coffee.pk).update(stock=3)
    assert challenge_rewards_owed(now=timezone.now()) == 1
    assert challenge_rewards_owed(now=timezone.now()) == 0  # once
    (voucher,) = Voucher.objects.filter(member=shopper)
    award.refresh_from_db()
    assert award.voucher_id == voucher.pk
    coffee.refresh_from_db()
    assert coffee.stock == 2
    # Past the 30 days a completion is no longer tried.
    assert challenge_rewards_owed(now=timezone.now() + timedelta(days=31)) == 0


def test_a_completion_taken_back_before_its_voucher_went_out_is_owed_nothing(
    shopper, program, django_capture_on_commit_callbacks
):
    from campaigns.challenges import challenge_rewards_owed
    from rewards.models import Reward, Voucher
    from tests.rewards.conftest import make_reward

    coffee = make_reward(stock=0)
    once = make_challenge("purchase_count", "1", opt_in=False, reward=coffee, reward_points=0)
    with django_capture_on_commit_callbacks(execute=True):
        sale = buy(shopper, "R-1", timezone.now() - timedelta(minutes=1))
    ChallengeAward.objects.filter(challenge=once).update(reversed_at=timezone.now())
    Reward.objects.filter(pk=coffee.pk).update(stock=3)
    assert sale.record_id
    assert challenge_rewards_owed(now=timezone.now()) == 0
    assert not Voucher.objects.filter(member=shopper).exists()
