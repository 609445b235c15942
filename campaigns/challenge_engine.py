"""How a challenge's progress moves: pure functions, no database access.

campaigns.challenges reads the rows, calls these and writes what they return,
in the transaction of the sale, return, event or referral that moves them.

What a sale (or event, or referral) adds to one challenge is its
`Contribution`: a count of 1, an amount (the sale's total, or its lines in
the goal's categories or SKUs), the store, the week. It is stored with the
sale (Purchase.challenges), so a return takes back exactly its share
(`contribution_left`): the amount in proportion to what is left of the sale,
the count, the store and the week only once the sale is back in full.

A participation's `Progress` is the round's measure and the `state` needed to
move it both ways: `stores` (visits per store) for stores_visited, `weeks`
(purchases per week) for weekly_streak, `milestones` (streak lengths paid).
A streak is recomputed from its weeks: consecutive weeks with a purchase,
where up to `freezes` missed weeks in all are forgiven; a longer gap starts
it again from the week after it. Weeks are counted in the program's time zone
from Monday 1970-01-05 (`week_of`).

Rules kept here (and proved by tests/campaigns/test_challenge_engine.py):
- a round completes once: `completed` is True on the one move that takes an
  in-progress round to its target;
- a completed round stays completed when a return takes progress back;
- a repeatable challenge's next round starts with the first contribution
  after a completion; a weekly streak is never repeatable (it goes on after
  its target, for its milestones);
- each milestone is paid once per round, the first time the streak reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from loyalty.money import CENT

ZERO = Decimal("0.00")
WEEK_ZERO = date(1970, 1, 5)  # a Monday

PURCHASE_COUNT = "purchase_count"
SPEND = "spend"
CATEGORY_SPEND = "category_spend"
STORES_VISITED = "stores_visited"
REFERRALS = "referrals"
EVENT_COUNT = "event_count"
WEEKLY_STREAK = "weekly_streak"
SALE_GOALS = frozenset({PURCHASE_COUNT, SPEND, CATEGORY_SPEND, STORES_VISITED, WEEKLY_STREAK})
IN_PROGRESS = "in_progress"
COMPLETED = "completed"


def week_of(moment: datetime) -> int:
    """The week `moment` falls in, in the program's time zone (weeks start on Monday)."""
    return (timezone.localtime(moment).date() - WEEK_ZERO).days // 7


@dataclass(frozen=True)
class ChallengeSnapshot:
    """What the engine and the sale path need of a challenge (kept in the
    configuration cache: read-only)."""

    id: int
    name: str
    goal: str
    target: Decimal
    starts_at: datetime
    ends_at: datetime | None
    rolling_days: int | None
    opt_in: bool
    tier_ids: frozenset[int]
    segment_id: int | None
    repeatable: bool
    categories: frozenset[str] = frozenset()
    skus: frozenset[str] = frozenset()
    event: str = ""
    freezes: int = 0
    milestones: tuple[tuple[int, int], ...] = ()  # (weeks, points), by weeks
    reward_points: int = 0
    badge_id: int | None = None
    reward_id: int | None = None

    def live_at(self, moment: datetime) -> bool:
        return self.starts_at <= moment and (self.ends_at is None or moment < self.ends_at)

    def admits(self, tier_id: int | None) -> bool:
        """Whether a member of `tier_id` may be in the audience (its segment aside)."""
        return not self.tier_ids or tier_id in self.tier_ids

    def window_end(self, joined_at: datetime) -> datetime | None:
        """Where a participation that started at `joined_at` ends."""
        if self.rolling_days is None:
            return self.ends_at
        end = joined_at + timedelta(days=self.rolling_days)
        return end if self.ends_at is None else min(end, self.ends_at)


@dataclass(frozen=True)
class SaleLine:
    sku: str
    category: str
    net: Decimal  # what the line cost after its share of the sale's discount


