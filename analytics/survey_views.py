"""Back-office pages of surveys and service recovery.

- Surveys (marketers and managers, `view_analytics`): NPS and CSAT of a
  period and store with their definitions, the trend by week or month as a
  table, the latest answers, the CSV export of the answers (audited: it
  carries members' comments); each survey's settings (`manage_marketing`,
  audited, refused when they cannot work).
- Follow-ups (store staff and managers, `serve_counter`): the queue of
  detractors' answers in open, overdue and closed tabs, with what following
  up changes (later NPS, buying again) against not following up; one
  follow-up's page, where staff note what they did, may give goodwill
  points, and close it. Store staff given a store see that store's only.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView

from analytics.feedback import (
    FOLLOW_UP_TABS,
    feedback_export_rows,
    feedback_figure,
    feedback_list,
    feedback_trend,
    follow_up_comparison,
    follow_up_counts,
    follow_up_store_scope,
    follow_ups_tab,
    follow_ups_visible,
    survey_settings_all,
    survey_settings_get,
)
from analytics.models import FollowUp, FollowUpStatus, SurveyKind
from analytics.recovery import follow_up_save
from analytics.survey_forms import (
    FollowUpForm,
    RecoveryFilterForm,
    SurveyPeriodForm,
    SurveySettingsForm,
)
from analytics.surveys import survey_settings_update
from campaigns.models import CampaignKind
from campaigns.selectors import campaigns_active
from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.csv_files import csv_download
from loyalty.errors import DomainError
from loyalty.forms import form_errors_from
from loyalty.roles import MANAGE_MARKETING, SERVE_COUNTER, VIEW_ANALYTICS
from loyalty.services import audit_record

LATEST_ANSWERS = 20
QUEUE_PAGE = 50


# --- Surveys -------------------------------------------------------------------------------------


class SurveyOverviewView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW_ANALYTICS
    template_name = "staff/analytics/survey_overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        form = SurveyPeriodForm(self.request.GET or None)
        start, end, store, step = form.period()
        surveys = [
            {
                "settings": survey,
                "figure": feedback_figure(kind=survey.kind, start=start, end=end, store=store),
                "trend": feedback_trend(
                    kind=survey.kind, start=start, end=end, store=store, period=step
                ),
            }
            for survey in survey_settings_all()
        ]
        query = self.request.GET.urlencode() if form.is_valid() else ""
        return super().get_context_data(
            form=form,
            start=start,
            end=end,
            store=store,
            step=step,
            surveys=surveys,
            answers=list(feedback_list(start=start, end=end, store=store)[:LATEST_ANSWERS]),
            export_query=query,
            **kwargs,
        )


class FeedbackExportView(StaffRequiredMixin, View):
    """The period's answers (same filters as the overview) as a CSV download."""

    permission_required = VIEW_ANALYTICS
    http_method_names = ["get"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        start, end, store, _step = SurveyPeriodForm(request.GET or None).period()
        kind = request.GET.get("kind")
        kind = kind if kind in SurveyKind.values else None
        audit_record(
            actor=Actor.from_request(request),
            action="feedback.export",
            after={
                "from": start.isoformat(),
                "to": end.isoformat(),
                "store": store.code if store else None,
                "kind": kind,
            },
        )
        rows = feedback_export_rows(start=start, end=end, store=store, kind=kind)
        return csv_download(rows, filename=f"feedback-{start.isoformat()}-{end.isoformat()}.csv")


class SurveySettingsView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_MARKETING
    template_name = "staff/analytics/surveysettings_form.html"
    form_class = SurveySettingsForm

    @cached_property
    def kind(self) -> str:
        kind = self.kwargs["kind"]
        if kind not in SurveyKind.values:
            raise Http404
        return kind

    def get_form_kwargs(self) -> dict[str, Any]:
        # A fresh instance: the form writes its values onto it while validating.
        return {**super().get_form_kwargs(), "instance": survey_settings_get(kind=self.kind)}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        survey = survey_settings_get(kind=self.kind)
        paying = [
            campaign
            for campaign in campaigns_active(now=timezone.now(), kinds=[CampaignKind.EVENT])
            if survey.answer_event and campaign.params.event == survey.answer_event
        ]
        return super().get_context_data(survey=survey, paying=paying, **kwargs)

    def form_valid(self, form: SurveySettingsForm) -> HttpResponse:
        try:
            survey_settings_update(
                actor=Actor.from_request(self.request), kind=self.kind, **form.cleaned_data
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("%(survey)s settings saved.") % {"survey": SurveyKind(self.kind).label},
        )
        return redirect("staff:survey_overview")


# --- Follow-ups ----------------------------------------------------------------------------------


class FollowUpListView(StaffRequiredMixin, TemplateView):
    permission_required = SERVE_COUNTER
    template_name = "staff/analytics/followup_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        now = timezone.now()
        user = self.request.user
        scope = follow_up_store_scope(user)
        form = RecoveryFilterForm(self.request.GET or None)
        store, retention_days = form.values()
        follow_ups = follow_ups_visible(user=user)
        if scope is None and store is not None:
            follow_ups = follow_ups.filter(store=store)
        tab = self.request.GET.get("tab", "open")
        tab = tab if tab in FOLLOW_UP_TABS else "open"
        page_obj = Paginator(follow_ups_tab(follow_ups, tab=tab, now=now), QUEUE_PAGE).get_page(
            self.request.GET.get("page")
        )
        comparison = follow_up_comparison(follow_ups, now=now, retention_days=retention_days)
        return super().get_context_data(
            form=form,
            scope=scope,
            tab=tab,
            tabs=FOLLOW_UP_TABS,
            counts=follow_up_counts(follow_ups, now=now),
            page_obj=page_obj,
            follow_ups=page_obj.object_list,
            comparison=comparison,
            comparison_rows=[
                (_("Followed up"), comparison.followed_up),
                (_("Not followed up (overdue)"), comparison.not_followed_up),
            ],
            now=now,
            **kwargs,
        )


class FollowUpDetailView(StaffRequiredMixin, FormView):
    permission_required = SERVE_COUNTER
    template_name = "staff/analytics/followup_detail.html"
    form_class = FollowUpForm

    @cached_property
    def follow_up(self) -> FollowUp:
        # Another store's follow-up is not found for a store-bound account.
        return get_object_or_404(
            follow_ups_visible(user=self.request.user).select_related(
                "feedback__invitation", "feedback__store", "member__account", "updated_by"
            ),
            pk=self.kwargs["pk"],
        )

    def get_initial(self) -> dict[str, Any]:
        return {"note": self.follow_up.note, "goodwill_points": 0}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        follow_up = self.follow_up
        survey = survey_settings_get(kind=follow_up.feedback.kind)
        return super().get_context_data(
            follow_up=follow_up,
            feedback=follow_up.feedback,
            member=follow_up.member,
            question=survey.question(follow_up.member.language),
            overdue=follow_up.is_overdue(),
            closed=follow_up.status == FollowUpStatus.CLOSED,
            **kwargs,
        )

    def form_valid(self, form: FollowUpForm) -> HttpResponse:
        close = self.request.POST.get("action") == "close"
        try:
            follow_up_save(
                actor=Actor.from_request(self.request),
                follow_up=self.follow_up,
                note=form.cleaned_data["note"],
                goodwill_points=form.cleaned_data["goodwill_points"] or 0,
                close=close,
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        if close:
            messages.success(self.request, _("Follow-up closed. Thank you for looking after it."))
            return redirect("staff:follow_up_list")
        messages.success(self.request, _("Follow-up saved."))
        return redirect("staff:follow_up_detail", self.follow_up.pk)
