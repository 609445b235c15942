"""The ledger rules of DESIGN.md §4, with the numbers of issue 3."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.services import program_settings_update
from members import ledger
from members.checks import ledger_problems, points_problems
from members.errors import InsufficientPoints
from members.ledger import Source
from members.models import EntryKind, PointsAccount, PointsEntry
from members.points import points_adjust, points_earn, points_pay, points_refund, points_reverse
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(days=800)


@pytest.fixture
def member(db):
    return MemberFactory(user=None, email="lots@example.com")


def settings_with(**changes):
    return program_settings_update(actor=Actor.system(), **changes)


def earn(member, points: int, at, program, ref: str = "p"):
    return points_earn(
        member=member,
        points=points,
        kind=EntryKind.EARN,
        description="Purchase",
        source=Source("purchase", ref),
        occurred_at=at,
        now=at,
        program=program,
    )


def account(member) -> PointsAccount:
    return PointsAccount.objects.get(member=member)


def test_pending_points_become_spendable_on_day_14_not_13(member):
    program = settings_with(pending_days=14, expiry_days=365)
    earn(member, 100, T0, program)
    assert (account(member).balance, account(member).pending) == (0, 100)

    call_command(
        "run_jobs",
        "release_pending",
        "--as-of",
        (T0 + timedelta(days=13)).isoformat(),
        stdout=StringIO(),
    )
    assert (account(member).balance, account(member).pending) == (0, 100)

    call_command(
        "run_jobs",
        "release_pending",
        "--as-of",
        (T0 + timedelta(days=14)).isoformat(),
        stdout=StringIO(),
    )
    assert (account(member).balance, account(member).pending) == (100, 0)
    release = PointsEntry.objects.get(member=member, kind="release")
    assert release.expires_at == T0 + timedelta(days=14 + 365)
    # The same job again changes nothing.
    call_command(
        "run_jobs",
        "release_pending",
        "--as-of",
        (T0 + timedelta(days=14)).isoformat(),
        stdout=StringIO(),
    )
    assert PointsEntry.objects.filter(member=member, kind="release").count() == 1
    assert ledger_problems() == []


def test_fifo_consumption_and_expiry_with_the_numbers_of_the_issue(member):
    program = settings_with(pending_days=0, expiry_days=365)
    first = earn(member, 575, T0, program, "a")
    points_pay(
        member=member,
        points=500,
        description="Reward",
        source=Source("reward", "1"),
        now=T0 + timedelta(days=1),
    )
    second = earn(member, 805, T0 + timedelta(days=2), program, "b")
    points_pay(
        member=member,
        points=500,
        description="Reward",
        source=Source("reward", "2"),
        now=T0 + timedelta(days=3),
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.remaining, second.remaining) == (0, 380)

    call_command(
        "run_jobs",
        "expire_points",
        "--as-of",
        (T0 + timedelta(days=366)).isoformat(),
        stdout=StringIO(),
    )
    assert account(member).balance == 380  # the first lot was empty: nothing expires
    call_command(
        "run_jobs",
        "expire_points",
        "--as-of",
        (T0 + timedelta(days=367)).isoformat(),
        stdout=StringIO(),
    )
    expire = PointsEntry.objects.get(member=member, kind="expire")
    assert (expire.points, expire.balance_after) == (-380, 0)
    assert account(member).balance == 0 and account(member).expired == 380
    call_command(
        "run_jobs",
        "expire_points",
        "--as-of",
        (T0 + timedelta(days=367)).isoformat(),
        stdout=StringIO(),
    )
    assert PointsEntry.objects.filter(member=member, kind="expire").count() == 1
    assert ledger_problems() == []


def test_a_debit_above_the_balance_is_refused_and_writes_nothing(member):
    program = settings_with(pending_days=0, expiry_days=None)
    earn(member, 50, T0, program)
    with pytest.raises(InsufficientPoints):
        points_pay(member=member, points=51, description="x", source=Source(), now=T0)
    assert account(member).balance == 50
    assert PointsEntry.objects.filter(member=member).count() == 1


def test_a_return_after_spending_leaves_a_clawback_paid_by_later_earnings(member):
    program = settings_with(pending_days=0, expiry_days=None)
    earn(member, 100, T0, program, "sale")
    points_pay(member=member, points=80, description="Reward", source=Source("reward", "1"), now=T0)
    reversal = points_reverse(
        member=member, points=100, description="Return", source=Source("purchase", "sale"), now=T0
    )
    assert (reversal.available, reversal.clawback) == (20, 80)
    assert account(member).balance == 0 and account(member).clawback_owed == 80

    earn(member, 50, T0 + timedelta(days=1), program, "next")
    assert account(member).balance == 0 and account(member).clawback_owed == 30
    earn(member, 50, T0 + timedelta(days=2), program, "later")
    assert account(member).balance == 20 and account(member).clawback_owed == 0
    assert PointsEntry.objects.filter(member=member, kind="clawback").count() == 2
    assert points_problems() == []  # a reversal with no sale behind it


def test_a_return_reverses_pending_points_first(member):
    program = settings_with(pending_days=14, expiry_days=None)
    earn(member, 100, T0, program, "sale")
    reversal = points_reverse(
        member=member, points=40, description="Return", source=Source("purchase", "sale"), now=T0
    )
    assert (reversal.pending, reversal.available, reversal.clawback) == (40, 0, 0)
    assert account(member).pending == 60
    ledger.points_release_due(as_of=T0 + timedelta(days=14), expiry_days=None)
    assert (account(member).balance, account(member).pending) == (60, 0)
    assert ledger_problems() == []


def test_an_idempotency_key_posts_once(member):
    first = ledger.points_credit(
        member_id=member.pk, points=10, kind=EntryKind.BONUS, now=T0, idempotency_key="bonus:1"
    )
    again = ledger.points_credit(
        member_id=member.pk, points=10, kind=EntryKind.BONUS, now=T0, idempotency_key="bonus:1"
    )
    assert first.pk == again.pk and account(member).balance == 10


def test_ledger_check_names_a_broken_account(member):
    program = settings_with(pending_days=0, expiry_days=None)
    earn(member, 10, T0, program)
    out = StringIO()
    call_command("ledger_check", stdout=out)
    assert "Ledger sound" in out.getvalue()
    PointsAccount.objects.filter(member=member).update(balance=11)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=StringIO(), stderr=err)
    assert member.public_id in err.getvalue()


def test_tier_multiplier_numbers_are_decimal_exact():
    from purchases.earning import sale_awards

    awards = sale_awards(
        eligible_amount=Decimal("100.99"),
        earn_points=1,
        earn_per_amount=Decimal("1.00"),
        tier_name="Silver",
        tier_multiplier=Decimal("1.5"),
    )
    assert [a.points for a in awards] == [100, 50]


def test_a_goodwill_adjustment_does_not_pay_a_clawback_but_a_later_earn_does(member):
    program = settings_with(pending_days=0, expiry_days=None)
    earn(member, 100, T0, program, "sale")
    points_pay(member=member, points=100, description="Reward", source=Source("r", "1"), now=T0)
    points_reverse(
        member=member, points=100, description="Return", source=Source("purchase", "sale"), now=T0
    )
    assert account(member).clawback_owed == 100

    points_adjust(
        actor=Actor.system(),
        member=member,
        points=40,
        reason="Goodwill",
        now=T0 + timedelta(days=1),
    )
    assert (account(member).balance, account(member).clawback_owed) == (40, 100)
    assert not PointsEntry.objects.filter(member=member, kind="clawback").exists()

    earn(member, 150, T0 + timedelta(days=2), program, "next")
    assert (account(member).balance, account(member).clawback_owed) == (90, 0)
    clawback = PointsEntry.objects.get(member=member, kind="clawback")
    assert (clawback.points, clawback.balance_after) == (-100, 90)
    assert points_problems() == []  # a reversal with no sale behind it


def test_a_refund_of_points_spent_does_not_pay_a_clawback(member):
    program = settings_with(pending_days=0, expiry_days=None)
    earn(member, 100, T0, program, "sale")
    points_pay(member=member, points=100, description="Reward", source=Source("r", "1"), now=T0)
    points_reverse(
        member=member, points=100, description="Return", source=Source("purchase", "sale"), now=T0
    )
    points_refund(
        member=member,
        points=100,
        description="Cancelled",
        source=Source("r", "1"),
        now=T0,
        program=program,
    )
    assert (account(member).balance, account(member).clawback_owed) == (100, 100)


def test_a_clawback_takes_at_most_the_points_just_earned(member):
    program = settings_with(pending_days=0, expiry_days=None)
    earn(member, 100, T0, program, "sale")
    points_pay(member=member, points=100, description="Reward", source=Source("r", "1"), now=T0)
    points_reverse(
        member=member, points=100, description="Return", source=Source("purchase", "sale"), now=T0
    )
    points_adjust(actor=Actor.system(), member=member, points=40, reason="Goodwill", now=T0)
    earn(member, 30, T0 + timedelta(days=1), program, "next")
    assert (account(member).balance, account(member).clawback_owed) == (40, 70)


def test_released_points_pay_a_clawback_owed(member):
    program = settings_with(pending_days=14, expiry_days=None)
    earn(member, 50, T0, program, "first")
    released = T0 + timedelta(days=14)
    ledger.points_release_due(as_of=released, expiry_days=None)
    points_pay(
        member=member, points=50, description="Reward", source=Source("r", "1"), now=released
    )
    points_reverse(
        member=member,
        points=50,
        description="Return",
        source=Source("purchase", "first"),
        now=released,
    )
    earn(member, 80, T0 + timedelta(days=15), program, "second")
    assert account(member).clawback_owed == 50
    ledger.points_release_due(as_of=T0 + timedelta(days=29), expiry_days=None)
    assert (account(member).balance, account(member).clawback_owed) == (30, 0)
    assert points_problems() == []  # a reversal with no sale behind it


def test_a_debit_expires_the_lots_past_their_expiry_first_and_cannot_spend_them(member):
    program = settings_with(pending_days=0, expiry_days=30)
    lot = earn(member, 100, T0, program, "old")
    earn(member, 20, T0 + timedelta(days=20), program, "new")
    # The expiry job has not run yet: the balance still counts the old lot.
    assert account(member).balance == 120

    with pytest.raises(InsufficientPoints):
        points_pay(
            member=member, points=50, description="x", source=Source(), now=T0 + timedelta(days=31)
        )
    # Refused, and nothing written: the job still finds the old lot to expire.
    assert account(member).balance == 120
    assert not PointsEntry.objects.filter(member=member, kind="expire").exists()

    points_pay(
        member=member, points=15, description="x", source=Source(), now=T0 + timedelta(days=31)
    )
    expire = PointsEntry.objects.get(member=member, kind="expire")
    assert (expire.points, expire.balance_after, expire.lot_id) == (-100, 20, lot.pk)
    assert expire.idempotency_key == f"expire:{lot.pk}"
    assert expire.created_at == T0 + timedelta(days=31)
    assert expire.expires_at == T0 + timedelta(days=30)
    assert (account(member).balance, account(member).expired) == (5, 100)

    # The job later finds nothing more to expire for that lot.
    assert ledger.points_expire_due(as_of=T0 + timedelta(days=32)) == 0
    assert ledger_problems() == []


def test_points_earned_already_past_their_expiry_expire_at_once(member):
    program = settings_with(pending_days=0, expiry_days=365)
    now = T0 + timedelta(days=400)
    entry = points_earn(
        member=member,
        points=70,
        kind=EntryKind.EARN,
        description="Purchase",
        source=Source("purchase", "old"),
        occurred_at=T0,
        now=now,
        program=program,
    )
    entry.refresh_from_db()
    assert entry.expires_at == T0 + timedelta(days=365) and entry.remaining == 0
    expire = PointsEntry.objects.get(member=member, kind="expire")
    assert (expire.points, expire.balance_after, expire.created_at) == (-70, 0, now)
    assert (account(member).balance, account(member).expired) == (0, 70)
    assert account(member).lifetime_earned == 70
    assert ledger_problems() == []


def test_a_late_expiry_job_dates_its_entry_when_it_runs_so_history_stays_in_order(member):
    program = settings_with(pending_days=0, expiry_days=30)
    earn(member, 100, T0, program, "a")
    # An earn after the first lot's expiry, before the job ran.
    earn(member, 40, T0 + timedelta(days=35), program, "b")
    ledger.points_expire_due(as_of=T0 + timedelta(days=40))

    history = list(PointsEntry.objects.filter(member=member).order_by("created_at", "id"))
    assert [(e.kind, e.points, e.balance_after) for e in history] == [
        ("earn", 100, 100),
        ("earn", 40, 140),
        ("expire", -100, 40),
    ]
    assert history[-1].created_at == T0 + timedelta(days=40)
    assert history[-1].expires_at == T0 + timedelta(days=30)


def test_a_replay_of_an_earlier_night_dates_its_entries_after_the_latest_one(member):
    program = settings_with(pending_days=0, expiry_days=30)
    earn(member, 100, T0, program, "a")
    earn(member, 40, T0 + timedelta(days=35), program, "b")
    ledger.points_expire_due(as_of=T0 + timedelta(days=31))

    expire = PointsEntry.objects.get(member=member, kind="expire")
    assert expire.created_at == T0 + timedelta(days=35)
    assert expire.balance_after == 40


def test_a_late_release_is_dated_when_it_runs_and_keeps_the_expiry_of_its_due_time(member):
    program = settings_with(pending_days=14, expiry_days=365)
    earn(member, 100, T0, program, "a")
    ledger.points_release_due(as_of=T0 + timedelta(days=20), expiry_days=365)
    release = PointsEntry.objects.get(member=member, kind="release")
    assert release.created_at == T0 + timedelta(days=20)
    assert release.available_at == T0 + timedelta(days=14)
    assert release.expires_at == T0 + timedelta(days=14 + 365)
    assert ledger_problems() == []


def test_a_refund_of_points_paid_takes_them_off_redeemed(member):
    """A cancelled redemption or a returned sale paid with points: the points
    are no longer redeemed (issue 8)."""
    program = settings_with(expiry_days=365)
    earn(member, 100, T0, program)
    points_pay(member=member, points=60, description="Reward", source=Source("r", "1"), now=T0)
    assert account(member).redeemed == 60
    points_refund(
        member=member,
        points=60,
        description="Cancelled",
        source=Source("r", "1"),
        now=T0,
        program=program,
    )
    assert (account(member).redeemed, account(member).balance) == (0, 100)
    assert ledger_problems() == []


@pytest.mark.parametrize(
    ("counter", "named"),
    [
        ("lifetime_earned", "lifetime_earned 99 but the entries say 100"),
        ("redeemed", "redeemed 99 but the entries say 30"),
        ("expired", "expired 99 but the entries say 0"),
    ],
)
def test_ledger_check_holds_each_counter_against_the_entries(member, counter, named):
    program = settings_with(pending_days=0, expiry_days=None)
    earn(member, 100, T0, program)
    points_pay(member=member, points=30, description="Reward", source=Source("r", "1"), now=T0)
    assert ledger_problems() == []
    PointsAccount.objects.filter(member=member).update(**{counter: 99})
    assert f"{member.public_id}: {named}" in ledger_problems()


def test_ledger_check_follows_each_balance_after_as_a_running_total(member):
    program = settings_with(pending_days=0, expiry_days=None)
    first = earn(member, 100, T0, program, "a")
    earn(member, 50, T0 + timedelta(days=1), program, "b")
    # The first entry now claims a balance its history does not add up to,
    # though the account and the lots still agree.
    PointsEntry.objects.filter(pk=first.pk).update(balance_after=150)
    assert ledger_problems() == [
        f"{member.public_id}: entry {first.pk} (earn) says balance 150 after it, "
        "the history adds up to 100"
    ]


def test_the_release_and_expiry_jobs_write_every_lot_across_chunks(monkeypatch):
    """Chunks of at most 2 members and 3 lots (one member alone when they
    have more): every due lot of every member is released, then expired,
    once, with the balances the entries add up to."""
    monkeypatch.setattr(ledger, "JOB_MEMBERS", 2)
    monkeypatch.setattr(ledger, "JOB_LOTS", 3)
    program = settings_with(pending_days=14, expiry_days=30)
    members = [MemberFactory(user=None, email=f"chunk{n}@example.com") for n in range(5)]
    for n, member in enumerate(members):
        for k in range(n + 1):
            earn(member, 10 + k, T0 + timedelta(days=k), program, ref=f"{n}-{k}")
    lots = sum(n + 1 for n in range(5))
    assert ledger.points_release_due(as_of=T0 + timedelta(days=30), expiry_days=30) == lots
    assert {account(m).pending for m in members} == {0}
    assert ledger.points_expire_due(as_of=T0 + timedelta(days=100)) == sum(
        10 + k for n in range(5) for k in range(n + 1)
    )
    assert {account(m).balance for m in members} == {0}
    assert PointsEntry.objects.filter(kind=EntryKind.EXPIRE).count() == lots
    assert ledger.points_expire_due(as_of=T0 + timedelta(days=100)) == 0
    assert ledger_problems() == []
