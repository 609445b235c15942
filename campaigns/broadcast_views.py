"""The marketers' pages of broadcasts (campaigns.broadcasts): the list with
status and figures, compose and edit, and a broadcast's page with its
preview in both languages in a phone-sized frame, its buttons (send now,
schedule, cancel), its figures and, while it is sending, a progress bar
(static/js/broadcast.js polls the JSON status view, as the back-test's page
does; without JavaScript the page reloads itself)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView

from campaigns.broadcast_forms import BroadcastForm, BroadcastScheduleForm
from campaigns.broadcast_selectors import broadcast_figures, broadcast_list, broadcast_preview
from campaigns.broadcasts import (
    CANCELLABLE,
    EDITABLE,
    broadcast_cancel,
    broadcast_create,
    broadcast_schedule,
    broadcast_send_now,
    broadcast_update,
)
from campaigns.models import Broadcast, BroadcastStatus
from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import DomainError, ValidationFailed
from loyalty.forms import form_errors_from
from loyalty.roles import MANAGE_MARKETING


class BroadcastListView(StaffRequiredMixin, TemplateView):
    permission_required = MANAGE_MARKETING
    template_name = "staff/campaigns/broadcast_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        broadcasts = list(broadcast_list()[:200])
        figures = broadcast_figures(broadcasts=broadcasts)
        rows = [{"broadcast": b, "figures": figures[b.pk]} for b in broadcasts]
        return super().get_context_data(rows=rows, **kwargs)


class BroadcastCreateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_MARKETING
    template_name = "staff/campaigns/broadcast_form.html"
    form_class = BroadcastForm

    def form_valid(self, form: BroadcastForm) -> HttpResponse:
        try:
            broadcast = broadcast_create(actor=Actor.from_request(self.request), **form.changes())
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Draft saved: check the preview, then send or schedule."))
        return redirect("staff:broadcast_detail", broadcast.pk)


class BroadcastPageMixin(StaffRequiredMixin):
    permission_required = MANAGE_MARKETING

    @cached_property
    def broadcast(self) -> Broadcast:
        return get_object_or_404(
            Broadcast.objects.select_related("segment", "reward", "campaign", "created_by"),
            pk=self.kwargs["broadcast_id"],
        )

    def back(self) -> HttpResponseRedirect:
        return redirect("staff:broadcast_detail", self.broadcast.pk)


class BroadcastUpdateView(BroadcastPageMixin, FormView):
    template_name = "staff/campaigns/broadcast_form.html"
    form_class = BroadcastForm

    # After the role check of dispatch, so an outsider never learns what exists.
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._refused() or super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._refused() or super().post(request, *args, **kwargs)

    def _refused(self) -> HttpResponse | None:
        if self.broadcast.status in EDITABLE:
            return None
        messages.error(
            self.request, _("A broadcast that is sending, sent or cancelled cannot change.")
        )
        return self.back()

    def get_form_kwargs(self) -> dict[str, Any]:
        # A fresh copy: the form writes its values onto its instance while validating.
        return {
            **super().get_form_kwargs(),
            "instance": Broadcast.objects.get(pk=self.broadcast.pk),
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(broadcast=self.broadcast, **kwargs)

    def form_valid(self, form: BroadcastForm) -> HttpResponse:
        try:
            broadcast_update(
                actor=Actor.from_request(self.request), broadcast=self.broadcast, **form.changes()
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Broadcast saved."))
        return self.back()


class BroadcastDetailView(BroadcastPageMixin, TemplateView):
    template_name = "staff/campaigns/broadcast_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        broadcast = self.broadcast
        languages = dict(settings.LANGUAGES)
        previews = [
            {**broadcast_preview(broadcast, code), "label": languages[code]}
            for code in ("en", "ms")
        ]
        schedule_form = kwargs.pop("schedule_form", None) or BroadcastScheduleForm(
            initial={"scheduled_at": broadcast.scheduled_at}
        )
        return super().get_context_data(
            broadcast=broadcast,
            figures=broadcast_figures(broadcasts=[broadcast])[broadcast.pk],
            previews=previews,
            editable=broadcast.status in EDITABLE,
            cancellable=broadcast.status in CANCELLABLE,
            sending=broadcast.status == BroadcastStatus.SENDING,
            schedule_form=schedule_form,
            **kwargs,
        )


class _BroadcastActionView(BroadcastPageMixin, View):
    http_method_names = ["post"]

    def act(self, actor: Actor) -> str:
        raise NotImplementedError

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            message = self.act(Actor.from_request(request))
        except DomainError as error:
            for field_messages in (error.fields or {}).values():
                for text in field_messages:
                    messages.error(request, text)
            if not error.fields:
                messages.error(request, error.message)
        else:
            messages.success(request, message)
        return self.back()


class BroadcastSendView(_BroadcastActionView):
    def act(self, actor: Actor) -> str:
        broadcast = broadcast_send_now(actor=actor, broadcast=self.broadcast)
        if broadcast.status == BroadcastStatus.SENT:
            return _("Broadcast sent.")
        return _("Sending started: the figures fill in as the batches go out.")


class BroadcastScheduleView(_BroadcastActionView):
    def act(self, actor: Actor) -> str:
        form = BroadcastScheduleForm(self.request.POST)
        if not form.is_valid():
            raise ValidationFailed(
                fields={name: list(errors) for name, errors in form.errors.items()}
            )
        broadcast = broadcast_schedule(
            actor=actor, broadcast=self.broadcast, at=form.cleaned_data["scheduled_at"]
        )
        assert broadcast.scheduled_at is not None
        when = date_format(timezone.localtime(broadcast.scheduled_at), "SHORT_DATETIME_FORMAT")
        return _("Broadcast scheduled for %(when)s.") % {"when": when}


class BroadcastCancelView(_BroadcastActionView):
    def act(self, actor: Actor) -> str:
        broadcast_cancel(actor=actor, broadcast=self.broadcast)
        return _("Broadcast cancelled: it will not be sent.")


class BroadcastStatusView(BroadcastPageMixin, View):
    """The broadcast's progress as JSON, for static/js/broadcast.js."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        broadcast = Broadcast.objects.get(pk=self.broadcast.pk)
        return JsonResponse(
            {
                "status": broadcast.status,
                "status_label": BroadcastStatus(broadcast.status).label,
                "percent": broadcast.percent,
                "batches_total": broadcast.batches_total,
                "batches_done": broadcast.batches_done,
                "label": _("%(done)s of %(total)s batches")
                % {"done": broadcast.batches_done, "total": broadcast.batches_total},
            }
        )
