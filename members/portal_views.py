"""Member pages. Every query is scoped to `self.member` (MemberRequiredMixin):
no portal URL carries a member id, so a member can only ever reach their own data."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView

from loyalty.actors import Actor
from loyalty.api.errors import envelope
from loyalty.errors import DomainError, ValidationFailed
from loyalty.forms import form_errors_from
from loyalty.notifications import (
    INBOX,
    Kind,
    channel_enabled,
    channels_all,
    kinds_all,
    notification_mark_read,
    notifications_mark_all_read,
    preferences_of,
)
from loyalty.selectors import notification_get, notification_list, program_settings_get
from loyalty.webpush import subscription_clean, vapid_configured, vapid_public_key
from members.access import MemberRequiredMixin
from members.card_images import card_number_grouped, code128_svg, qr_svg
from members.filters import LedgerFilter
from members.models import ConsentSource, EntryStatus
from members.notifications import member_notification_preferences_set
from members.portal_forms import MemberEraseForm, NotificationPreferencesForm, PortalProfileForm
from members.portal_panels import portal_home_panels_for
from members.privacy import member_erase
from members.push import (
    PUSH_SESSION_KEY,
    push_subscription_count,
    push_subscription_remove,
    push_subscription_save,
)
from members.selectors import ledger_list, member_status, points_by_day, tier_list
from members.services import member_update
from members.views import language_cookie_set, member_data_download

RECENT_ENTRIES = 5
HISTORY_PAGE_SIZE = 20
# A browser's subscription is a few hundred bytes of JSON.
PUSH_BODY_MAX_BYTES = 4096
INBOX_PAGE_SIZE = 20


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
                actor=Actor.from_request(self.request),
                member=self.member,
                consent_source=ConsentSource.PORTAL,
                **form.cleaned_data,
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


# --- Inbox and notification preferences -------------------------------------------------------


class PortalInboxView(MemberRequiredMixin, TemplateView):
    """The member's notifications, newest first, unread ones marked."""

    template_name = "portal/members/inbox.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        inbox = notification_list(member_id=self.member.pk)
        page_obj = Paginator(inbox, INBOX_PAGE_SIZE).get_page(self.request.GET.get("page"))
        return super().get_context_data(
            member=self.member,
            page_obj=page_obj,
            notifications=page_obj.object_list,
            **kwargs,
        )


class PortalNotificationView(MemberRequiredMixin, TemplateView):
    """One of the member's notifications, opened: it is read from now on.
    Another member's answers 404, as one that does not exist."""

    template_name = "portal/members/notification.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        notification = notification_get(member_id=self.member.pk, notification_id=kwargs["pk"])
        if notification is None:
            raise Http404(_("No such message."))
        if notification.read_at is None:
            notification_mark_read(member_id=self.member.pk, notification_id=notification.pk)
        return super().get_context_data(member=self.member, notification=notification, **kwargs)


class PortalInboxReadAllView(MemberRequiredMixin, View):
    """Mark every message of the inbox read (a form's POST; no script needed)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        count = notifications_mark_all_read(member_id=self.member.pk)
        if count:
            messages.success(request, _("All messages are marked read."))
        return redirect("portal:inbox")


def preference_rows() -> list[tuple[Kind, list[str]]]:
    """The kinds a member can choose channels for and, for each, the
    channels offered: every registered channel, and the inbox too for a kind
    that is off until turned on (points earned). Marketing kinds last."""
    channels = [channel.name for channel in channels_all()]
    kinds = sorted(kinds_all(), key=lambda kind: kind.marketing)
    return [(kind, [INBOX, *channels] if kind.optional else channels) for kind in kinds]


class PortalNotificationPreferencesView(MemberRequiredMixin, FormView):
    """Which messages come by which channel, the marketing consent (recorded
    with its source, the portal) and the language of the messages."""

    template_name = "portal/members/notification_preferences.html"
    form_class = NotificationPreferencesForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "rows": preference_rows()}

    def get_initial(self) -> dict[str, Any]:
        stored = preferences_of(member_id=self.member.pk)
        initial: dict[str, Any] = {
            "language": self.member.language,
            "marketing_consent": self.member.marketing_consent,
        }
        for kind, channels in preference_rows():
            for channel in channels:
                initial[f"{kind.name}:{channel}"] = channel_enabled(kind, channel, stored)
        return initial

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.get("form") or self.get_form()
        labels = {channel.name: channel.label for channel in channels_all()}
        labels[INBOX] = _("Inbox")
        columns = [INBOX, *(channel.name for channel in channels_all())]
        grid = [
            {
                "kind": kind,
                "cells": [
                    {
                        "channel": name,
                        "field": form[f"{kind.name}:{name}"] if name in channels else None,
                    }
                    for name in columns
                ],
            }
            for kind, channels in form.rows
        ]
        return super().get_context_data(
            member=self.member,
            grid=grid,
            columns=[(name, labels[name]) for name in columns],
            **kwargs,
        )

    def form_valid(self, form: NotificationPreferencesForm) -> HttpResponse:
        try:
            with transaction.atomic():
                member_notification_preferences_set(member=self.member, choices=form.choices())
                member = member_update(
                    actor=Actor.from_request(self.request),
                    member=self.member,
                    consent_source=ConsentSource.PORTAL,
                    language=form.cleaned_data["language"],
                    marketing_consent=form.cleaned_data["marketing_consent"],
                )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Your message settings are saved."))
        response = redirect("portal:notification_preferences")
        language_cookie_set(response, member.language)
        return response


class PortalPrivacyView(MemberRequiredMixin, FormView):
    """The member's data: download all of it, or erase it (members.privacy)."""

    template_name = "portal/members/privacy.html"
    form_class = MemberEraseForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(member=self.member, account=self.member.account, **kwargs)

    def form_valid(self, form: MemberEraseForm) -> HttpResponse:
        member_erase(actor=Actor.from_request(self.request), member=self.member, by_member=True)
        logout(self.request)
        messages.success(
            self.request,
            _("Your data is erased and your account closed. Thank you for being with us."),
        )
        return redirect("landing")


class PortalDataDownloadView(MemberRequiredMixin, View):
    """All the member's data as one JSON file."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return member_data_download(request, self.member)
