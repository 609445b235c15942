"""Real threads against PostgreSQL: a challenge's completion is paid once,
however many tills post the completing sale at the same moment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.challenges import challenge_join
from campaigns.models import ChallengeAward, ChallengeParticipation, MemberBadge
from members.checks import ledger_problems
from members.models import PointsEntry
from tests.campaigns.challenge_helpers import buy, make_badge, make_challenge
from tests.factories import MemberFactory
from tests.members.test_ledger_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_of_three(program):
    """A member two purchases into a 3-purchases-in-30-days challenge."""
    challenge = make_challenge(
        "purchase_count", "3", rolling_days=30, badge=make_badge("Regular"), reward_points=100
    )
    member = MemberFactory(user=None, email="race@example.com")
    joined = timezone.now() - timedelta(days=30)
    challenge_join(member=member, challenge=challenge, now=joined)
    buy(member, "R-1", joined + timedelta(days=1))
    buy(member, "R-2", joined + timedelta(days=2))
    return challenge, member, joined


def _paid_once(challenge, member) -> None:
    row = ChallengeParticipation.objects.get(challenge=challenge, member=member)
    assert (row.status, row.times_completed) == ("completed", 1)
    assert ChallengeAward.objects.filter(challenge=challenge, member=member).count() == 1
    assert MemberBadge.objects.get(member=member).times == 1
    points = PointsEntry.objects.filter(member=member, source_type="challenge")
    assert list(points.values_list("points", flat=True)) == [100]
    assert ledger_problems() == []


def test_the_completing_sale_posted_8_times_at_once_with_one_receipt_completes_once(
    two_of_three,
):
    challenge, member, joined = two_of_three
    at = joined + timedelta(days=29)
    results = run_at_once(8, lambda _i: buy(member, "R-3", at))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(1 for r in results if not r.replayed) == 1
    _paid_once(challenge, member)


def test_the_completing_sale_posted_twice_at_once_with_one_idempotency_key_completes_once(
    two_of_three,
):
    from tests.conftest import api_client_for
    from tests.purchases.conftest import sale

    challenge, member, joined = two_of_three
    till = api_client_for("pos")
    body = sale("R-3", ("TEA", 1, "10.00"), member=member)
    body["occurred_at"] = (joined + timedelta(days=29)).isoformat()
    responses = run_at_once(
        2,
        lambda _i: till.post(
            "/api/v1/purchases", body, format="json", HTTP_IDEMPOTENCY_KEY="till-7-r3"
        ),
    )
    assert sorted(r.status_code for r in responses) == [201, 201], responses
    _paid_once(challenge, member)


def test_three_different_completing_sales_at_once_complete_once(two_of_three):
    challenge, member, joined = two_of_three
    at = joined + timedelta(days=20)
    results = run_at_once(3, lambda i: buy(member, f"R-3-{i}", at + timedelta(minutes=i)))
    assert not [r for r in results if isinstance(r, Exception)], results
    _paid_once(challenge, member)
    row = ChallengeParticipation.objects.get(challenge=challenge, member=member)
    assert row.progress == 3  # a completed round stops counting
