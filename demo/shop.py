"""The demo shop being built, and the timeline its history is replayed on.

Every module of the demo adds to one `Shop`: its stores, tills, staff and
rewards, the one random source every choice is drawn from, and the timeline
of actions (a visit, a return, a correction, a voucher used) that `replay`
plays in time order, with the nightly jobs run at 03:00 of each day in
between and once more as of now.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time

from django.utils import timezone

from demo.loyalty import RECEIPT_PREFIX
from loyalty.actors import Actor
from loyalty.jobs import Job, job_registry
from loyalty.models import Store
from loyalty.roles import Role
from members.models import Member
from rewards.models import Reward

NIGHTLY_JOBS = ("release_pending", "expire_points", "review_tiers", "expire_vouchers")

Action = Callable[[datetime], None]


@dataclass
class Shop:
    """What the demo's modules share while they build the shop; the counters
    are what demo_load reports."""

    rng: random.Random
    now: datetime
    stores: dict[str, Store]
    tills: dict[str, Actor]
    staff: dict[Role, Actor]
    rewards: list[Reward]
    # Members whose rows the sales hold on to: refreshed when the nightly review moves them.
    members: dict[int, Member] = field(default_factory=dict)
    purchases: int = 0
    returns: int = 0
    adjustments: int = 0
    redemptions: int = 0
    _receipts: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _queue: list[tuple[datetime, int, Action]] = field(default_factory=list, init=False, repr=False)
    _sequence: int = field(default=0, init=False, repr=False)

    def at(self, when: datetime, action: Action) -> None:
        """Play `action` at `when` in the replay; what would happen after now never does."""
        if when < self.now:
            self._sequence += 1
            heapq.heappush(self._queue, (when, self._sequence, action))

    def receipt(self, store: str, when: datetime) -> str:
        """The next receipt number of `store` on the day of `when`: 'BGS-260314-00042'."""
        self._receipts[store] = self._receipts.get(store, 0) + 1
        local = timezone.localtime(when)
        return f"{RECEIPT_PREFIX[store]}-{local:%y%m%d}-{self._receipts[store]:05d}"

    def replay(self) -> None:
        """Play every action scheduled, in time order, with the nightly jobs in between."""
        jobs = job_registry()
        night = None
        while self._queue:
            when, _sequence, action = heapq.heappop(self._queue)
            local_day = timezone.localdate(when)
            if local_day != night:
                night = local_day
                self._nightly(jobs, datetime.combine(local_day, time(3, 0), tzinfo=when.tzinfo))
            action(when)
        self._nightly(jobs, self.now)

    def _nightly(self, jobs: dict[str, Job], as_of: datetime) -> None:
        for name in NIGHTLY_JOBS:
            jobs[name](as_of)
        # The tier review may have moved members: sales must see their tier of today.
        tiers = dict(Member.objects.values_list("pk", "tier_id"))
        for member in self.members.values():
            if member.tier_id != tiers[member.pk]:
                member.refresh_from_db(fields=["tier", "tier_since"])
