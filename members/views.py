"""Views of members used outside the portal pages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from members.selectors import member_of_user
from members.services import member_set_language


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """Django's set_language, which also remembers a member's choice, so emails
    and their next sign-in on another device follow it."""
    response = set_language(request)
    member = member_of_user(request.user)
    if member is not None:
        member_set_language(member=member, language=request.POST.get("language", ""))
    return response


def language_cookie_set(response: HttpResponse, language: str) -> HttpResponse:
    """Make the pages follow `language` from the next request on, with the same
    cookie Django's set_language writes (sign-in and the profile use it)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
    )
    return response