@dataclass(frozen=True)
class Contribution:
    """What one sale, event or referral adds to one challenge's round."""

    round: int
    count: int = 1
    amount: Decimal = ZERO
    store: str = ""
    week: int | None = None

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {"round": self.round, "count": self.count}
        if self.amount:
            data["amount"] = str(self.amount)
        if self.store:
            data["store"] = self.store
        if self.week is not None:
            data["week"] = self.week
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Contribution:
        week = data.get("week")
        return cls(
            round=int(data["round"]),  # type: ignore[call-overload]
            count=int(data.get("count", 1)),  # type: ignore[call-overload]
            amount=Decimal(str(data.get("amount", "0.00"))),
            store=str(data.get("store", "")),
            week=int(week) if week is not None else None,  # type: ignore[call-overload]
        )


def sale_contribution(
    challenge: ChallengeSnapshot,
    *,
    round: int,
    total: Decimal,
    lines: list[SaleLine],
    store_id: int,
    at: datetime,
) -> Contribution | None:
    """What a sale of `total` (its `lines`) at `store_id` at `at` adds to the
    challenge; None when it adds nothing (a category goal none of its lines
    is in, a sale of nothing)."""
    goal = challenge.goal
    if goal == SPEND:
        return Contribution(round=round, amount=total) if total > 0 else None
    if goal == CATEGORY_SPEND:
        amount = sum(
            (
                line.net
                for line in lines
                if line.category in challenge.categories or line.sku in challenge.skus
            ),
            ZERO,
        )
        return Contribution(round=round, amount=amount) if amount > 0 else None
    if goal == STORES_VISITED:
        return Contribution(round=round, store=str(store_id))
    if goal == WEEKLY_STREAK:
        return Contribution(round=round, week=week_of(at))
    if goal == PURCHASE_COUNT:
        return Contribution(round=round)
    return None


def contribution_left(
    contribution: Contribution, *, returned: Decimal, total: Decimal
) -> Contribution:
    """What is left of a sale's contribution once `returned` of its `total`
    (everything returned so far) is back: the amount in proportion, rounded
    to the cent (all of it back with the whole sale), the count, store and
    week while anything of the sale is kept."""
    whole = total <= 0 or returned >= total
    if whole:
        return replace(contribution, count=0, amount=ZERO)
    amount = (contribution.amount * (total - returned) / total).quantize(CENT)
    return replace(contribution, amount=amount)


@dataclass(frozen=True)
class Progress:
    """One participation's round, as stored."""

    round: int = 1
    status: str = IN_PROGRESS
    progress: Decimal = ZERO
    joined_at: datetime | None = None
    ends_at: datetime | None = None
    reached_at: datetime | None = None
    completed_at: datetime | None = None
    times_completed: int = 0
    streak_week: int | None = None
    state: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Moved:
    """The outcome of one move: the new progress, whether this move completed
    the round, and the streak milestones (weeks, points) it reached."""

    progress: Progress
    completed: bool = False
    milestones: tuple[tuple[int, int], ...] = ()


def new_round(
    challenge: ChallengeSnapshot, *, at: datetime, after: Progress | None = None
) -> Progress:
    """A fresh round that starts at `at` (the first, or the one after `after`)."""
    return Progress(
        round=after.round + 1 if after is not None else 1,
        joined_at=at,
        ends_at=challenge.window_end(at),
        times_completed=after.times_completed if after is not None else 0,
    )


def round_for(
    challenge: ChallengeSnapshot, current: Progress | None, at: datetime
) -> Progress | None:
    """The round a contribution at `at` goes to: the current one while it is
    open; a new one for a repeatable challenge after a completion, or for an
    automatic challenge after the current round's window ended (an opt-in
    member joins again); None when nothing at `at` counts (before joining,
    after the window of a round that cannot restart, completed for good)."""
    if current is None:
        return new_round(challenge, at=at)
    if current.joined_at is not None and at < current.joined_at:
        return None
    open_window = current.ends_at is None or at < current.ends_at
    if current.status == COMPLETED:
        if challenge.goal == WEEKLY_STREAK:
            return current if open_window else None
        if challenge.repeatable:
            return new_round(challenge, at=at, after=current)
        return None
    if open_window:
        return current
    if not challenge.opt_in:
        return new_round(challenge, at=at, after=current)
    return None


