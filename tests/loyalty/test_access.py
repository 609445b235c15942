"""Role guards: each role reaches its pages and is refused the others'."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from decimal import Decimal

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.urls import reverse
from django.urls.converters import IntConverter, SlugConverter, StringConverter
from django.utils import timezone

from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.models import ImportJob
from loyalty.roles import ROLE_PERMISSIONS, Role
from loyalty.urls import staff_urlpatterns, urlpatterns
from members.access import MemberRequiredMixin
from members.card_images import card_number_grouped
from members.portal_views import PushSubscriptionView
from tests.conftest import sign_in_with_totp, totp_code
from tests.factories import PASSWORD, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db

# A value for a path argument that matches no object: guards refuse before any 404.
DUMMY = {IntConverter: 999999, StringConverter: "nothing-here", SlugConverter: "nothing-here"}
USERS = ["anonymous", "member", "store_staff", "marketer", "manager"]
ROLE_OF = {"store_staff": Role.STORE_STAFF, "marketer": Role.MARKETER, "manager": Role.MANAGER}


def namespace_urls(patterns: list, namespace: str, known: dict[str, object]) -> Iterator[tuple]:
    """(view class, url, whether every argument named an existing object) for each
    pattern; arguments from `known` by "<url name>.<argument>" or "<argument>"."""
    for pattern in patterns:
        kwargs, real = {}, True
        for argument, converter in pattern.pattern.converters.items():
            value = known.get(f"{pattern.name}.{argument}", known.get(argument))
            if value is None:
                value, real = DUMMY[type(converter)], False
            kwargs[argument] = value
        url = reverse(f"{namespace}:{pattern.name}", kwargs=kwargs)
        yield pattern.callback.view_class, url, real


@pytest.fixture
def known(program, store, member, store_staff, admin_api, tiers) -> dict[str, object]:
    """Existing objects for the path arguments of the back-office and the portal."""
    from purchases.inputs import LineInput, SaleInput
    from purchases.services import purchase_record
    from rewards.gift_cards import gift_card_design_create
    from rewards.services import redemption_create
    from tests.rewards.conftest import fund, make_reward

    sale = SaleInput(
        store=store,
        reference="R-1",
        member=member,
        occurred_at=member.joined_at,
        items=[LineInput(sku="SHOE", quantity=1, unit_price=Decimal("50.00"))],
    )
    purchase = purchase_record(sale=sale, actor=Actor.system())
    reward = make_reward()
    fund(member, reward.points_cost)
    redemption = redemption_create(member=member, reward=reward, actor=Actor.system())
    return {
        "store_update.code": store.code,
        "api_key_revoke.pk": admin_api.api_key.pk,
        "staff_user_update.pk": store_staff.pk,
        "tier_update.code": tiers["silver"].code,
        "tier_delete.code": tiers["silver"].code,
        "public_id": member.public_id,
        "pk": purchase.record_id,  # purchase_detail, purchase_return
        "reward_id": reward.pk,
        "design_id": gift_card_design_create(actor=Actor.system(), name="Raya").pk,
        "code": redemption.vouchers.get().code,  # counter_voucher_use, portal voucher
        "import_id": ImportJob.objects.create(kind="members", file_name="m.csv").pk,
        "survey_settings.kind": "nps",
        **_challenge_known(),
        "follow_up_detail.pk": _follow_up_known(member, store),
        **_webhook_known(),
    }


def _challenge_known() -> dict[str, object]:
    """A badge and a challenge awarding it, for the challenge pages."""
    from campaigns.challenges import badge_create, challenge_create

    badge = badge_create(actor=Actor.system(), name="Regular", icon="coffee")
    challenge = challenge_create(
        actor=Actor.system(),
        name="Three visits",
        goal="purchase_count",
        target=Decimal("3"),
        starts_at=timezone.now(),
        badge=badge,
        leaderboard=True,
        status="scheduled",
    )
    return {"badge_id": badge.pk, "challenge_id": challenge.pk}


def _follow_up_known(member, store) -> int:
    """A detractor's answer in the follow-up queue."""
    from analytics.surveys import feedback_record

    recorded = feedback_record(
        kind="nps", score=0, member=member, store=store, source="till", actor=Actor.system()
    )
    return recorded.follow_up.pk


