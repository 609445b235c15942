"""The marketers' pages of campaigns: the list (status, points awarded,
members reached), create (the kind first, then its form), edit, pause,
resume, end, duplicate. Every write goes through campaigns.services, which
audits it."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from campaigns.errors import CampaignStatusRefused
from campaigns.models import SALE_KINDS, Campaign, CampaignKind, CampaignStatus
from campaigns.selectors import campaign_figures, campaign_list, campaign_status
from campaigns.services import (
    campaign_create,
    campaign_duplicate,
    campaign_status_set,
    campaign_update,
)
from campaigns.staff_forms import KIND_DESCRIPTIONS, BacktestForm, CampaignFilterForm, CampaignForm
from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import DomainError
from loyalty.roles import MANAGE_MARKETING

# The buttons of a campaign in each status: (status to move to, label).
ACTIONS = {
    CampaignStatus.DRAFT: [(CampaignStatus.SCHEDULED, "Schedule"), (CampaignStatus.ENDED, "End")],
    CampaignStatus.SCHEDULED: [
        (CampaignStatus.DRAFT, "Back to draft"),
        (CampaignStatus.PAUSED, "Pause"),
        (CampaignStatus.ENDED, "End"),
    ],
    CampaignStatus.ACTIVE: [(CampaignStatus.PAUSED, "Pause"), (CampaignStatus.ENDED, "End")],
    CampaignStatus.PAUSED: [(CampaignStatus.SCHEDULED, "Resume"), (CampaignStatus.ENDED, "End")],
    CampaignStatus.ENDED: [],
}


def action_labels() -> dict[str, str]:
    return {
        "Schedule": _("Schedule"),
        "End": _("End"),
        "Back to draft": _("Back to draft"),
        "Pause": _("Pause"),
        "Resume": _("Resume"),
    }


def _rows(campaigns: list[Campaign]) -> list[dict[str, Any]]:
    now = timezone.now()
    figures = campaign_figures(campaign_ids=[c.pk for c in campaigns])
    labels = action_labels()
    rows = []
    for campaign in campaigns:
        status = campaign_status(campaign=campaign, now=now)
        rows.append(
            {
                "campaign": campaign,
                "status": status,
                "status_label": CampaignStatus(status).label,
                "figures": figures.get(campaign.pk),
                "actions": [(to, labels[label]) for to, label in ACTIONS[status]],
            }
        )
    return rows


class CampaignListView(StaffRequiredMixin, TemplateView):
    permission_required = MANAGE_MARKETING
    template_name = "staff/campaigns/campaign_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        filters = CampaignFilterForm(self.request.GET or None)
        values = filters.cleaned_data if filters.is_valid() else {}
        campaigns = list(campaign_list())
        rows = _rows(campaigns)
        if values.get("status"):
            rows = [row for row in rows if row["status"] == values["status"]]
        if values.get("kind"):
            rows = [row for row in rows if row["campaign"].kind == values["kind"]]
        return super().get_context_data(
            rows=rows, filters=filters, filtered=bool(self.request.GET), **kwargs
        )


class _FormErrorsMixin:
    def _show(self, form: CampaignForm, error: DomainError) -> None:
        for name, field_messages in (error.fields or {}).items():
            for message in field_messages:
                form.add_error(form.error_field(name), message)
        if not error.fields:
            form.add_error(None, error.message)


class CampaignCreateView(StaffRequiredMixin, _FormErrorsMixin, FormView):
    """Without `?kind=`: the kinds to choose from. With it: that kind's form."""

    permission_required = MANAGE_MARKETING
    template_name = "staff/campaigns/campaign_form.html"

    @cached_property
    def kind(self) -> str | None:
        kind = self.request.GET.get("kind") or self.request.POST.get("kind")
        return kind if kind in CampaignKind.values else None

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.kind is None:
            kinds = [(kind, label, KIND_DESCRIPTIONS[kind]) for kind, label in CampaignKind.choices]
            return TemplateResponse(request, "staff/campaigns/campaign_kind.html", {"kinds": kinds})
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.kind is None:
            return redirect("staff:campaign_create")
        return super().post(request, *args, **kwargs)

    def get_form(self, form_class: type | None = None) -> CampaignForm:
        return CampaignForm(
            **self.get_form_kwargs(),
            kind=self.kind,
            instance=Campaign(kind=self.kind, starts_at=timezone.now()),
        )

    def get_initial(self) -> dict[str, Any]:
        return {"starts_at": timezone.localtime().replace(second=0, microsecond=0)}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            kind=self.kind, kind_label=CampaignKind(self.kind).label, **kwargs
        )

    def form_valid(self, form: CampaignForm) -> HttpResponse:
        go_live = "schedule" in self.request.POST
        try:
            campaign = campaign_create(
                actor=Actor.from_request(self.request),
                kind=self.kind,
                tiers=list(form.cleaned_data["tiers"]),
                stores=list(form.cleaned_data["stores"]),
                status=CampaignStatus.SCHEDULED if go_live else CampaignStatus.DRAFT,
                **form.changes(),
            )
        except DomainError as error:
            self._show(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Campaign %(name)s created.") % {"name": campaign.name})
        return redirect("staff:campaign_list")


class CampaignPageMixin(StaffRequiredMixin):
    permission_required: str | tuple[str, ...] = MANAGE_MARKETING

    @cached_property
    def campaign(self) -> Campaign:
        return get_object_or_404(
            Campaign.objects.prefetch_related("tiers", "stores"), pk=self.kwargs["campaign_id"]
        )


class CampaignUpdateView(CampaignPageMixin, _FormErrorsMixin, FormView):
    template_name = "staff/campaigns/campaign_form.html"

    def get_form(self, form_class: type | None = None) -> CampaignForm:
        # A fresh copy: the form writes its values onto its instance while validating.
        instance = Campaign.objects.get(pk=self.campaign.pk)
        return CampaignForm(**self.get_form_kwargs(), kind=instance.kind, instance=instance)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        row = _rows([self.campaign])[0]
        return super().get_context_data(
            campaign=self.campaign,
            row=row,
            kind=self.campaign.kind,
            kind_label=self.campaign.get_kind_display(),
            read_only=row["status"] == CampaignStatus.ENDED,
            backtest_form=self._backtest_form() if self.campaign.kind in SALE_KINDS else None,
            **kwargs,
        )

    def _backtest_form(self) -> BacktestForm:
        """The back-test's range (the page purchases.backtest_views serves),
        by default the last 30 days."""
        today = timezone.localdate()
        return BacktestForm(
            initial={"date_from": today - timedelta(days=30), "date_to": today},
            prefix="backtest",
        )

    def form_valid(self, form: CampaignForm) -> HttpResponse:
        try:
            campaign_update(
                actor=Actor.from_request(self.request),
                campaign=self.campaign,
                tiers=list(form.cleaned_data["tiers"]),
                stores=list(form.cleaned_data["stores"]),
                **form.changes(),
            )
        except DomainError as error:
            self._show(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Campaign %(name)s saved.") % {"name": form.cleaned_data["name"]}
        )
        return redirect("staff:campaign_list")


class CampaignStatusView(CampaignPageMixin, TemplateView):
    """POST only: pause, resume, end, schedule, back to draft."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
        status = request.POST.get("status", "")
        if status not in CampaignStatus.values:
            raise Http404
        try:
            campaign = campaign_status_set(
                actor=Actor.from_request(request), campaign=self.campaign, status=status
            )
        except CampaignStatusRefused as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Campaign %(name)s is now %(status)s.")
                % {
                    "name": campaign.name,
                    "status": CampaignStatus(
                        campaign_status(campaign=campaign, now=timezone.now())
                    ).label.lower(),
                },
            )
        if request.POST.get("next") == "edit":
            return redirect("staff:campaign_update", self.campaign.pk)
        return redirect("staff:campaign_list")


class CampaignDuplicateView(CampaignPageMixin, TemplateView):
    """POST only: a draft copy, opened for editing."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
        copy = campaign_duplicate(actor=Actor.from_request(request), campaign=self.campaign)
        messages.success(
            request, _("Draft %(name)s made: check it and schedule it.") % {"name": copy.name}
        )
        return redirect("staff:campaign_update", copy.pk)
