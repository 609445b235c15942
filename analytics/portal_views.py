"""Member pages of surveys: the survey an invitation opens (about one
purchase, the score maybe chosen already from the email's scale), the
always-available "Give feedback" page (both surveys, about a recent purchase
or none), and the home page's panel (registered in members.portal_panels by
AnalyticsConfig.ready). Every query is scoped to the signed-in member."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.generic import TemplateView

from analytics.errors import SurveyClosed
from analytics.feedback import survey_settings_get
from analytics.models import FeedbackSource, SurveyInvitation, SurveyKind
from analytics.survey_forms import FeedbackAnswerForm
from analytics.surveys import FeedbackRecorded, feedback_record
from loyalty.actors import Actor
from loyalty.errors import DomainError
from loyalty.forms import form_errors_from
from members.access import MemberRequiredMixin
from members.models import Member
from members.portal_panels import PortalPanel
from purchases.models import Purchase

RECENT_PURCHASE_DAYS = 30
RECENT_PURCHASES = 10


def _thanks(request: HttpRequest, recorded: FeedbackRecorded) -> None:
    text = _("Thank you for telling us.")
    if recorded.follow_up is not None:
        text += " " + _(
            "We are sorry it was not better: someone from our team will get back to you."
        )
    if recorded.points:
        text += " " + ngettext(
            "You earned %(points)s point for answering.",
            "You earned %(points)s points for answering.",
            recorded.points,
        ) % {"points": recorded.points}
    messages.success(request, text)


def _open_invitations(member: Member, now: datetime) -> QuerySet[SurveyInvitation]:
    return (
        SurveyInvitation.objects.filter(member=member, answered_at__isnull=True, expires_at__gt=now)
        .select_related("purchase__store")
        .order_by("-sent_at", "-id")
    )


class FeedbackView(MemberRequiredMixin, TemplateView):
    """Both surveys, each its own form (its own submit button, no JavaScript)."""

    template_name = "portal/analytics/feedback.html"

    def _purchases(self) -> QuerySet[Purchase]:
        since = timezone.now() - timedelta(days=RECENT_PURCHASE_DAYS)
        recent = (
            Purchase.objects.filter(member=self.member, occurred_at__gte=since)
            .select_related("store")
            .order_by("-occurred_at", "-id")
            .values_list("pk", flat=True)[:RECENT_PURCHASES]
        )
        # A sliced queryset cannot be filtered again: the form checks choices by pk.
        return (
            Purchase.objects.filter(pk__in=list(recent))
            .select_related("store")
            .order_by("-occurred_at", "-id")
        )

    def _forms(self, data: Any = None, kind: str | None = None) -> list[FeedbackAnswerForm]:
        purchases = self._purchases()
        return [
            FeedbackAnswerForm(data if name == kind else None, kind=name, purchases=purchases)
            for name in SurveyKind.values
        ]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        forms = kwargs.pop("forms", None) or self._forms()
        language = self.member.language
        surveys = [
            {"form": form, "question": survey_settings_get(kind=form.kind).question(language)}
            for form in forms
        ]
        return super().get_context_data(
            surveys=surveys,
            invitations=list(_open_invitations(self.member, timezone.now())[:5]),
            **kwargs,
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        kind = request.POST.get("kind", "")
        if kind not in SurveyKind.values:
            return redirect("portal:feedback")
        forms = self._forms(request.POST, kind)
        form = next(form for form in forms if form.kind == kind)
        if form.is_valid():
            try:
                recorded = feedback_record(
                    kind=kind,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                    member=self.member,
                    purchase=form.cleaned_data.get("purchase"),
                    source=FeedbackSource.PORTAL,
                    actor=Actor.from_request(request),
                )
            except DomainError as error:
                form_errors_from(form, error)
            else:
                _thanks(request, recorded)
                return redirect("portal:feedback")
        return self.render_to_response(self.get_context_data(forms=forms))


class SurveyView(MemberRequiredMixin, TemplateView):
    """The survey of one invitation (the member's own; another's is not found)."""

    template_name = "portal/analytics/survey.html"

    @cached_property
    def invitation(self) -> SurveyInvitation:
        return get_object_or_404(
            SurveyInvitation.objects.select_related("purchase__store"),
            pk=self.kwargs["invitation_id"],
            member=self.member,
        )

    def _closed(self) -> HttpResponse | None:
        invitation = self.invitation
        if invitation.answered_at is not None:
            messages.info(self.request, _("You answered this survey already: thank you."))
        elif invitation.expires_at <= timezone.now():
            messages.info(
                self.request,
                _("This survey has closed. You can still tell us how we are doing here."),
            )
        else:
            return None
        return redirect("portal:feedback")

    def _form(self, data: Any = None) -> FeedbackAnswerForm:
        initial = {}
        chosen = self.request.GET.get("score", "")
        if chosen.isdigit():
            initial["score"] = int(chosen)
        return FeedbackAnswerForm(data, kind=self.invitation.kind, initial=initial)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._closed() or super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        survey = survey_settings_get(kind=self.invitation.kind)
        return super().get_context_data(
            invitation=self.invitation,
            purchase=self.invitation.purchase,
            question=survey.question(self.member.language),
            form=kwargs.pop("form", None) or self._form(),
            **kwargs,
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        closed = self._closed()
        if closed is not None:
            return closed
        form = self._form(request.POST)
        if form.is_valid():
            try:
                recorded = feedback_record(
                    kind=self.invitation.kind,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                    member=self.member,
                    invitation=self.invitation,
                    source=FeedbackSource.INVITATION,
                    actor=Actor.from_request(request),
                )
            except SurveyClosed:
                messages.info(request, _("You answered this survey already: thank you."))
                return redirect("portal:feedback")
            except DomainError as error:
                form_errors_from(form, error)
            else:
                _thanks(request, recorded)
                return redirect("portal:home")
        return self.render_to_response(self.get_context_data(form=form))


def feedback_panel(member: Member, now: datetime) -> PortalPanel | None:
    """The home page's panel: the member's latest open invitation, else a
    link to the feedback page (one query)."""
    invitation = _open_invitations(member, now).first()
    return PortalPanel("portal/analytics/feedback_panel.html", {"invitation": invitation})
