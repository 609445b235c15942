"""A member's language: chosen on any page, remembered, applied at sign-in."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_switching_language_as_a_member_remembers_it(client, member):
    client.force_login(member.user)
    response = client.post(reverse("set_language"), {"language": "ms", "next": "/portal/"})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    member.refresh_from_db()
    assert member.language == "ms"
    assert "Helo" in client.get("/portal/").content.decode()


def test_an_unknown_language_is_ignored(client, member):
    client.force_login(member.user)
    client.post(reverse("set_language"), {"language": "xx"})
    member.refresh_from_db()
    assert member.language == "en"


def test_signing_in_applies_the_members_language(client, member):
    member.language = "ms"
    member.save()
    response = client.post(
        reverse("account_login"),
        {"login": member.user.email, "password": "correct-horse-battery-9"},
    )
    assert response.cookies["django_language"].value == "ms"


def test_anonymous_visitors_switch_language_too(client):
    client.post(reverse("set_language"), {"language": "ms", "next": "/"})
    assert 'lang="ms"' in client.get("/").content.decode()
