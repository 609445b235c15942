"""Role guards: each role reaches its pages and is refused the others'."""

from __future__ import annotations

import pytest
from django.urls import reverse

from members.codes import card_number_grouped

pytestmark = pytest.mark.django_db

MANAGER_PAGES = [
    "staff:program",
    "staff:store_list",
    "staff:store_create",
    "staff:api_key_list",
    "staff:api_key_create",
    "staff:staff_user_list",
    "staff:staff_user_create",
    "staff:audit_log",
]
ANY_STAFF_PAGES = ["staff:home"]
PORTAL_PAGES = ["portal:home"]


@pytest.mark.parametrize("page", ANY_STAFF_PAGES + MANAGER_PAGES + PORTAL_PAGES)
def test_anonymous_visitors_are_sent_to_login(client, page):
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("page", ANY_STAFF_PAGES + MANAGER_PAGES)
def test_manager_reaches_every_staff_page(client, manager, page):
    client.force_login(manager)
    assert client.get(reverse(page)).status_code == 200


@pytest.mark.parametrize("role_fixture", ["marketer", "store_staff"])
def test_other_roles_reach_the_staff_home_but_not_manager_pages(client, request, role_fixture):
    client.force_login(request.getfixturevalue(role_fixture))
    assert client.get(reverse("staff:home")).status_code == 200
    for page in MANAGER_PAGES:
        assert client.get(reverse(page)).status_code == 403, page


@pytest.mark.parametrize("page", ANY_STAFF_PAGES + MANAGER_PAGES)
def test_a_member_is_refused_every_staff_page(client, member, page):
    client.force_login(member.user)
    assert client.get(reverse(page)).status_code == 403


def test_a_member_reaches_the_portal_home(client, member):
    client.force_login(member.user)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 200
    # Their own card: the number as printed on it.
    assert card_number_grouped(member.card_number).encode() in response.content


@pytest.mark.parametrize("role_fixture", ["manager", "marketer", "store_staff"])
def test_staff_without_a_membership_are_refused_the_portal(client, request, role_fixture):
    client.force_login(request.getfixturevalue(role_fixture))
    assert client.get(reverse("portal:home")).status_code == 403


def test_revoking_needs_post_and_the_manager_role(client, store_staff, admin_api):
    client.force_login(store_staff)
    url = reverse("staff:api_key_revoke", args=[admin_api.api_key.pk])
    assert client.post(url).status_code == 403
    admin_api.api_key.refresh_from_db()
    assert admin_api.api_key.is_active


@pytest.mark.parametrize(
    ("user_fixture", "home"),
    [("manager", "staff:home"), ("store_staff", "staff:home"), ("member", "portal:home")],
)
def test_home_sends_each_user_to_the_right_place(client, request, user_fixture, home):
    user = request.getfixturevalue(user_fixture)
    client.force_login(getattr(user, "user", user))
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse(home)


def test_managers_must_set_up_totp_when_required(client, manager, settings):
    settings.LOYALTY_REQUIRE_MANAGER_MFA = True
    client.force_login(manager)
    response = client.get(reverse("staff:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_store_staff_are_not_forced_into_totp(client, store_staff, settings):
    settings.LOYALTY_REQUIRE_MANAGER_MFA = True
    client.force_login(store_staff)
    assert client.get(reverse("staff:home")).status_code == 200
