"""Shared fixtures.

Tests marked `postgres`, `browser` or `broker` need a service. Without it they
skip on a developer machine, and fail under CI (CI=true), where the service
must be there. Chromium is checked in tests/e2e/conftest.py, where Playwright
launches it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from loyalty.actors import Actor
from loyalty.config import config_forget
from loyalty.models import ApiScope
from loyalty.services import api_key_create, program_settings_update, staff_roles_sync
from tests.factories import MemberFactory, StaffUserFactory, StoreFactory, TierFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# Property tests explore new examples on every developer run; CI replays a fixed
# set, so a red CI run means the change, not the luck of the draw.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    hypothesis_settings.load_profile("ci")


def need(reason: str) -> None:
    """Skip a test whose service is missing; in CI, fail it instead."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _config_cache_fresh() -> None:
    """Each test starts with an empty configuration cache (loyalty.config): the
    previous test's rows rolled back, which sends no signal."""
    config_forget()


@pytest.fixture(autouse=True)
def _services_for_markers(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        need("this test needs PostgreSQL (set DATABASE_URL=postgres://...)")
    if request.node.get_closest_marker("broker") and not os.environ.get("CELERY_BROKER_URL"):
        need("this test needs a Celery broker (set CELERY_BROKER_URL)")


@pytest.fixture(scope="session", autouse=True)
def _test_settings(django_test_environment: None) -> None:
    """Production settings send http to https and mark cookies Secure; the test
    client and the live server speak plain http. Set once for the session,
    before the live server builds its middleware. Managers' TOTP is tested on
    its own; static files come from the finders, not a collected manifest."""
    from django.conf import settings

    settings.SECURE_SSL_REDIRECT = False
    settings.SECURE_HSTS_SECONDS = 0
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.LOYALTY_REQUIRE_MANAGER_MFA = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _eager_celery(settings) -> Iterator[None]:
    """Tasks run in the test's thread unless a test asks for the real broker."""
    from loyalty.celery import app

    app.conf.task_always_eager = True
    yield


@pytest.fixture
def roles(db: None) -> None:
    staff_roles_sync()


@pytest.fixture
def store(db: None):
    return StoreFactory(code="main", name="Main store")


@pytest.fixture
def manager(roles: None):
    return StaffUserFactory(role="Manager", email="manager@example.com")


@pytest.fixture
def marketer(roles: None):
    return StaffUserFactory(role="Marketer", email="marketer@example.com")


@pytest.fixture
def store_staff(roles: None):
    return StaffUserFactory(role="Store staff", email="staff@example.com")


@pytest.fixture
def member(db: None):
    return MemberFactory(user__email="member@example.com")


def totp_code(secret: str) -> str:
    """The code an authenticator app shows now for `secret`."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sign_in_with_totp(client, user, secret: str) -> None:
    """Sign `user` in as a person does: allauth's login form, then the code of
    their TOTP at the second step. The session then holds allauth's record of
    the MFA authentication, as a real one does (loyalty.access)."""
    from django.urls import reverse

    from tests.factories import PASSWORD

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302, response.content.decode()
    assert client.session["_auth_user_id"] == str(user.pk)


def api_client_for(*scopes: str, store=None) -> APIClient:
    issued = api_key_create(
        actor=Actor.system(), name="test till", scopes=list(scopes), store=store
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.key}")
    client.api_key = issued.api_key
    return client


@pytest.fixture
def pos_api(db: None) -> APIClient:
    return api_client_for(ApiScope.POS)


@pytest.fixture
def admin_api(db: None) -> APIClient:
    return api_client_for(ApiScope.ADMIN)


@pytest.fixture
def program(db):
    """1 point per RM1, no pending, 365-day expiry, tiers on spend over 365 days."""
    store = StoreFactory(code="klcc", name="KLCC")
    return program_settings_update(
        actor=Actor.system(),
        earn_points=1,
        earn_per_amount=Decimal("1.00"),
        point_value=Decimal("0.01"),
        pending_days=0,
        expiry_days=365,
        tier_basis="spend",
        tier_window_days=365,
        main_store=store,
    )


@pytest.fixture
def tiers(db):
    return {
        "bronze": TierFactory(code="bronze", threshold=Decimal("0"), multiplier=Decimal("1.00")),
        "silver": TierFactory(
            code="silver", threshold=Decimal("10000"), multiplier=Decimal("1.50")
        ),
        "gold": TierFactory(code="gold", threshold=Decimal("20000"), multiplier=Decimal("2.00")),
    }


@pytest.fixture
def shopper(program, tiers):
    return MemberFactory(user=None, email="shopper@example.com", phone="012-345 6789")