def streak_of(weeks: dict[str, int], freezes: int) -> tuple[int, int, int | None, int | None]:
    """(streak length in weeks with a purchase, freezes used, last week, first
    week of the streak) of the weeks with a purchase (counts by week number)."""
    streak, used, last, first = 0, 0, None, None
    for week in sorted(int(w) for w, n in weeks.items() if n > 0):
        if last is None:
            streak, first = 1, week
        elif week - last - 1 <= freezes - used:
            used += week - last - 1
            streak += 1
        else:
            streak, used, first = 1, 0, week
        last = week
    return streak, used, last, first


def streak_broken(progress: Progress, *, freezes: int, now_week: int) -> bool:
    """Whether the streak can no longer go on at `now_week`: more weeks missed
    since its last purchase than it has freezes left."""
    if progress.streak_week is None:
        return False
    used = int(progress.state.get("freezes_used", 0))
    return now_week - progress.streak_week - 1 > freezes - used


def _measure(
    challenge: ChallengeSnapshot, progress: Progress, state: dict
) -> tuple[Decimal, Progress]:
    """The measure of `state` and the progress with its streak fields."""
    if challenge.goal == STORES_VISITED:
        return Decimal(sum(1 for n in state.get("stores", {}).values() if n > 0)), progress
    if challenge.goal == WEEKLY_STREAK:
        streak, used, last, first = streak_of(state.get("weeks", {}), challenge.freezes)
        # Weeks before the streak's first can never count again: not kept.
        if first is not None:
            state["weeks"] = {w: n for w, n in state["weeks"].items() if int(w) >= first and n > 0}
        state["freezes_used"] = used
        return Decimal(streak), replace(progress, streak_week=last)
    return Decimal(state.get("total", "0.00")), progress


def contribution_apply(
    challenge: ChallengeSnapshot,
    progress: Progress,
    contribution: Contribution,
    *,
    sign: int,
    at: datetime,
) -> Moved:
    """`progress` with `contribution` added (`sign` 1) or taken back (-1) at
    `at`. Completes the round when an in-progress round reaches its target."""
    state = {
        "stores": dict(progress.state.get("stores", {})),
        "weeks": dict(progress.state.get("weeks", {})),
        "milestones": list(progress.state.get("milestones", [])),
        "total": progress.state.get("total", "0.00"),
        "freezes_used": progress.state.get("freezes_used", 0),
    }
    if challenge.goal == STORES_VISITED:
        key = contribution.store
        state["stores"][key] = max(0, state["stores"].get(key, 0) + sign * contribution.count)
    elif challenge.goal == WEEKLY_STREAK and contribution.week is not None:
        key = str(contribution.week)
        state["weeks"][key] = max(0, state["weeks"].get(key, 0) + sign * contribution.count)
    elif challenge.goal in (SPEND, CATEGORY_SPEND):
        state["total"] = str(max(ZERO, Decimal(state["total"]) + sign * contribution.amount))
    else:
        state["total"] = str(max(ZERO, Decimal(state["total"]) + sign * contribution.count))
    state = {name: value for name, value in state.items() if value not in ({}, [], "0.00", 0)}
    measure, progress = _measure(challenge, progress, state)
    reached_at = progress.reached_at if measure == progress.progress else at
    moved = replace(progress, progress=measure, state=state, reached_at=reached_at)
    completed = moved.status == IN_PROGRESS and measure >= challenge.target
    if completed:
        moved = replace(
            moved,
            status=COMPLETED,
            completed_at=at,
            times_completed=moved.times_completed + 1,
        )
    milestones: tuple[tuple[int, int], ...] = ()
    if challenge.goal == WEEKLY_STREAK and sign > 0:
        paid = set(state.get("milestones", []))
        milestones = tuple(
            (weeks, points)
            for weeks, points in challenge.milestones
            if weeks <= measure and weeks not in paid
        )
        if milestones:
            state["milestones"] = sorted(paid | {weeks for weeks, _points in milestones})
            moved = replace(moved, state=state)
    return Moved(progress=moved, completed=completed, milestones=milestones)
