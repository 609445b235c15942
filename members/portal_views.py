"""Member pages. Every query is scoped to `self.member` (MemberRequiredMixin):
no portal URL carries a member id, so a member can only ever reach their own data."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView

from loyalty.actors import Actor
from loyalty.api.errors import envelope
from loyalty.errors import DomainError, ValidationFailed
from loyalty.forms import form_errors_from
from loyalty.selectors import program_settings_get
from loyalty.webpush import subscription_clean, vapid_configured, vapid_public_key
from members.access import MemberRequiredMixin
from members.card_images import card_number_grouped, code128_svg, qr_svg
from members.filters import LedgerFilter
from members.models import EntryStatus
from members.portal_forms import PortalProfileForm
from members.portal_panels import portal_home_panels_for
from members.push import (
    PUSH_SESSION_KEY,
    push_subscription_count,
    push_subscription_remove,
    push_subscription_save,
)
from members.selectors import ledger_list, member_status, points_by_day, tier_list
from members.services import member_update
from members.views import language_cookie_set

RECENT_ENTRIES = 5
HISTORY_PAGE_SIZE = 20
# A browser's subscription is a few hundred bytes of JSON.
PUSH_BODY_MAX_BYTES = 4096


class PortalHomeView(MemberRequiredMixin, TemplateView):
    """The member card, balance, pending and expiring points, tier progress and
    the latest entries, in a fixed number of queries (a test counts them)."""

    template_name = "portal/members/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        member = self.member
        label = _("Card number %(number)s") % {"number": member.card_number}
        return super().get_context_data(
            member=member,
            account=member.account,
            program=program_settings_get(),
            status=member_status(member=member),
            pending=points_by_day(
                member_id=member.pk, status=EntryStatus.PENDING, column="available_at"
            ),
            expiring=points_by_day(
                member_id=member.pk,
                status=EntryStatus.AVAILABLE,
                column="expires_at",
                after=timezone.now(),
            ),
            recent=list(ledger_list(member=member)[:RECENT_ENTRIES]),
            card_number=card_number_grouped(member.card_number),
            qr=qr_svg(member.card_number, label=label),
            barcode=code128_svg(member.card_number, label=label),
            # What the apps above add (members.portal_panels): campaigns' ways to earn.
            panels=portal_home_panels_for(member=member, now=timezone.now()),
            **kwargs,
        )


class PortalHistoryView(MemberRequiredMixin, TemplateView):
    """The member's ledger, filtered by kind, status and dates, newest first."""

    template_name = "portal/members/history.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        history = LedgerFilter(self.request.GET or None, queryset=ledger_list(member=self.member))
        page_obj = Paginator(history.qs, HISTORY_PAGE_SIZE).get_page(self.request.GET.get("page"))
        filtered = any(self.request.GET.get(name) for name in history.form.fields if name != "page")
        return super().get_context_data(
            member=self.member,
            history=history,
            filtered=filtered,
            page_obj=page_obj,
            entries=page_obj.object_list,
            **kwargs,
        )


class PortalTiersView(MemberRequiredMixin, TemplateView):
    """Every tier, the member's own highlighted, and what the next one takes."""

    template_name = "portal/members/tiers.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            member=self.member,
            program=program_settings_get(),
            tiers=tier_list(),
            status=member_status(member=self.member),
            **kwargs,
        )


class PortalProfileView(MemberRequiredMixin, FormView):
    """The member's own details, saved through `member_update` (audited, checks
    that the phone is nobody else's). The email is the login: allauth changes it."""

    template_name = "portal/members/profile.html"
    form_class = PortalProfileForm

    def get_initial(self) -> dict[str, Any]:
        member = self.member
        return {
            "first_name": member.first_name,
            "last_name": member.last_name,
            "phone": member.phone,
            "birth_date": member.birth_date,
            "language": member.language,
            "marketing_consent": member.marketing_consent,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        configured = vapid_configured()
        return super().get_context_data(
            member=self.member,
            push_configured=configured,
            push_public_key=vapid_public_key() if configured else "",
            push_devices=push_subscription_count(member=self.member) if configured else 0,
            **kwargs,
        )

    def form_valid(self, form: PortalProfileForm) -> HttpResponse:
        try:
            member = member_update(
                actor=Actor.from_request(self.request), member=self.member, **form.cleaned_data
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Your details are saved."))
        response = redirect("portal:profile")
        # The pages follow the language just chosen, as the language switch does.
        language_cookie_set(response, member.language)
        return response


class PushSubscriptionView(MemberRequiredMixin, View):
    """This browser's web push subscription (static/js/portal-app.js): POST
    stores it for the signed-in member (201), DELETE forgets it (204). Session
    and CSRF token as for every portal form; a bad subscription is a 400 with
    the API's error envelope, and nothing is stored."""

    http_method_names = ["post", "delete"]

    def handle_no_permission(self) -> HttpResponse:
        # A script asked: an answer it can read, not the sign-in page.
        return JsonResponse(
            envelope("not_authenticated", _("Sign in to turn notifications on.")), status=403
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        if not vapid_configured():
            refused = ValidationFailed(_("Notifications are not set up for this program."))
            return _push_error(refused)
        try:
            subscription = subscription_clean(_json_body(request))
        except ValidationFailed as error:
            return _push_error(error)
        saved = push_subscription_save(
            member=self.member,
            subscription=subscription,
            user_agent=request.headers.get("User-Agent", ""),
        )
        request.session[PUSH_SESSION_KEY] = saved.pk
        return JsonResponse({"devices": push_subscription_count(member=self.member)}, status=201)

    def delete(self, request: HttpRequest) -> HttpResponse:
        try:
            data = _json_body(request)
        except ValidationFailed as error:
            return _push_error(error)
        endpoint = data.get("endpoint") if isinstance(data, dict) else None
        if not isinstance(endpoint, str):
            return _push_error(ValidationFailed(fields={"endpoint": [_("Give the endpoint URL.")]}))
        push_subscription_remove(member=self.member, endpoint=endpoint)
        request.session.pop(PUSH_SESSION_KEY, None)
        return HttpResponse(status=204)


def _json_body(request: HttpRequest) -> Any:
    if len(request.body) > PUSH_BODY_MAX_BYTES:
        raise ValidationFailed(_("The request is too large."))
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, ValueError) as error:
        raise ValidationFailed(_("Send the subscription as a JSON object.")) from error


def _push_error(error: DomainError) -> JsonResponse:
    return JsonResponse(envelope(error.code, error.message, error.fields), status=error.status)
