"""Real threads against PostgreSQL: refreshes of the same days at once (the
job, a rebuild, a manual run) wait for one another on the one roll-up lock
and leave the rows one refresh leaves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import ActiveCell, BuyerCell, StoreDay
from analytics.rollups import rollups_refresh, rollups_run
from loyalty.actors import Actor
from loyalty.services import program_settings_update
from tests.analytics.factories import bought
from tests.factories import MemberFactory, StoreFactory
from tests.members.test_ledger_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_six_refreshes_of_the_same_days_at_once_all_succeed_with_one_result():
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    store = StoreFactory(code="klcc")
    now = timezone.now()
    for i in range(4):
        member = MemberFactory(user=None, email=f"race{i}@example.com")
        for days in (1, 2, 35):
            bought(member, store, at=now - timedelta(days=days, hours=i))
    start, end = timezone.localdate() - timedelta(days=40), timezone.localdate()
    rollups_refresh(start=start, end=end, whole_months=True)
    alone = sorted(StoreDay.objects.values_list("day", "sales", "amount"))
    cells = sorted(BuyerCell.objects.values_list("store_key", "month", "members"))
    active = sorted(ActiveCell.objects.values_list("store_key", "day", "prev_day", "members"))

    def refresh(i: int):
        if i % 3 == 0:
            return rollups_run(as_of=timezone.now())
        return rollups_refresh(start=start, end=end, whole_months=i % 3 == 1)

    results = run_at_once(6, refresh)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(StoreDay.objects.values_list("day", "sales", "amount")) == alone
    assert sorted(BuyerCell.objects.values_list("store_key", "month", "members")) == cells
    assert (
        sorted(ActiveCell.objects.values_list("store_key", "day", "prev_day", "members")) == active
    )
