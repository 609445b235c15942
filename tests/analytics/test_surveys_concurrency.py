"""Real threads against PostgreSQL: an invitation answered several times at
once keeps one answer and pays its event once; goodwill saved by several
members of staff at once is given once; two runs of the invitation job at
once invite each purchase once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import Feedback, FeedbackSource, FollowUp, SurveyInvitation, SurveyKind
from analytics.recovery import follow_up_save
from analytics.surveys import feedback_record, survey_invitations_send
from campaigns.models import MemberEvent
from loyalty.actors import Actor
from loyalty.models import Notification
from loyalty.services import program_settings_update
from members.checks import ledger_problems
from members.models import PointsEntry
from tests.analytics.factories import answer, bought, surveys_on
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory, StoreFactory
from tests.members.test_ledger_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def store():
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    return StoreFactory(code="klcc")


def test_an_invitation_answered_eight_times_at_once_keeps_one_answer_and_pays_once(store):
    make_campaign("event", params={"event": "survey_answered", "points": 10})
    surveys_on()
    member = MemberFactory(user=None, email="race@example.com")
    bought(member, store, at=timezone.now() - timedelta(hours=1))
    survey_invitations_send(as_of=timezone.now())
    invitation_id = SurveyInvitation.objects.get().pk

    def answer_it(i: int):
        invitation = SurveyInvitation.objects.select_related("purchase__store", "member").get(
            pk=invitation_id
        )
        return feedback_record(
            kind=invitation.kind,
            score=3,
            member=invitation.member,
            invitation=invitation,
            source=FeedbackSource.INVITATION,
            actor=Actor.system(),
        )

    results = run_at_once(8, answer_it)
    made = [r for r in results if not isinstance(r, Exception) and not r.replayed]
    assert len(made) == 1, results
    assert Feedback.objects.count() == 1 and FollowUp.objects.count() == 1
    assert MemberEvent.objects.count() == 1
    paid = PointsEntry.objects.filter(source_type="campaign").values_list("points", flat=True)
    assert list(paid) == [10]
    assert ledger_problems() == []


def test_goodwill_saved_by_eight_at_once_is_given_once(store, manager):
    member = MemberFactory(user=None, email="sorry@example.com")
    follow_up_id = answer(SurveyKind.CSAT, 1, member=member, store=store).follow_up.pk

    def give(i: int):
        return follow_up_save(
            actor=Actor(user=manager),
            follow_up=FollowUp.objects.get(pk=follow_up_id),
            note=f"Call {i}",
            goodwill_points=100,
        )

    results = run_at_once(8, give)
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert list(PointsEntry.objects.values_list("points", flat=True)) == [100]
    assert FollowUp.objects.get().goodwill_points == 100
    assert ledger_problems() == []


def test_two_runs_of_the_job_at_once_invite_each_purchase_once(store):
    surveys_on(cooldown_days=1)
    members = [MemberFactory(user=None, email=f"m{i}@example.com") for i in range(6)]
    for member in members:
        bought(member, store, at=timezone.now() - timedelta(hours=1))
    as_of = timezone.now()
    results = run_at_once(2, lambda i: survey_invitations_send(as_of=as_of))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 6
    assert SurveyInvitation.objects.count() == 6
    assert Notification.objects.filter(kind="survey_invitation").count() == 6
