"""Content-Security-Policy and Permissions-Policy on every page (loyalty/settings.py,
loyalty/headers.py), and templates that keep to the policy."""

from __future__ import annotations

import re
from pathlib import Path

import allauth
import pytest
from django.urls import reverse

from tests.factories import MemberFactory

ROOT = Path(__file__).resolve().parents[2]
ALLAUTH_TEMPLATES = Path(allauth.__file__).parent / "templates"


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


@pytest.fixture
def pages(client, store_staff, member, roles):
    """(client signed in as whom, url) for a page of each kind."""
    return [
        (None, reverse("landing")),
        (None, reverse("account_login")),
        (None, reverse("api_docs")),
        (None, "/api/v1/program"),
        (None, "/no-such-page/"),
        (store_staff, reverse("staff:home")),
        (member.user, reverse("portal:home")),
    ]


@pytest.mark.django_db
def test_every_kind_of_page_carries_a_policy_without_inline_scripts(client, pages):
    for user, url in pages:
        if user is not None:
            client.force_login(user)
        response = client.get(url)
        directives = policy(response)
        assert directives["script-src"] == ["'self'"], url
        assert directives["default-src"] == ["'self'"], url
        assert directives["object-src"] == ["'none'"], url
        assert directives["frame-ancestors"] == ["'none'"], url
        assert directives["base-uri"] == ["'self'"], url
        assert "script-src-attr" not in directives and "script-src-elem" not in directives
        client.logout()


@pytest.mark.django_db
def test_only_the_api_docs_pages_allow_inline_styles(client):
    assert "'unsafe-inline'" not in policy(client.get(reverse("landing")))["style-src"]
    assert "'unsafe-inline'" in policy(client.get(reverse("api_docs")))["style-src"]
    assert "'unsafe-inline'" in policy(client.get(reverse("api_redoc")))["style-src"]


@pytest.mark.django_db
def test_swagger_ui_gets_its_start_up_script_as_a_file_not_inline(client):
    page = client.get(reverse("api_docs")).content.decode()
    assert '<script src="/api/docs/?script="></script>' in page
    script = client.get(reverse("api_docs") + "?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


@pytest.mark.django_db
def test_every_page_turns_off_the_camera_and_other_unused_features(client, pages):
    for user, url in pages:
        if user is not None:
            client.force_login(user)
        features = dict(
            part.strip().split("=", 1) for part in client.get(url)["Permissions-Policy"].split(",")
        )
        assert features["camera"] == "()", url
        assert features["microphone"] == "()" and features["geolocation"] == "()", url
        client.logout()


INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")[^>]*>", re.IGNORECASE
)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)


def template_files() -> list[Path]:
    ours = list((ROOT / "templates").rglob("*.html"))
    # allauth's own pages that we do not override (webauthn is not enabled).
    theirs = [
        path
        for path in ALLAUTH_TEMPLATES.rglob("*.html")
        if "webauthn" not in path.parts
        and not (ROOT / "templates" / path.relative_to(ALLAUTH_TEMPLATES)).exists()
    ]
    return ours + theirs


def test_no_template_has_an_inline_script_or_event_handler():
    """What the policy would block: <script> without src (JSON data blocks are not
    run, so they may stay) and on…= attributes. Scripts live in static/js/."""
    offenders = [
        str(path)
        for path in template_files()
        if INLINE_SCRIPT.search(path.read_text()) or EVENT_HANDLER.search(path.read_text())
    ]
    assert offenders == []


def test_no_template_has_a_style_element_outside_the_api_docs():
    offenders = [
        str(path)
        for path in (ROOT / "templates").rglob("*.html")
        if "<style" in path.read_text() and "drf_spectacular" not in path.parts
    ]
    assert offenders == []


@pytest.mark.django_db
def test_a_member_card_page_draws_its_codes_without_scripts(client):
    member = MemberFactory()
    client.force_login(member.user)
    page = client.get(reverse("portal:home")).content.decode()
    assert "<svg" in page and not INLINE_SCRIPT.search(page)
