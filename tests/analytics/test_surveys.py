"""Surveys (analytics.surveys): settings refused when they cannot work and
audited; invitations after members' purchases by the job, after the delay,
sampled by the purchase, never twice for one purchase nor too often for one
member, never for an imported history, in the member's language; answers
with a detractor's follow-up, a custom event for points, and the webhook."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from analytics.errors import FeedbackExists, SurveyClosed
from analytics.feedback import survey_settings_get
from analytics.models import (
    Feedback,
    FeedbackSource,
    FollowUp,
    SurveyInvitation,
    SurveyKind,
    SurveySettings,
)
from analytics.surveys import (
    feedback_record,
    sampled,
    survey_invitations_send,
    survey_settings_update,
)
from campaigns.models import MemberEvent
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.jobs import job_run
from loyalty.models import AuditEvent, Notification, WebhookEvent, WebhookEventType
from loyalty.webhooks import webhook_endpoint_create
from members.checks import ledger_problems
from members.errors import MemberInactive
from members.models import MemberStatus
from members.notifications import member_notification_preferences_set
from tests.analytics.factories import answer, bought, surveys_on
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db

NPS, CSAT = SurveyKind.NPS, SurveyKind.CSAT


@pytest.fixture(autouse=True)
def _outbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def webhooks(monkeypatch):
    monkeypatch.setattr("loyalty.webhooks._relay_queue", lambda: None)
    webhook_endpoint_create(
        actor=Actor.system(),
        url="https://93.184.216.34/hooks",
        events=[WebhookEventType.FEEDBACK_RECEIVED],
    )


# --- Settings ------------------------------------------------------------------------------------


def test_without_a_row_a_survey_has_its_defaults_in_both_languages(db):
    nps = survey_settings_get(kind=NPS)
    assert nps.pk is None and not nps.enabled
    assert nps.question_en.startswith("How likely are you to recommend us")
    assert nps.question_ms and nps.question_ms != nps.question_en
    assert (nps.cooldown_days, survey_settings_get(kind=CSAT).cooldown_days) == (90, 30)


def test_settings_are_saved_and_audited_with_before_and_after(manager):
    actor = Actor(user=manager)
    survey_settings_update(actor=actor, kind=CSAT, enabled=True, sample_percent=25)
    survey_settings_update(actor=actor, kind=CSAT, delay_hours=4, answer_event=" Survey_Done ")
    stored = SurveySettings.objects.get(kind=CSAT)
    assert (stored.enabled, stored.sample_percent, stored.delay_hours) == (True, 25, 4)
    assert stored.answer_event == "survey_done" and stored.updated_by == manager
    first, second = AuditEvent.objects.filter(action="survey_settings.update").order_by("id")
    assert first.before is None and first.after["sample_percent"] == 25
    assert (second.before["delay_hours"], second.after["delay_hours"]) == (24, 4)
    assert second.actor == manager


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"delay_hours": 721}, "delay_hours"),
        ({"delay_hours": -1}, "delay_hours"),
        ({"sample_percent": 101}, "sample_percent"),
        ({"cooldown_days": 0}, "cooldown_days"),
        ({"cooldown_days": 366}, "cooldown_days"),
        ({"follow_up_hours": 0}, "follow_up_hours"),
        ({"follow_up_hours": 721}, "follow_up_hours"),
        ({"question_ms": "x" * 301}, "question_ms"),
        ({"question_en": "Bad\x00"}, "question_en"),
        ({"enabled": True, "question_ms": "  "}, "question_ms"),
        ({"enabled": True, "sample_percent": 0}, "sample_percent"),
        ({"answer_event": "survey answered"}, "answer_event"),
    ],
)
def test_settings_that_cannot_work_are_refused_and_nothing_is_saved(db, changes, field):
    with pytest.raises(ValidationFailed) as refused:
        survey_settings_update(actor=Actor.system(), kind=NPS, **changes)
    assert field in refused.value.fields
    assert not SurveySettings.objects.exists()
    assert not AuditEvent.objects.exists()


def test_an_empty_answer_event_means_no_event(db):
    survey_settings_update(actor=Actor.system(), kind=NPS, answer_event="")
    assert survey_settings_get(kind=NPS).answer_event == ""


# --- Invitations ---------------------------------------------------------------------------------


def test_sampling_is_a_function_of_the_purchase_and_kind_near_the_rate():
    picked = [sampled(purchase_id=pk, kind=NPS, percent=20) for pk in range(1, 5001)]
    assert picked == [sampled(purchase_id=pk, kind=NPS, percent=20) for pk in range(1, 5001)]
    assert 900 < sum(picked) < 1100
    assert not any(sampled(purchase_id=pk, kind=NPS, percent=0) for pk in range(1, 200))
    assert all(sampled(purchase_id=pk, kind=NPS, percent=100) for pk in range(1, 200))


def test_a_purchase_is_invited_after_the_delay_once_however_often_the_job_runs(program):
    """Invitations due 24 hours after the sale: none at 23 hours, one at 25,
    and running the job again (or again as of later) sends nothing more."""
    surveys_on(delay_hours=24)
    survey_settings_update(actor=Actor.system(), kind=CSAT, enabled=False)
    member = MemberFactory(language="en")
    sale_time = timezone.now() - timedelta(hours=30)
    purchase = bought(member, program.main_store, at=sale_time)
    assert survey_invitations_send(as_of=sale_time + timedelta(hours=23)) == 0
    assert job_run("survey_invitations", as_of=sale_time + timedelta(hours=25)) == (
        "1 survey invitations sent"
    )
    assert survey_invitations_send(as_of=sale_time + timedelta(hours=25)) == 0
    assert survey_invitations_send(as_of=sale_time + timedelta(hours=26)) == 0
    invitation = SurveyInvitation.objects.get()
    assert (invitation.purchase, invitation.kind, invitation.member) == (purchase, NPS, member)
    assert invitation.expires_at == invitation.sent_at + timedelta(days=14)
    notification = Notification.objects.get(kind="survey_invitation")
    assert notification.event_key == f"survey:{purchase.pk}"
    assert notification.link == f"/portal/feedback/{invitation.pk}/"
    assert notification.title == f"How was your visit to {program.main_store.name}?"


def test_only_the_sampled_purchases_are_invited(program):
    surveys_on(sample_percent=30, cooldown_days=1)
    survey_settings_update(actor=Actor.system(), kind=CSAT, enabled=False)
    store = program.main_store
    start = timezone.now() - timedelta(days=3)
    purchases = [bought(MemberFactory(), store, at=start + timedelta(minutes=i)) for i in range(40)]
    sent = survey_invitations_send(as_of=timezone.now())
    expected = [p.pk for p in purchases if sampled(purchase_id=p.pk, kind=NPS, percent=30)]
    invited = sorted(SurveyInvitation.objects.values_list("purchase_id", flat=True))
    assert invited == sorted(expected) and sent == len(expected)
    assert 0 < sent < 40


def test_a_member_is_not_invited_again_within_the_cooldown_nor_to_two_surveys_in_a_week(program):
    """NPS (cooldown 90 days) goes first; CSAT, due the same day, waits for
    the week's gap; a week later CSAT asks about a new purchase, NPS still rests."""
    surveys_on()
    member = MemberFactory()
    store = program.main_store
    now = timezone.now()
    bought(member, store, at=now - timedelta(days=10))
    bought(member, store, at=now - timedelta(days=10, hours=-1))
    assert survey_invitations_send(as_of=now - timedelta(days=10) + timedelta(hours=2)) == 1
    assert SurveyInvitation.objects.get().kind == NPS
    later = bought(member, store, at=now - timedelta(days=1))
    assert survey_invitations_send(as_of=now) == 1
    newest = SurveyInvitation.objects.latest("sent_at")
    assert (newest.kind, newest.purchase) == (CSAT, later)
    assert survey_invitations_send(as_of=now) == 0


