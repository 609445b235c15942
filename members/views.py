"""Views of members used outside the portal pages."""

from __future__ import annotations

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
