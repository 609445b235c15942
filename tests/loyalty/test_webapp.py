"""The portal as an app: the web app manifest and the service worker are
served with the right types from URLs whose scope covers the portal, linked
from the portal's pages, and allowed by the Content-Security-Policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from loyalty.actors import Actor
from loyalty.services import program_settings_update
from tests.loyalty.test_security_headers import policy

pytestmark = pytest.mark.django_db


def test_the_manifest_opens_the_card_full_screen_with_the_program_name(client):
    program_settings_update(actor=Actor.system(), name="Kedai Setia Rewards", merchant_name="Kedai")
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == "Kedai Setia Rewards"
    assert manifest["short_name"] == "Kedai"
    assert manifest["start_url"] == reverse("portal:home") == "/portal/"
    assert manifest["display"] == "standalone"
    assert manifest["scope"] == "/"
    assert manifest["theme_color"] == "#0b6e69"
    assert manifest["background_color"] == "#f5f7f6"


def test_the_manifest_icons_are_our_own_png_files_of_the_sizes_they_claim(client):
    manifest = json.loads(client.get(reverse("web_manifest")).content)
    sizes = set()
    for icon in manifest["icons"]:
        assert icon["type"] == "image/png"
        path = finders.find(icon["src"].removeprefix("/static/"))
        assert path, icon["src"]
        head = Path(path).read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        assert icon["sizes"] == f"{width}x{height}"
        sizes.add((icon["sizes"], icon.get("purpose", "any")))
    # What Chromium asks of an installable app, and a maskable one for Android.
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


def test_the_manifest_speaks_the_visitors_language(client):
    manifest = json.loads(client.get("/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE="ms").content)
    assert manifest["lang"] == "ms"
    assert manifest["description"] == "Kad ahli, mata dan ganjaran anda."


def test_the_service_worker_is_javascript_from_the_root_checked_on_every_visit(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    script = response.content.decode()
    # Served from /, its default scope is the whole site: no Service-Worker-Allowed needed.
    assert 'var CARD_URL = "/portal/";' in script
    assert 'var STATIC_URL = "/static/";' in script
    assert '"/accounts/logout/"' in script and '"/accounts/login/"' in script
    assert "showNotification" in script and "notificationclick" in script
    # What the card page loads, fetched when the worker installs (escapejs
    # writes JSON-compatible escapes).
    line = next(line for line in script.splitlines() if line.startswith("var PORTAL_FILES = "))
    files = json.loads(line.removeprefix("var PORTAL_FILES = ").removesuffix(";"))
    for name in ["css/setia.css", "css/portal.css", "js/setia.js", "js/portal-app.js"]:
        assert f"/static/{name}" in files


def test_the_worker_and_manifest_answer_reads_only(client):
    assert client.post("/sw.js").status_code == 405
    assert client.post("/manifest.webmanifest").status_code == 405


def test_the_policy_allows_our_own_worker_and_manifest_and_nothing_else(client, member):
    client.force_login(member.user)
    for url in [reverse("portal:home"), "/sw.js", "/manifest.webmanifest"]:
        directives = policy(client.get(url))
        assert directives["worker-src"] == ["'self'"], url
        assert directives["manifest-src"] == ["'self'"], url
        assert directives["script-src"] == ["'self'"], url
        assert directives["default-src"] == ["'self'"], url
        assert directives["connect-src"] == ["'self'"], url


def test_the_portal_links_the_manifest_and_its_script_registers_the_worker(client, member):
    client.force_login(member.user)
    page = client.get(reverse("portal:home")).content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert 'src="/static/js/portal-app.js" data-service-worker="/sw.js"' in page
    assert '<meta name="theme-color" content="#0b6e69">' in page
    script = Path(finders.find("js/portal-app.js")).read_text(encoding="utf-8")
    assert "navigator.serviceWorker.register(workerUrl" in script
