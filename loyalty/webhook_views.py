"""Back-office pages of webhooks (managers): endpoints, their delivery log,
resend and re-enable. Every write goes through loyalty.webhooks, audited."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import DomainError
from loyalty.forms import WebhookEndpointForm, form_errors_from
from loyalty.models import WebhookDelivery, WebhookEndpoint
from loyalty.roles import MANAGE_PROGRAM
from loyalty.selectors import (
    webhook_delivery_list,
    webhook_endpoint_list,
    webhook_endpoints_disabled,
)
from loyalty.webhooks import (
    webhook_delivery_resend,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
)


class _WebhookPage(StaffRequiredMixin):
    """Managers only; every page shows the notice of endpoints the relay disabled."""

    permission_required = MANAGE_PROGRAM

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["disabled_endpoints"] = list(webhook_endpoints_disabled())
        return context


class WebhookListView(_WebhookPage, ListView):
    template_name = "staff/loyalty/webhookendpoint_list.html"
    context_object_name = "endpoints"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return webhook_endpoint_list()


class WebhookCreateView(_WebhookPage, FormView):
    template_name = "staff/loyalty/webhookendpoint_form.html"
    form_class = WebhookEndpointForm

    def form_valid(self, form: WebhookEndpointForm) -> HttpResponse:
        try:
            issued = webhook_endpoint_create(
                actor=Actor.from_request(self.request), **form.cleaned_data
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        # The secret is shown once, in this response.
        response = render(
            self.request,
            "staff/loyalty/webhookendpoint_created.html",
            {"endpoint": issued.endpoint, "secret": issued.secret},
        )
        response["Cache-Control"] = "no-store"
        return response


class _OneEndpoint(_WebhookPage):
    kwargs: dict[str, Any]

    @cached_property
    def endpoint(self) -> WebhookEndpoint:
        # Looked up by the handlers, after the permission check (a visitor
        # without it learns nothing of which endpoints exist).
        return get_object_or_404(WebhookEndpoint, pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(endpoint=self.endpoint, **kwargs)


class WebhookUpdateView(_OneEndpoint, FormView):
    template_name = "staff/loyalty/webhookendpoint_form.html"
    form_class = WebhookEndpointForm

    def get_initial(self) -> dict[str, Any]:
        return {
            "url": self.endpoint.url,
            "description": self.endpoint.description,
            "events": self.endpoint.events,
            "active": self.endpoint.active,
        }

    def form_valid(self, form: WebhookEndpointForm) -> HttpResponse:
        try:
            webhook_endpoint_update(
                actor=Actor.from_request(self.request),
                endpoint=self.endpoint,
                **form.cleaned_data,
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Webhook endpoint saved."))
        return redirect("staff:webhook_list")


class WebhookDeleteView(_OneEndpoint, TemplateView):
    template_name = "staff/loyalty/webhookendpoint_confirm_delete.html"

    def post(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        webhook_endpoint_delete(actor=Actor.from_request(request), endpoint=self.endpoint)
        messages.success(request, _("Webhook endpoint deleted."))
        return redirect("staff:webhook_list")


class WebhookEnableView(_OneEndpoint, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        webhook_endpoint_update(
            actor=Actor.from_request(request), endpoint=self.endpoint, active=True
        )
        messages.success(
            request, _("Webhook endpoint enabled: the deliveries it missed are being sent.")
        )
        return redirect("staff:webhook_deliveries", pk=self.endpoint.pk)


class WebhookDeliveriesView(_OneEndpoint, ListView):
    template_name = "staff/loyalty/webhookdelivery_list.html"
    context_object_name = "deliveries"
    paginate_by = 25

    def get_queryset(self) -> Any:
        return webhook_delivery_list(endpoint=self.endpoint)


class WebhookResendView(StaffRequiredMixin, View):
    permission_required = MANAGE_PROGRAM

    def post(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        delivery = get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=pk)
        webhook_delivery_resend(actor=Actor.from_request(request), delivery=delivery)
        if delivery.endpoint.active:
            messages.success(request, _("The event is being sent again."))
        else:
            messages.warning(
                request, _("The event will be sent again once the endpoint is enabled.")
            )
        return redirect("staff:webhook_deliveries", pk=delivery.endpoint_id)
