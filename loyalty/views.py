"""Public pages and error pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.http import require_safe

from loyalty.api.errors import (
    api_bad_request,
    api_not_found,
    api_permission_denied,
    api_server_error,
)
from loyalty.roles import is_staff_user
from loyalty.selectors import program_settings_get


def landing(request: HttpRequest) -> HttpResponse:
    """What the program is and an invitation to join."""
    return render(request, "landing.html", {"program": program_settings_get()})


def home(request: HttpRequest) -> HttpResponse:
    """Where "home" is for whoever is signed in."""
    if not request.user.is_authenticated:
        return redirect("landing")
    if is_staff_user(request.user):
        return redirect("staff:home")
    return redirect("portal:home")


# The portal as an app (docs/web-push.md). The colours are the site's own
# (static/css/setia.css: --brand and --canvas); the program settings give the name.
THEME_COLOUR = "#0b6e69"
BACKGROUND_COLOUR = "#f5f7f6"
# What the card page loads (templates/base.html, portal/base.html), fetched by
# the service worker when it installs so the card works offline at once.
PORTAL_FILES = (
    "css/setia.css",
    "css/portal.css",
    "js/setia.js",
    "js/portal-app.js",
    "img/logo.svg",
    "img/icons.svg",
)


@require_safe
def web_manifest(request: HttpRequest) -> HttpResponse:
    """The web app manifest: added to a home screen, the portal opens
    full-screen on the member card (the portal home)."""
    program = program_settings_get()
    card_url = reverse("portal:home")
    icon = "image/png"
    manifest = {
        "id": card_url,
        "name": program.name,
        "short_name": program.merchant_name,
        "description": _("Your member card, points and rewards."),
        "lang": get_language(),
        "start_url": card_url,
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            {"src": static("img/app-icon-192.png"), "sizes": "192x192", "type": icon},
            {"src": static("img/app-icon-512.png"), "sizes": "512x512", "type": icon},
            {
                "src": static("img/app-icon-maskable-512.png"),
                "sizes": "512x512",
                "type": icon,
                "purpose": "maskable",
            },
        ],
    }
    return JsonResponse(
        manifest,
        content_type="application/manifest+json",
        json_dumps_params={"ensure_ascii": False},
    )


@require_safe
def service_worker(request: HttpRequest) -> HttpResponse:
    """The portal's service worker, from the site's root so that its scope is
    the whole site: it keeps the card page for offline use, forgets it when
    someone signs in or out, and shows web push notifications. Browsers check
    it for updates on every visit (no-cache)."""
    response = render(
        request,
        "portal/sw.js",
        {
            "card_url": reverse("portal:home"),
            "static_url": static(""),
            "sign_urls": [
                reverse(name) for name in ("account_login", "account_logout", "account_signup")
            ],
            "icon_url": static("img/app-icon-192.png"),
            "portal_files": [static(name) for name in PORTAL_FILES],
        },
        content_type="text/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A bad Host header, a malformed request Django itself refuses."""
    if _is_api(request):
        return api_bad_request(request, exception)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_permission_denied(request, exception)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return api_server_error(request)
    return defaults.server_error(request)
