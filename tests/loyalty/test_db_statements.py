"""The statements built once per process (loyalty.db) read and write what the
ORM would: Lookup.all with its IN column, and upsert_many."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import ChallengeParticipation
from loyalty.db import Lookup, upsert_many
from tests.campaigns.challenge_helpers import make_challenge
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

_ROWS = Lookup(ChallengeParticipation, "member_id", within="challenge_id")
_FIELDS = ["progress", "state", "updated_at"]


def _row(challenge, member, progress: str, **state) -> ChallengeParticipation:
    return ChallengeParticipation(
        challenge_id=challenge.pk,
        member_id=member.pk,
        progress=Decimal(progress),
        state=state,
        joined_at=timezone.now() - timedelta(days=1),
    )


def test_upsert_many_inserts_new_rows_and_updates_only_the_named_fields_of_existing_ones():
    member = MemberFactory()
    first, second = make_challenge(name="One"), make_challenge(name="Two")
    upsert_many(
        [_row(first, member, "1.50", weeks=[1])], unique=("challenge", "member"), update=_FIELDS
    )
    joined = ChallengeParticipation.objects.get(challenge=first).joined_at

    later = _row(first, member, "2.00", weeks=[1, 2])
    later.joined_at = timezone.now()  # not among the updated fields: kept as it was
    upsert_many(
        [later, _row(second, member, "7", moved_by="purchase:9")],
        unique=("challenge", "member"),
        update=_FIELDS,
    )

    rows = {r.challenge_id: r for r in ChallengeParticipation.objects.filter(member=member)}
    assert len(rows) == 2
    assert rows[first.pk].progress == Decimal("2.00")
    assert rows[first.pk].state == {"weeks": [1, 2]}
    assert rows[first.pk].joined_at == joined
    assert rows[second.pk].state == {"moved_by": "purchase:9"}


def test_lookup_all_gives_the_rows_the_orm_gives_with_their_types():
    member, other = MemberFactory(), MemberFactory()
    first, second, third = (make_challenge(name=n) for n in ("One", "Two", "Three"))
    rows = [
        _row(first, member, "3.25", weeks=[4]),
        _row(second, member, "1"),
        _row(third, member, "9"),
        _row(first, other, "5"),
    ]
    upsert_many(rows, unique=("challenge", "member"), update=_FIELDS)

    found = _ROWS.all(member.pk, within=[first.pk, second.pk])
    expected = ChallengeParticipation.objects.filter(member=member, challenge__in=[first, second])
    key = lambda r: r.challenge_id  # noqa: E731
    assert [
        (r.pk, r.challenge_id, r.progress, r.state, r.joined_at) for r in sorted(found, key=key)
    ] == [
        (r.pk, r.challenge_id, r.progress, r.state, r.joined_at) for r in sorted(expected, key=key)
    ]
    assert isinstance(found[0].progress, Decimal)
    assert _ROWS.all(member.pk, within=[third.pk])[0].progress == Decimal("9")
    assert _ROWS.all(member.pk, within=[]) == []
    assert _ROWS.all(other.pk, within=[second.pk, third.pk]) == []
