"""allauth's pages wear the site's look: sign-in and sign-up in the public shell,
account settings inside the user's own area (portal or back-office)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
)
def test_entrance_pages_use_the_site_shell_and_plain_labels(client, roles, url):
    html = client.get(url).content.decode()
    assert 'class="page auth"' in html and "css/setia.css" in html
    assert "Password:" not in html  # our field partial, not Django's as_p labels


@pytest.mark.parametrize("url", ["/accounts/email/", "/accounts/password/change/"])
def test_account_settings_open_in_the_members_portal(client, member, url):
    client.force_login(member.user)
    html = client.get(url).content.decode()
    assert "portal-nav" in html and "account-nav" in html
    assert "Two-factor authentication" not in html


@pytest.mark.parametrize(
    "url", ["/accounts/email/", "/accounts/password/change/", "/accounts/2fa/"]
)
def test_account_settings_open_in_the_back_office_for_staff(client, manager, url):
    client.force_login(manager)
    html = client.get(url).content.decode()
    assert "staff-nav" in html and "account-nav" in html
