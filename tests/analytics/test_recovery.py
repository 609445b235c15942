"""Service recovery (analytics.recovery): a follow-up is noted, closed and
maybe pays goodwill points once, as an audited adjustment with the ledger
line "Service recovery" in each reader's language; store staff keep to
their store and the program's adjustment limit; a closed one stays closed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.errors import FollowUpClosed
from analytics.models import GOODWILL_POINTS_MAX, FollowUp, SurveyKind
from analytics.recovery import follow_up_save
from loyalty.actors import Actor
from loyalty.errors import PermissionDenied, ValidationFailed
from loyalty.models import AuditEvent
from members.checks import ledger_problems
from members.errors import AdjustmentLimit
from members.models import PointsEntry
from tests.analytics.factories import answer
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def follow_up(program) -> FollowUp:
    member = MemberFactory(language="ms", first_name="Siti")
    return answer(
        SurveyKind.NPS, 3, member=member, store=program.main_store, comment="Lama sangat"
    ).follow_up


def test_an_open_follow_up_past_its_deadline_is_overdue(follow_up):
    assert not follow_up.is_overdue(follow_up.due_at - timedelta(minutes=1))
    assert follow_up.is_overdue(follow_up.due_at)


def test_a_note_is_saved_then_the_follow_up_closed_each_change_audited(follow_up, manager):
    actor = Actor(user=manager)
    saved = follow_up_save(actor=actor, follow_up=follow_up, note="Left a voicemail")
    assert (saved.status, saved.note, saved.closed_at) == ("open", "Left a voicemail", None)
    closed = follow_up_save(
        actor=actor, follow_up=follow_up, note="Called: apologised for the wait", close=True
    )
    assert closed.status == "closed" and closed.closed_by == manager and closed.closed_at
    update, close = AuditEvent.objects.filter(action__startswith="follow_up.").order_by("id")
    assert update.action == "follow_up.update" and update.after["note"] == "Left a voicemail"
    assert close.action == "follow_up.close"
    assert (close.before["status"], close.after["status"]) == ("open", "closed")
    assert close.actor == manager


def test_closing_needs_a_note_and_a_closed_follow_up_does_not_change(follow_up, manager):
    actor = Actor(user=manager)
    with pytest.raises(ValidationFailed) as refused:
        follow_up_save(actor=actor, follow_up=follow_up, note="  ", close=True)
    assert "note" in refused.value.fields
    follow_up_save(actor=actor, follow_up=follow_up, note="Called", close=True)
    with pytest.raises(FollowUpClosed):
        follow_up_save(actor=actor, follow_up=follow_up, note="Again", goodwill_points=10)
    assert not PointsEntry.objects.exists()


def test_goodwill_points_are_an_audited_adjustment_in_the_members_language(follow_up, manager):
    actor = Actor(user=manager)
    saved = follow_up_save(
        actor=actor, follow_up=follow_up, note="Sent a free kopi", goodwill_points=200, close=True
    )
    entry = PointsEntry.objects.get(member=follow_up.member)
    assert saved.goodwill_entry == entry and saved.goodwill_points == 200
    assert (entry.kind, entry.points, entry.created_by) == ("adjust", 200, manager)
    assert entry.idempotency_key == f"follow_up:{follow_up.pk}:goodwill"
    assert entry.description == "Pemulihan perkhidmatan: mata muhibah"
    with translation.override("en"):
        assert entry.text == "Service recovery: goodwill points"
    follow_up.member.account.refresh_from_db()
    assert follow_up.member.account.balance == 200
    adjust = AuditEvent.objects.get(action="points.adjust")
    assert adjust.after["points"] == 200 and adjust.actor == manager
    assert ledger_problems() == []


def test_goodwill_is_given_once(follow_up, manager):
    actor = Actor(user=manager)
    follow_up_save(actor=actor, follow_up=follow_up, note="", goodwill_points=50)
    with pytest.raises(ValidationFailed) as refused:
        follow_up_save(actor=actor, follow_up=follow_up, note="", goodwill_points=50)
    assert "goodwill_points" in refused.value.fields
    assert PointsEntry.objects.filter(member=follow_up.member).count() == 1


@pytest.mark.parametrize("points", [-1, 10_001, True])
def test_goodwill_out_of_its_bounds_is_refused(follow_up, manager, points):
    with pytest.raises(ValidationFailed):
        follow_up_save(
            actor=Actor(user=manager), follow_up=follow_up, note="x", goodwill_points=points
        )
    assert not PointsEntry.objects.exists()


def test_store_staff_give_goodwill_up_to_the_programs_adjustment_limit(follow_up, store_staff):
    """The program's store-staff limit (default 500): above it a manager is needed."""
    actor = Actor(user=store_staff)
    with pytest.raises(AdjustmentLimit):
        follow_up_save(actor=actor, follow_up=follow_up, note="x", goodwill_points=600)
    follow_up.refresh_from_db()
    assert follow_up.goodwill_points == 0 and follow_up.note == ""
    follow_up_save(actor=actor, follow_up=follow_up, note="x", goodwill_points=100)
    assert ledger_problems() == []


def test_store_staff_of_another_store_cannot_touch_it(follow_up, store_staff):
    store_staff.store = StoreFactory(code="penang")
    store_staff.save(update_fields=["store"])
    with pytest.raises(PermissionDenied):
        follow_up_save(actor=Actor(user=store_staff), follow_up=follow_up, note="x", close=True)
    store_staff.store = follow_up.store
    store_staff.save(update_fields=["store"])
    follow_up_save(actor=Actor(user=store_staff), follow_up=follow_up, note="x", close=True)


def test_a_note_is_bounded(follow_up, manager):
    with pytest.raises(ValidationFailed):
        follow_up_save(actor=Actor(user=manager), follow_up=follow_up, note="x" * 2001)


def test_a_follow_up_closed_after_its_deadline_keeps_its_times(follow_up, manager):
    late = follow_up.due_at + timedelta(days=2)
    closed = follow_up_save(
        actor=Actor(user=manager), follow_up=follow_up, note="Sorry, late", close=True, now=late
    )
    assert closed.closed_at == late and not closed.is_overdue(timezone.now())


goodwill_tries = st.lists(
    st.tuples(st.integers(-5, GOODWILL_POINTS_MAX + 5), st.booleans()), min_size=1, max_size=6
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tries=goodwill_tries)
def test_whatever_staff_try_goodwill_is_paid_once_within_its_bounds(program, manager, tries):
    """Any sequence of saves (points in or out of bounds, closing or not):
    the member's balance is the first valid goodwill given before the close,
    once; the ledger stays whole."""
    with transaction.atomic():
        member = MemberFactory()
        follow_up = answer(SurveyKind.NPS, 0, member=member, store=program.main_store).follow_up
        expected, closed = 0, False
        for points, close in tries:
            try:
                follow_up_save(
                    actor=Actor(user=manager),
                    follow_up=follow_up,
                    note="Called",
                    goodwill_points=points,
                    close=close,
                )
            except (ValidationFailed, FollowUpClosed):
                continue
            if points > 0 and not expected and not closed:
                expected = points
            closed = closed or close
        member.account.refresh_from_db()
        assert member.account.balance == expected
        assert PointsEntry.objects.filter(member=member).count() == (1 if expected else 0)
        assert ledger_problems() == []
        transaction.set_rollback(True)