def test_a_member_who_answered_lately_is_not_asked_that_survey(program):
    surveys_on()
    survey_settings_update(actor=Actor.system(), kind=CSAT, enabled=False)
    member = MemberFactory()
    answer(NPS, 8, member=member, at=timezone.now() - timedelta(days=20))
    bought(member, program.main_store, at=timezone.now() - timedelta(hours=2))
    assert survey_invitations_send(as_of=timezone.now()) == 0


def test_no_invitation_for_an_imported_history_an_anonymous_sale_or_an_old_sale(program):
    """An imported sale is recorded long after it happened; a sale whose
    invitation fell due more than a week ago is not asked about any more."""
    surveys_on()
    store = program.main_store
    now = timezone.now()
    bought(MemberFactory(), store, at=now - timedelta(days=3), recorded_at=now)
    bought(None, store, at=now - timedelta(hours=1))
    bought(MemberFactory(), store, at=now - timedelta(days=8))
    blocked = MemberFactory()
    bought(blocked, store, at=now - timedelta(hours=1))
    blocked.status = MemberStatus.BLOCKED
    blocked.save(update_fields=["status"])
    assert survey_invitations_send(as_of=now) == 0


def test_disabled_surveys_send_nothing(program):
    bought(MemberFactory(), program.main_store, at=timezone.now() - timedelta(days=2))
    assert survey_invitations_send(as_of=timezone.now()) == 0


