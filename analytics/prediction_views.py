"""Back-office pages of the predictions.

- At risk (marketers and managers, `view_analytics`): active members whose
  predicted churn risk is high and whose predicted 12-month value or spend to
  date is high, filterable by tier and home store, paginated, with the fit
  they come from; "make a segment" (a POST, `manage_marketing`) saves the same
  filter as a segment, audited as every segment is.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from analytics.prediction_forms import AtRiskFilterForm, AtRiskSegmentForm
from analytics.predictions import (
    at_risk_rules,
    at_risk_segment_create,
    members_at_risk,
    prediction_latest_fit,
)
from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.forms import form_errors_from
from loyalty.roles import MANAGE_MARKETING, VIEW_ANALYTICS

AT_RISK_PAGE = 50


class AtRiskView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW_ANALYTICS  # to read; making a segment needs MANAGE_MARKETING
    template_name = "staff/analytics/at_risk.html"

    def get_permission_required(self) -> tuple[str, ...]:
        if self.request.method == "POST":
            return (MANAGE_MARKETING,)
        return (VIEW_ANALYTICS,)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        data: QueryDict = kwargs.pop("filter_data", self.request.GET)
        form = AtRiskFilterForm(data or None)
        choice = form.choice()
        members = members_at_risk(rules=at_risk_rules(**choice))
        page = Paginator(members, AT_RISK_PAGE).get_page(self.request.GET.get("page"))
        initial = {
            "risk": choice["risk_percent"],
            "value": choice["value_min"],
            "tier": choice["tier"],
            "home_store": choice["home_store"],
        }
        kwargs.setdefault("segment_form", AtRiskSegmentForm(initial=initial))
        return super().get_context_data(
            form=form,
            choice=choice,
            page_obj=page,
            members=page.object_list,
            fit=prediction_latest_fit(),
            can_make_segment=self.request.user.has_perm(MANAGE_MARKETING),
            **kwargs,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = AtRiskSegmentForm(request.POST)
        if form.is_valid():
            try:
                segment = at_risk_segment_create(
                    actor=Actor.from_request(request),
                    name=form.cleaned_data["name"],
                    rules=at_risk_rules(**form.choice()),
                )
            except ValidationFailed as exc:
                form_errors_from(form, exc)
            else:
                messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
                return redirect("staff:segment_update", segment.pk)
        context = self.get_context_data(segment_form=form, filter_data=request.POST)
        return self.render_to_response(context, status=400)
