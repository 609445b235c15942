"""The member's survey pages (analytics.portal_views): the invitation's link
opens the survey of that purchase (the email's score chosen already), the
"Give feedback" page takes both surveys with a comment, a 0 is a score, the
home page shows an open invitation; another member's invitation is not
found."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from analytics.models import Feedback, FollowUp, SurveyInvitation
from analytics.surveys import survey_invitations_send
from tests.analytics.factories import bought, surveys_on
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def signed_in(client, member, program):
    client.force_login(member.user)
    return client


@pytest.fixture
def invitation(member, program) -> SurveyInvitation:
    surveys_on()
    bought(member, program.main_store, at=timezone.now() - timedelta(hours=1))
    survey_invitations_send(as_of=timezone.now())
    return SurveyInvitation.objects.get(member=member)


def test_the_invitation_link_opens_its_purchases_survey_with_the_score_chosen(
    signed_in, invitation
):
    url = reverse("portal:survey", args=[invitation.pk])
    response = signed_in.get(url + "?score=7")
    assert response.status_code == 200
    page = response.content.decode()
    assert invitation.purchase.reference in page
    assert "How likely are you to recommend us" in page
    assert response.context["form"].initial["score"] == 7
    assert page.count('type="radio"') == 11  # 0 to 10


def test_answering_the_survey_thanks_the_member_and_pays_the_answer_event(
    signed_in, invitation, member
):
    make_campaign("event", name="Thanks", params={"event": "survey_answered", "points": 10})
    url = reverse("portal:survey", args=[invitation.pk])
    response = signed_in.post(url, {"nps-score": "10", "nps-comment": "Lovely kaya toast"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    feedback = Feedback.objects.get()
    assert (feedback.score, feedback.comment, feedback.invitation) == (
        10,
        "Lovely kaya toast",
        invitation,
    )
    assert any("10 points for answering" in text for text in messages_of(response))
    again = signed_in.get(url)
    assert again.status_code == 302 and again["Location"] == reverse("portal:feedback")


def test_a_zero_is_a_score_the_page_takes(signed_in, invitation):
    url = reverse("portal:survey", args=[invitation.pk])
    response = signed_in.post(url, {"nps-score": "0"})
    assert response.status_code == 302
    feedback = Feedback.objects.get()
    assert feedback.score == 0 and FollowUp.objects.filter(feedback=feedback).exists()
    assert any("someone from our team" in text for text in messages_of(response))


def test_no_score_shows_the_form_again(signed_in, invitation):
    response = signed_in.post(reverse("portal:survey", args=[invitation.pk]), {"nps-score": ""})
    assert response.status_code == 200 and response.context["form"].errors["score"]
    assert not Feedback.objects.exists()


def test_another_members_invitation_is_not_found(client, invitation, program):
    stranger = MemberFactory()
    client.force_login(stranger.user)
    assert client.get(reverse("portal:survey", args=[invitation.pk])).status_code == 404
    refused = client.post(reverse("portal:survey", args=[invitation.pk]), {"nps-score": "9"})
    assert refused.status_code == 404
    assert not Feedback.objects.exists()


def test_a_closed_invitation_sends_the_member_to_the_feedback_page(signed_in, invitation):
    SurveyInvitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    response = signed_in.get(reverse("portal:survey", args=[invitation.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("portal:feedback")


def test_the_feedback_page_takes_either_survey_about_a_recent_purchase_or_none(
    signed_in, member, program
):
    purchase = bought(member, program.main_store)
    page = signed_in.get(reverse("portal:feedback"))
    assert page.status_code == 200
    assert purchase.reference in page.content.decode()
    response = signed_in.post(
        reverse("portal:feedback"),
        {"kind": "csat", "csat-score": "2", "csat-comment": "Queue too long", "csat-purchase": ""},
    )
    assert response.status_code == 302
    response = signed_in.post(
        reverse("portal:feedback"),
        {"kind": "nps", "nps-score": "9", "nps-purchase": str(purchase.pk)},
    )
    assert response.status_code == 302
    csat, nps = Feedback.objects.order_by("id")
    assert (csat.kind, csat.score, csat.purchase, csat.source) == ("csat", 2, None, "portal")
    assert (nps.kind, nps.purchase) == ("nps", purchase)
    assert FollowUp.objects.get().feedback == csat


def test_the_feedback_page_refuses_a_second_answer_about_no_purchase_the_same_day(
    signed_in, program
):
    body = {"kind": "nps", "nps-score": "8"}
    assert signed_in.post(reverse("portal:feedback"), body).status_code == 302
    again = signed_in.post(reverse("portal:feedback"), body)
    assert again.status_code == 200
    forms = [survey["form"] for survey in again.context["surveys"]]
    assert forms[0].non_field_errors()
    assert Feedback.objects.count() == 1


def test_the_home_page_shows_an_open_invitation_else_the_feedback_link(signed_in, member, program):
    home = signed_in.get(reverse("portal:home")).content.decode()
    assert reverse("portal:feedback") in home
    surveys_on()
    bought(member, program.main_store, at=timezone.now() - timedelta(hours=1))
    survey_invitations_send(as_of=timezone.now())
    invitation = SurveyInvitation.objects.get()
    home = signed_in.get(reverse("portal:home")).content.decode()
    assert reverse("portal:survey", args=[invitation.pk]) in home


def test_the_pages_need_a_signed_in_member(client, manager):
    assert client.get(reverse("portal:feedback")).status_code == 302
    client.force_login(manager)
    assert client.get(reverse("portal:feedback")).status_code == 403
