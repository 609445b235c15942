"""Portal sign-up (allauth): email verification, a member per signup, role-aware landing."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from loyalty.models import User
from members.models import Member

pytestmark = pytest.mark.django_db

SIGNUP = {
    "first_name": "Nurul",
    "last_name": "Huda",
    "email": "Nurul.Huda@Example.com",
    "password1": "a-long-pass-phrase-42",
    "password2": "a-long-pass-phrase-42",
}


def test_signup_makes_a_member_and_sends_a_verification_email(client):
    response = client.post(reverse("account_signup"), SIGNUP)
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")

    user = User.objects.get(email="nurul.huda@example.com")
    member = Member.objects.get(user=user)
    assert member.status == "active" and member.language == "en"
    assert re.fullmatch(r"M[0-9A-Z]{16}", member.public_id)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nurul.huda@example.com"]


def test_signup_in_malay_remembers_the_language(client):
    client.cookies["django_language"] = "ms"
    client.post(reverse("account_signup"), SIGNUP)
    assert Member.objects.get().language == "ms"


def test_unverified_members_cannot_sign_in_until_they_confirm(client):
    client.post(reverse("account_signup"), SIGNUP)
    client.logout()
    login = {"login": SIGNUP["email"], "password": SIGNUP["password1"]}
    response = client.post(reverse("account_login"), login)
    assert response["Location"] == reverse("account_email_verification_sent")

    link = re.search(
        r"https?://testserver(/accounts/confirm-email/\S+/)", mail.outbox[-1].body
    ).group(1)
    assert client.post(link).status_code == 302
    response = client.post(reverse("account_login"), login)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert client.get(reverse("portal:home")).status_code == 200


def test_staff_sign_in_lands_in_the_back_office(client, manager):
    response = client.post(
        reverse("account_login"), {"login": manager.email, "password": "correct-horse-battery-9"}
    )
    assert response["Location"] == reverse("staff:home")


def test_a_taken_email_makes_no_second_account_and_does_not_say_so(client, member):
    """Against account enumeration the page looks the same; the owner gets an email."""
    response = client.post(reverse("account_signup"), {**SIGNUP, "email": "MEMBER@example.com"})
    assert response["Location"] == reverse("account_email_verification_sent")
    assert Member.objects.count() == 1 and User.objects.count() == 1
    assert mail.outbox[-1].to == ["member@example.com"]


def test_password_reset_sends_a_link(client, member):
    response = client.post(reverse("account_reset_password"), {"email": member.user.email})
    assert response.status_code == 302
    assert "/accounts/password/reset/key/" in mail.outbox[-1].body