def test_the_invitation_email_is_in_the_members_language_with_the_score_scale(
    program, django_capture_on_commit_callbacks
):
    surveys_on()
    survey_settings_update(
        actor=Actor.system(),
        kind=NPS,
        question_ms="Sejauh manakah anda akan mengesyorkan kami kepada rakan?",
    )
    member = MemberFactory(language="ms", first_name="Aisyah")
    bought(member, program.main_store, at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert survey_invitations_send(as_of=timezone.now()) == 1
    (message,) = mail.outbox
    invitation = SurveyInvitation.objects.get()
    assert message.subject.startswith(f"Bagaimana lawatan anda ke {program.main_store.name}?")
    assert "Sejauh manakah anda akan mengesyorkan kami kepada rakan?" in message.body
    assert "Jawab tinjauan:" in message.body
    html = message.alternatives[0][0]
    assert 'lang="ms"' in html and "Jawab tinjauan" in html
    assert f"/portal/feedback/{invitation.pk}/?score=0" in html
    assert f"/portal/feedback/{invitation.pk}/?score=10" in html
    assert "List-Unsubscribe" not in message.extra_headers


def test_a_member_without_marketing_consent_is_invited_and_may_turn_the_email_off(
    program, django_capture_on_commit_callbacks
):
    """Feedback about their own purchase is not marketing: the invitation
    reaches the inbox whatever the consent; its email follows the member's
    choice."""
    surveys_on()
    member = MemberFactory(marketing_consent=False)
    member_notification_preferences_set(
        member=member, choices={("survey_invitation", "email"): False}
    )
    bought(member, program.main_store, at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert survey_invitations_send(as_of=timezone.now()) == 1
    assert Notification.objects.filter(member=member, kind="survey_invitation").exists()
    assert mail.outbox == []


# --- Answers -------------------------------------------------------------------------------------


def test_a_detractors_answer_goes_to_the_queue_due_after_the_follow_up_hours(program):
    survey_settings_update(actor=Actor.system(), kind=NPS, follow_up_hours=36)
    member = MemberFactory()
    now = timezone.now()
    recorded = answer(NPS, 6, member=member, store=program.main_store, at=now, comment="Slow")
    follow_up = recorded.follow_up
    assert follow_up is not None and follow_up.member == member
    assert follow_up.due_at == now + timedelta(hours=36) and follow_up.status == "open"
    assert follow_up.store == program.main_store
    assert answer(NPS, 7, member=MemberFactory()).follow_up is None
    assert answer(CSAT, 2, member=MemberFactory()).follow_up is not None
    assert answer(CSAT, 3, member=MemberFactory()).follow_up is None


def test_a_zero_is_a_detractor_and_an_anonymous_one_has_nobody_to_follow_up(program):
    member = MemberFactory()
    assert answer(NPS, 0, member=member).follow_up is not None
    anonymous = answer(NPS, 0)
    assert anonymous.follow_up is None and anonymous.feedback.score == 0
    assert FollowUp.objects.count() == 1


def test_the_queue_of_an_answer_about_no_purchase_is_the_members_home_store(program):
    penang = StoreFactory(code="penang")
    member = MemberFactory(home_store=penang)
    assert answer(CSAT, 1, member=member).follow_up.store == penang


@pytest.mark.parametrize(
    ("kind", "score"), [(NPS, -1), (NPS, 11), (CSAT, 0), (CSAT, 6), (NPS, True), ("ces", 3)]
)
def test_a_score_outside_its_surveys_range_is_refused(db, kind, score):
    with pytest.raises(ValidationFailed):
        answer(kind, score)
    assert not Feedback.objects.exists()


def test_a_comment_is_bounded(db):
    with pytest.raises(ValidationFailed) as refused:
        answer(CSAT, 4, comment="x" * 1001)
    assert "comment" in refused.value.fields
    assert answer(CSAT, 4, comment="  Good kopi  ").feedback.comment == "Good kopi"


def test_the_purchase_must_be_the_members(program):
    member, other = MemberFactory(), MemberFactory()
    purchase = bought(member, program.main_store)
    with pytest.raises(ValidationFailed) as refused:
        answer(CSAT, 4, member=other, purchase=purchase)
    assert "purchase_id" in refused.value.fields
    with pytest.raises(ValidationFailed):
        answer(CSAT, 4, purchase=purchase)


def test_one_answer_of_each_kind_a_purchase_the_same_again_replays(program):
    member = MemberFactory()
    purchase = bought(member, program.main_store)
    first = answer(CSAT, 2, member=member, purchase=purchase, comment="Cold")
    again = answer(CSAT, 2, member=member, purchase=purchase, comment="Cold")
    assert again.replayed and again.feedback.pk == first.feedback.pk
    assert again.follow_up.pk == first.follow_up.pk
    with pytest.raises(FeedbackExists):
        answer(CSAT, 5, member=member, purchase=purchase)
    assert answer(NPS, 9, member=member, purchase=purchase).feedback.store == program.main_store
    assert Feedback.objects.count() == 2 and FollowUp.objects.count() == 1


def test_a_member_answers_about_no_purchase_once_a_day_of_each_kind(program):
    member = MemberFactory()
    now = timezone.now()
    answer(NPS, 9, member=member, at=now - timedelta(hours=2))
    with pytest.raises(ValidationFailed):
        answer(NPS, 9, member=member, at=now)
    answer(CSAT, 4, member=member, at=now)
    answer(NPS, 10, member=member, at=now + timedelta(hours=23))


def test_a_deleted_member_cannot_answer(program):
    member = MemberFactory()
    member.status = MemberStatus.DELETED
    member.save(update_fields=["status"])
    with pytest.raises(MemberInactive):
        answer(NPS, 3, member=member)


def _invited(program, member, **settings):
    surveys_on(**settings)
    bought(member, program.main_store, at=timezone.now() - timedelta(hours=1))
    survey_invitations_send(as_of=timezone.now())
    return SurveyInvitation.objects.select_related("purchase__store").get(member=member)


def _answer_invitation(invitation, score, now=None):
    return feedback_record(
        kind=invitation.kind,
        score=score,
        member=invitation.member,
        invitation=invitation,
        source=FeedbackSource.INVITATION,
        actor=Actor.system(),
        now=now,
    )


def test_answering_an_invitation_records_the_custom_event_an_event_campaign_pays(program):
    make_campaign(
        "event",
        name="Thanks for your feedback",
        params={"event": "survey_answered", "points": 15},
        per_member_cap=15,
        cap_period="week",
    )
    member = MemberFactory()
    invitation = _invited(program, member)
    recorded = _answer_invitation(invitation, 9)
    assert recorded.points == 15
    assert recorded.feedback.purchase == invitation.purchase
    assert recorded.feedback.source == "invitation"
    event = MemberEvent.objects.get(member=member)
    assert (event.name, event.reference, event.points) == (
        "survey_answered",
        f"survey:{invitation.pk}",
        15,
    )
    invitation.refresh_from_db()
    assert invitation.answered_at is not None
    assert ledger_problems() == []


def test_answers_outside_an_invitation_record_no_event(program):
    make_campaign("event", params={"event": "survey_answered", "points": 15})
    member = MemberFactory()
    assert answer(NPS, 9, member=member).points == 0
    assert not MemberEvent.objects.exists()


def test_an_invitation_is_answered_once_and_not_after_it_closes(program):
    member = MemberFactory()
    invitation = _invited(program, member)
    _answer_invitation(invitation, 8)
    with pytest.raises(SurveyClosed):
        _answer_invitation(invitation, 9)
    other = MemberFactory()
    late = _invited(program, other)
    with pytest.raises(SurveyClosed):
        _answer_invitation(late, 9, now=late.expires_at)
    assert Feedback.objects.count() == 1


def test_an_answer_tells_the_webhooks_in_its_transaction(program, webhooks):
    member = MemberFactory()
    recorded = answer(NPS, 0, member=member, store=program.main_store, comment="Rude")
    (event,) = WebhookEvent.objects.filter(type="feedback.received")
    assert event.key == f"feedback:{recorded.feedback.pk}"
    assert event.data["score"] == 0 and event.data["follow_up"] is True
    assert event.data["member_id"] == member.public_id
    assert event.data["store"] == program.main_store.code
    with pytest.raises(ValidationFailed):
        answer(NPS, 12, member=member)
    assert WebhookEvent.objects.filter(type="feedback.received").count() == 1
