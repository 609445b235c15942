"""Back-office pages of segments (marketers and managers): the list with
member counts, the rule builder with its live count and preview, the CSV
export and deletion. Every write goes through members.segments."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import ListView, TemplateView

from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import DomainError, ValidationFailed
from loyalty.roles import EXPORT_PERMISSIONS, MANAGE_MARKETING
from members.models import Member, RfmClass, Segment
from members.segment_forms import MAX_GROUPS, SegmentBuilder
from members.segments import (
    FIELDS,
    OP_LABELS,
    segment_count,
    segment_create,
    segment_delete,
    segment_list,
    segment_rules_clean,
    segment_rules_queryset,
    segment_update,
)
from members.segments_api import segment_csv_response

PREVIEW_SIZE = 10


class SegmentListView(StaffRequiredMixin, ListView):
    permission_required = MANAGE_MARKETING
    template_name = "staff/members/segment_list.html"
    context_object_name = "segments"

    def get_queryset(self) -> list[Segment]:
        segments = list(segment_list())
        for segment in segments:
            segment.member_count = segment_count(segment)
        return segments


def _preview(rules: dict[str, Any]) -> tuple[int, list[Member]]:
    members = segment_rules_queryset(rules=rules).select_related("tier")
    return members.count(), list(members[:PREVIEW_SIZE])


def _named(data: QueryDict) -> QueryDict:
    """The form's data with a stand-in name: a preview needs rules, not a name yet."""
    if data.get("name", "").strip():
        return data
    data = data.copy()
    data["name"] = "-"
    return data


class SegmentBuilderView(StaffRequiredMixin, View):
    """Create (no segment_id) or edit a segment."""

    permission_required = MANAGE_MARKETING
    template_name = "staff/members/segment_form.html"

    @cached_property
    def segment(self) -> Segment | None:
        if "segment_id" not in self.kwargs:
            return None
        return get_object_or_404(Segment, pk=self.kwargs["segment_id"])

    def _render(self, builder: SegmentBuilder, preview: tuple[int, list[Member]] | None) -> Any:
        context = {
            "segment": self.segment,
            "builder": builder,
            "preview": preview,
            "fields_help": [(name, spec) for name, spec in FIELDS.items()],
            "op_labels": OP_LABELS,
            "rfm_classes": RfmClass.choices,
            "can_add_group": len(builder.groups) < MAX_GROUPS,
        }
        return render(self.request, self.template_name, context)

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        segment = self.segment
        if segment is None:
            return self._render(SegmentBuilder(), None)
        builder = SegmentBuilder(
            initial={"name": segment.name, "description": segment.description},
            rules=segment.rules,
        )
        return self._render(builder, _preview(segment.rules))

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        action = request.POST.get("action", "save")
        builder = SegmentBuilder(_named(request.POST) if action == "preview" else request.POST)
        if action.startswith("add:"):
            return self._render(builder.grown(request.POST, action), None)
        if not builder.is_valid():
            return self._render(builder, None)
        rules = builder.rules()
        values = builder.form.cleaned_data
        try:
            if action == "preview":
                return self._render(builder, _preview(segment_rules_clean(rules)))
            actor = Actor.from_request(request)
            if self.segment is None:
                segment = segment_create(
                    actor=actor,
                    name=values["name"],
                    description=values["description"],
                    rules=rules,
                )
            else:
                segment = segment_update(
                    actor=actor,
                    segment=self.segment,
                    name=values["name"],
                    description=values["description"],
                    rules=rules,
                )
        except DomainError as error:
            builder.show_refusal(error)
            return self._render(builder, None)
        messages.success(request, _("Segment %(name)s saved.") % {"name": segment.name})
        return redirect("staff:segment_update", segment_id=segment.pk)


class SegmentPreviewView(StaffRequiredMixin, View):
    """The builder's live count and first members, as JSON, from the form as
    it stands (static/js/segments.js posts it on each change)."""

    permission_required = MANAGE_MARKETING

    def post(self, request: HttpRequest) -> JsonResponse:
        builder = SegmentBuilder(_named(request.POST))
        if not builder.is_valid():
            return JsonResponse({"count": None, "members": [], "errors": [_("Check the rows.")]})
        try:
            count, members = _preview(segment_rules_clean(builder.rules()))
        except ValidationFailed as error:
            problems = [m for messages_ in (error.fields or {}).values() for m in messages_]
            return JsonResponse({"count": None, "members": [], "errors": problems[:5]})
        return JsonResponse(
            {
                "count": count,
                "count_label": ngettext(
                    "%(count)s member matches now.", "%(count)s members match now.", count
                )
                % {"count": count},
                "members": [
                    {
                        "name": str(member),
                        "card_number": member.card_number,
                        "tier": str(member.tier) if member.tier else "",
                    }
                    for member in members
                ],
                "errors": [],
            }
        )


class SegmentPageMixin(StaffRequiredMixin):
    permission_required: str | tuple[str, ...] = MANAGE_MARKETING

    @cached_property
    def segment(self) -> Segment:
        return get_object_or_404(Segment, pk=self.kwargs["segment_id"])


class SegmentExportView(SegmentPageMixin, View):
    permission_required = EXPORT_PERMISSIONS["segment"]

    def get(self, request: HttpRequest, **kwargs: Any) -> StreamingHttpResponse:
        return segment_csv_response(request, self.segment)


class SegmentDeleteView(SegmentPageMixin, TemplateView):
    template_name = "staff/members/segment_confirm_delete.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(segment=self.segment, **kwargs)

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            segment_delete(actor=Actor.from_request(request), segment=self.segment)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("staff:segment_delete", segment_id=self.segment.pk)
        messages.success(request, _("Segment %(name)s deleted.") % {"name": self.segment.name})
        return redirect("staff:segment_list")
