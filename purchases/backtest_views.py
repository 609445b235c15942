"""The back-test button of a campaign's page and its result page
(purchases.backtest). A range of at most INLINE_PURCHASES_MAX purchases runs
while the page is posted; a larger one as a Celery task, whose status row
the result page shows as a progress bar: static/js/backtest.js polls the
small JSON status endpoint, and without JavaScript the page reloads itself
until the run is over."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from campaigns.models import Campaign
from campaigns.staff_forms import BacktestForm
from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.roles import MANAGE_MARKETING
from loyalty.selectors import program_settings_get
from purchases.backtest import (
    INLINE_PURCHASES_MAX,
    backtest_purchase_count,
    backtest_range,
    backtest_start,
    campaign_backtest,
)
from purchases.models import BacktestStatus, CampaignBacktest


class _CampaignMixin(StaffRequiredMixin):
    permission_required = MANAGE_MARKETING

    @cached_property
    def campaign(self) -> Campaign:
        return get_object_or_404(
            Campaign.objects.prefetch_related("tiers", "stores"), pk=self.kwargs["campaign_id"]
        )

    @cached_property
    def run(self) -> CampaignBacktest:
        return get_object_or_404(
            CampaignBacktest, pk=self.kwargs["run_id"], campaign_id=self.kwargs["campaign_id"]
        )


class BacktestCreateView(_CampaignMixin, View):
    """POST only, from the campaign's page."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
        form = BacktestForm(request.POST, prefix="backtest")
        back = redirect("staff:campaign_update", self.campaign.pk)
        if not form.is_valid():
            for errors in form.errors.values():
                for message in errors:
                    messages.error(request, message)
            return back
        actor = Actor.from_request(request)
        try:
            window = backtest_range(
                start=form.cleaned_data["date_from"], end=form.cleaned_data["date_to"]
            )
            total = backtest_purchase_count(window)
            if total > INLINE_PURCHASES_MAX:
                run = backtest_start(actor=actor, campaign=self.campaign, window=window)
            else:
                run = CampaignBacktest.objects.create(
                    campaign=self.campaign,
                    starts_at=window.starts_at,
                    ends_at=window.ends_at,
                    status=BacktestStatus.RUNNING,
                    purchases_total=total,
                    created_by=actor.user,
                )
                campaign_backtest(
                    actor=actor,
                    campaign=self.campaign,
                    window=window,
                    program=program_settings_get(),
                    run=run,
                )
        except ValidationFailed as error:
            for field_messages in (error.fields or {}).values():
                for message in field_messages:
                    messages.error(request, message)
            if not error.fields:
                messages.error(request, error.message)
            return back
        return redirect("staff:campaign_backtest_detail", self.campaign.pk, run.pk)


class BacktestDetailView(_CampaignMixin, TemplateView):
    template_name = "staff/purchases/backtest_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        run = self.run
        return super().get_context_data(
            campaign=self.campaign,
            run=run,
            pending=run.status in (BacktestStatus.QUEUED, BacktestStatus.RUNNING),
            **kwargs,
        )


class BacktestStatusView(_CampaignMixin, View):
    """The run's progress as JSON, for static/js/backtest.js."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        run = self.run
        return JsonResponse(
            {
                "status": run.status,
                "status_label": BacktestStatus(run.status).label,
                "purchases_total": run.purchases_total,
                "purchases_done": run.purchases_done,
                "percent": run.percent,
                "label": _("%(done)s of %(total)s purchases")
                % {"done": run.purchases_done, "total": run.purchases_total},
            }
        )
