"""Referrals through every channel: `POST /members` with `referral_code`,
`GET /members/{id}/referrals`, the counter's enrolment form and the member's
staff page, the share link through the portal sign-up, the portal page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Referral, ReferralStatus
from campaigns.referrals import referral_sale_recorded, referral_settle
from loyalty.actors import Actor
from loyalty.selectors import program_settings_get
from loyalty.services import program_settings_update
from members.locks import account_lock
from members.models import Member
from members.services import member_enrol
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

SIGNUP = {
    "first_name": "Nurul",
    "last_name": "Huda",
    "email": "nurul@example.com",
    "password1": "a-long-pass-phrase-42",
    "password2": "a-long-pass-phrase-42",
}


@pytest.fixture
def referrer(db) -> Member:
    program_settings_update(actor=Actor.system(), pending_days=0)
    return MemberFactory(user__email="ahmad@example.com", first_name="Ahmad")


def test_post_members_with_a_code_records_the_referral(pos_api, referrer):
    response = pos_api.post(
        "/api/v1/members",
        {"email": "aina@example.com", "referral_code": referrer.referral_code.lower()},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["referral_code"]
    friend = Member.objects.get(public_id=response.json()["id"])
    assert Referral.objects.get(friend=friend).referrer == referrer


def test_post_members_with_an_unknown_code_is_400_on_the_field(pos_api, referrer):
    response = pos_api.post(
        "/api/v1/members", {"email": "aina@example.com", "referral_code": "NOPE2345"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "referral_code" in body["fields"]
    assert not Member.objects.filter(email="aina@example.com").exists()


def test_get_referrals_lists_friends_with_status_and_reason(pos_api, referrer):
    make_campaign("referral")
    friend = member_enrol(
        actor=Actor.system(), email="aina@example.com", referral_code=referrer.referral_code
    )
    alias = member_enrol(
        actor=Actor.system(), email="ahmad+2@example.com", referral_code=referrer.referral_code
    )
    store_id = program_settings_get().main_store_id
    now = timezone.now()
    friend.refresh_from_db()
    with transaction.atomic():
        account_lock(member_id=friend.pk)
        qualified = referral_sale_recorded(
            member=friend,
            purchase_id=77,
            store_id=store_id,
            eligible_amount=Decimal("50.00"),
            occurred_at=now,
            now=now,
        )
    referral_settle(referral_id=qualified.referral_id)
    response = pos_api.get(f"/api/v1/members/{referrer.public_id}/referrals")
    assert response.status_code == 200
    rows = {row["friend_id"]: row for row in response.json()["results"]}
    assert rows[friend.public_id]["status"] == "rewarded"
    assert rows[alias.public_id]["status"] == "rejected"
    assert rows[alias.public_id]["reason"] == "self_email"
    assert rows[alias.public_id]["reason_text"]
    assert set(rows[friend.public_id]) >= {"friend_id", "status", "reason", "created_at"}


def test_get_referrals_of_an_unknown_member_is_404(pos_api):
    assert pos_api.get("/api/v1/members/MNOPE/referrals").status_code == 404


def test_the_counter_enrols_with_a_code_and_shows_referrals(client, store_staff, referrer):
    client.force_login(store_staff)
    response = client.post(
        reverse("staff:member_enrol"),
        {
            "first_name": "Aina",
            "email": "aina@example.com",
            "language": "en",
            "referral_code": referrer.referral_code,
        },
    )
    assert response.status_code == 302
    friend = Member.objects.get(email="aina@example.com")
    assert Referral.objects.get(friend=friend).referrer == referrer
    page = client.get(reverse("staff:member_detail", args=[referrer.public_id])).content.decode()
    assert 'data-testid="referrals"' in page and "Aina" in page
    friend_page = client.get(reverse("staff:member_detail", args=[friend.public_id]))
    assert 'data-testid="referred-by"' in friend_page.content.decode()


def test_the_counter_shows_an_unknown_code_on_its_field(client, store_staff, referrer):
    client.force_login(store_staff)
    response = client.post(
        reverse("staff:member_enrol"),
        {
            "first_name": "Aina",
            "email": "aina@example.com",
            "language": "en",
            "referral_code": "NOPE2345",
        },
    )
    assert response.status_code == 200
    assert "referral_code" in response.context["form"].errors


def test_signing_up_through_the_share_link_records_the_referral(client, referrer):
    response = client.get("/join", {"ref": referrer.referral_code})
    assert response.status_code == 302 and response["Location"] == reverse("account_signup")
    client.post(reverse("account_signup"), SIGNUP)
    friend = Member.objects.get(email="nurul@example.com")
    referral = Referral.objects.get(friend=friend)
    assert referral.referrer == referrer and referral.status == ReferralStatus.JOINED
    assert referral.address_hash  # the sign-up's address, hashed, for the limit


def test_an_unknown_code_on_the_share_link_is_a_friendly_message(client, referrer):
    response = client.get("/join", {"ref": "NOPE2345"}, follow=True)
    assert response.status_code == 200
    assert "We do not know this invitation code" in response.content.decode()
    client.post(reverse("account_signup"), SIGNUP)
    assert not Referral.objects.exists()
    assert Member.objects.filter(email="nurul@example.com").exists()


def test_the_portal_page_shows_code_share_buttons_and_referrals(client, referrer):
    member_enrol(
        actor=Actor.system(),
        email="aina@example.com",
        first_name="Aina",
        referral_code=referrer.referral_code,
    )
    client.force_login(referrer.user)
    response = client.get(reverse("portal:referrals"))
    page = response.content.decode()
    assert response.status_code == 200
    assert referrer.referral_code in page
    assert f"/join?ref={referrer.referral_code}" in page
    for target in ("https://wa.me/", "facebook.com/sharer", "twitter.com/intent", "mailto:"):
        assert target in page
    assert "js/share.js" in page and "<script>" not in page
    assert "Aina" in page and "Joined" in page