def _webhook_known() -> dict[str, object]:
    """An endpoint with one delivery, for the webhook pages."""
    from loyalty.models import WebhookDelivery, WebhookEvent
    from loyalty.webhooks import webhook_endpoint_create

    endpoint = webhook_endpoint_create(
        actor=Actor.system(), url="https://93.184.216.34/hooks", events=["member.updated"]
    ).endpoint
    event = WebhookEvent.objects.create(
        msg_id="msg_access", type="member.updated", created_at=timezone.now(), fanned_out=True
    )
    delivery = WebhookDelivery.objects.create(
        event=event, endpoint=endpoint, created_at=timezone.now()
    )
    return {
        **{
            f"webhook_{name}.pk": endpoint.pk
            for name in ("update", "delete", "enable", "deliveries")
        },
        "webhook_resend.pk": delivery.pk,
    }


def signed_in(client, request: pytest.FixtureRequest, user: str):
    if user != "anonymous":
        account = request.getfixturevalue(user)
        client.force_login(getattr(account, "user", account))
    return client


@pytest.mark.parametrize("user", USERS)
def test_every_staff_url_admits_exactly_the_roles_holding_its_permission(
    client, request, known, user
):
    """Anonymous visitors go to the login page, members get 403, and each role
    reaches the pages whose permission its group holds (a 405 for POST-only
    pages means the guard let it through) and gets 403 on the others."""
    signed_in(client, request, user)
    granted = ROLE_PERMISSIONS.get(ROLE_OF.get(user), ())
    wrong = []
    for view, url, real in namespace_urls(staff_urlpatterns, "staff", known):
        assert issubclass(view, StaffRequiredMixin), f"{view.__name__} has no staff guard"
        required = view.permission_required
        required = (required,) if isinstance(required, str) else tuple(required)
        response = client.get(url)
        status, location = response.status_code, response.get("Location", "")
        if user == "anonymous":
            ok = status == 302 and location.startswith(reverse("account_login"))
        elif set(required) & set(granted):
            ok = status != 403 and not location.startswith(reverse("account_login"))
            ok = ok and (status in {200, 405} if real else status in {200, 302, 404, 405})
        else:
            ok = status == 403
        if not ok:
            wrong.append(f"{url} ({view.__name__}, needs {required}): {status} {location}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("user", ["anonymous", "store_staff", "marketer", "manager"])
def test_every_portal_url_refuses_anonymous_visitors_and_staff_without_a_membership(
    client, request, known, user
):
    signed_in(client, request, user)
    wrong = []
    portal_patterns = next(p for p in urlpatterns if str(p.pattern) == "portal/").url_patterns
    for view, url, _real in namespace_urls(portal_patterns, "portal", known):
        assert issubclass(view, MemberRequiredMixin), f"{view.__name__} has no member guard"
        response = client.get(url)
        if user == "anonymous" and view is PushSubscriptionView:
            # Called by a script, which needs an answer it can read, not a page.
            ok = response.status_code == 403 and response.json()["code"] == "not_authenticated"
        elif user == "anonymous":
            ok = response.status_code == 302 and response["Location"].startswith(
                reverse("account_login")
            )
        else:
            ok = response.status_code == 403
        if not ok:
            wrong.append(f"{url} ({view.__name__}): {response.status_code}")
    assert wrong == [], "\n".join(wrong)


def test_a_member_reaches_the_portal_home(client, member):
    client.force_login(member.user)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 200
    # Their own card: the number as printed on it.
    assert card_number_grouped(member.card_number).encode() in response.content


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


def test_store_staff_are_not_forced_into_totp(client, store_staff, settings):
    settings.LOYALTY_REQUIRE_MANAGER_MFA = True
    client.force_login(store_staff)
    assert client.get(reverse("staff:home")).status_code == 200


def with_totp(user) -> str:
    """Set TOTP up for `user`; the secret, for the codes."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def test_a_manager_with_totp_enters_the_back_office_and_one_without_is_sent_to_set_it_up(
    client, settings, roles
):
    settings.LOYALTY_REQUIRE_MANAGER_MFA = True
    manager = StaffUserFactory(role=Role.MANAGER.value)
    sign_in_with_totp(client, manager, with_totp(manager))
    assert client.get(reverse("staff:home")).status_code == 200
    assert client.get(reverse("staff:program")).status_code == 200

    client.force_login(StaffUserFactory(role=Role.MANAGER.value))
    response = client.get(reverse("staff:home"))
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")


def role_permissions_in_the_database() -> dict[str, set[str]]:
    return {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.filter(name__in=[role.value for role in Role])
    }


EXPECTED_GROUPS = {role.value: set(perms) for role, perms in ROLE_PERMISSIONS.items()}


def test_the_migrated_database_holds_the_three_roles_with_their_permissions():
    """No `roles` fixture, no staff_roles_sync(): what migrate alone made."""
    assert role_permissions_in_the_database() == EXPECTED_GROUPS


def test_the_roles_migration_makes_groups_and_permissions_from_nothing():
    migration = importlib.import_module("loyalty.migrations.0002_staff_roles")
    state = MigrationLoader(connection).project_state(("loyalty", "0002_staff_roles"))
    Group.objects.filter(name__in=EXPECTED_GROUPS).delete()
    Permission.objects.filter(content_type__app_label="loyalty").delete()
    assert role_permissions_in_the_database() == {}

    migration.create_roles(state.apps, None)
    assert role_permissions_in_the_database() == EXPECTED_GROUPS


# --- The second factor belongs to the session ------------------------------------


@pytest.mark.parametrize("role", [Role.STORE_STAFF, Role.MANAGER])
def test_a_session_that_did_not_pass_the_second_factor_is_sent_to_give_the_code(
    client, roles, role
):
    """A user with TOTP whose session was made without it (force_login, a login
    that skipped the MFA stage) gives the code before any back-office page, and
    is then brought back to the page asked for."""
    user = StaffUserFactory(role=role.value)
    secret = with_totp(user)
    client.force_login(user)
    page = reverse("staff:home") + "?tab=1"
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_reauthenticate") + "?next=%2Fstaff%2F%3Ftab%3D1"

    response = client.post(response["Location"], {"code": totp_code(secret)})
    assert response.status_code == 302 and response["Location"] == page
    assert client.get(page).status_code == 200


def test_a_session_that_passed_the_second_factor_enters_the_back_office(client, roles):
    user = StaffUserFactory(role=Role.STORE_STAFF.value)
    sign_in_with_totp(client, user, with_totp(user))
    assert client.get(reverse("staff:home")).status_code == 200


def test_staff_without_a_second_factor_are_not_asked_for_one(client, store_staff):
    client.force_login(store_staff)
    assert client.get(reverse("staff:home")).status_code == 200


# --- The admin door -------------------------------------------------------------------


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True, email="root@example.com")


def test_the_admin_sends_anonymous_visitors_to_allauths_login(client):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1] == (
        reverse("account_login") + "?next=%2Fadmin%2F",
        302,
    )


def test_posting_a_password_to_the_admin_login_signs_nobody_in(client, superuser):
    """Django's own form, without lockout or second factor, is gone: the admin's
    login page only sends to allauth's."""
    response = client.post(
        "/admin/login/?next=/admin/", {"username": superuser.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def test_signing_in_for_the_admin_is_locked_after_repeated_wrong_passwords(client, superuser):
    """30 wrong passwords, then the right one: refused (allauth's lockout)."""
    login = client.get("/admin/login/?next=/admin/")["Location"]
    for _ in range(30):
        client.post(login, {"login": superuser.email, "password": "wrong-password-1"})
    client.post(login, {"login": superuser.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_the_admin_asks_a_superuser_with_totp_for_the_code_of_this_session(client, superuser):
    secret = with_totp(superuser)
    client.force_login(superuser)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("mfa_reauthenticate"))
    assert client.get(reverse("staff:home")).status_code == 302

    client.post(response.redirect_chain[-1][0], {"code": totp_code(secret)})
    assert client.get("/admin/").status_code == 200
    assert client.get(reverse("staff:home")).status_code == 200


def test_a_superuser_signed_in_through_allauth_reaches_the_admin(client, superuser):
    sign_in_with_totp(client, superuser, with_totp(superuser))
    response = client.get("/admin/login/?next=/admin/loyalty/")
    assert response.status_code == 302 and response["Location"] == "/admin/loyalty/"
    assert client.get("/admin/").status_code == 200


def test_members_are_refused_the_admin(client, member):
    client.force_login(member.user)
    assert client.get("/admin/", follow=True).status_code == 403


def test_the_admin_says_once_why_it_asks_for_the_code(client, superuser):
    with_totp(superuser)
    client.force_login(superuser)
    response = client.get("/admin/", follow=True)
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["Enter the code from your authenticator app to continue."]
