"""Real threads against PostgreSQL: an event reported several times at once
pays once, and a cap of one event a day holds under concurrent reports."""

from __future__ import annotations

import pytest

from campaigns.events import event_record
from campaigns.models import MemberEvent
from loyalty.actors import Actor
from loyalty.services import program_settings_update
from members.checks import ledger_problems
from members.models import PointsEntry
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory
from tests.members.test_ledger_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _post(member, reference):
    return event_record(
        member=member, name="review", reference=reference, occurred_at=None, actor=Actor.system()
    )


def test_one_reference_posted_ten_times_at_once_pays_once():
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    make_campaign("event", params={"event": "review", "points": 20})
    member = MemberFactory(user=None, email="race@example.com")
    results = run_at_once(10, lambda i: _post(member, "same-review"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(not r.replayed for r in results) == 1
    assert {r.response["balance"] for r in results} == {20}
    assert MemberEvent.objects.count() == 1
    assert list(PointsEntry.objects.values_list("points", flat=True)) == [20]
    assert ledger_problems() == []


def test_a_cap_of_one_review_a_day_holds_under_ten_concurrent_reviews():
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    make_campaign(
        "event", params={"event": "review", "points": 20}, per_member_cap=20, cap_period="day"
    )
    member = MemberFactory(user=None, email="cap@example.com")
    results = run_at_once(10, lambda i: _post(member, f"review-{i}"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(len(r.response["awards"]) for r in results) == [0] * 9 + [1]
    assert MemberEvent.objects.count() == 10
    assert list(PointsEntry.objects.values_list("points", flat=True)) == [20]
    assert ledger_problems() == []
