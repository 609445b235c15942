"""Views of members used outside the portal pages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from loyalty.actors import Actor
from loyalty.selectors import program_settings_get
from members.models import Member
from members.notifications import member_from_unsubscribe_token, member_unsubscribe
from members.privacy import export_filename, member_data_export_json
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


@method_decorator(csrf_exempt, name="dispatch")
class UnsubscribeView(View):
    """The one-click unsubscribe of marketing emails, without signing in
    (loyalty.notification_email): the link's signed token names the member.

    - GET shows a page with one button (a link opened, or fetched by a mail
      scanner, changes nothing);
    - POST unsubscribes: a mail client's one-click POST (RFC 8058, body
      `List-Unsubscribe=One-Click`) gets an empty 200, the page's button the
      page that says it is done.

    No CSRF token: the mail client's POST has none, and the token in the URL
    is the authority (it unsubscribes only the member it names). A tampered
    or made-up token gets a friendly page with status 400 and changes nothing."""

    template_name = "members/unsubscribe.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        member = member_from_unsubscribe_token(token)
        if member is None:
            return self._page(request, None, state="invalid", status=400)
        return self._page(request, member, state="done" if not member.marketing_consent else "ask")

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        member = member_from_unsubscribe_token(token)
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        if member is None:
            if one_click:
                return HttpResponse(status=400, content_type="text/plain")
            return self._page(request, None, state="invalid", status=400)
        member_unsubscribe(member=member, actor=Actor.from_request(request))
        if one_click:
            return HttpResponse(status=200, content_type="text/plain")
        return self._page(request, member, state="done")

    def _page(
        self, request: HttpRequest, member: Member | None, *, state: str, status: int = 200
    ) -> HttpResponse:
        # The member's language, as their emails: the visitor may not be signed in.
        with translation.override(member.language if member else translation.get_language()):
            response = render(
                request,
                self.template_name,
                {"state": state, "member": member, "program": program_settings_get()},
                status=status,
            )
        response["X-Robots-Tag"] = "noindex"
        response["Cache-Control"] = "no-store"
        return response


def member_data_download(request: HttpRequest, member: Member) -> HttpResponse:
    """All the member's data as a JSON file to save (members.privacy), for the
    member's own portal page and a manager's answer to their request."""
    body = member_data_export_json(actor=Actor.from_request(request), member=member)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(member)}"'
    response["Cache-Control"] = "no-store"
    return response
