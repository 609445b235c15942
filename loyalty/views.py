"""Public pages and error pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import defaults

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
