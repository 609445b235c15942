"""Segments (API.md, "Events, campaigns, segments, referrals"; scope `admin`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.actors import Actor
from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from loyalty.api.permissions import HasAdminScope
from loyalty.exports import export_download
from members.models import Member, Segment
from members.segments import (
    NAME_MAX_LENGTH,
    segment_count,
    segment_create,
    segment_get,
    segment_list,
    segment_members,
    segment_members_rows,
    segment_update,
)


class SegmentSerializer(serializers.Serializer):
    """A segment as API.md gives it; `rules` is checked by members.segments."""

    class Meta:
        ref_name = "Segment"

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    description = serializers.CharField(max_length=255, allow_blank=True, required=False)
    rules = serializers.JSONField(
        help_text='{"all"|"any": [rule | {"all"|"any": [rule, ...]}]}, a rule being '
        '{"field", "op", "value", "days"?}; see the integration guide.'
    )
    member_count = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_member_count(self, segment: Segment) -> int:
        return segment_count(segment)


class SegmentMemberSerializer(serializers.Serializer):
    class Meta:
        ref_name = "SegmentMember"

    id = serializers.CharField(source="public_id")
    card_number = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.EmailField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    tier = serializers.CharField(source="tier.code", allow_null=True, default=None)
    points_balance = serializers.IntegerField(source="account.balance")
    rfm_class = serializers.CharField(source="rfm.rfm_class", allow_null=True, default=None)
    joined_at = serializers.DateTimeField()

    def to_representation(self, member: Member) -> dict[str, Any]:
        data = super().to_representation(member)
        if not hasattr(member, "rfm"):
            data["rfm_class"] = None
        return data


class SegmentListApi(APIView):
    permission_classes = [HasAdminScope]

    @extend_schema(
        responses=page_of(SegmentSerializer(many=True), name="SegmentPage"),
        operation_id="segments_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            queryset=segment_list(), serializer_class=SegmentSerializer, request=request, view=self
        )

    @extend_schema(request=SegmentSerializer, responses={201: SegmentSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = SegmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        segment = segment_create(actor=Actor.from_request(request), **serializer.validated_data)
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetailApi(APIView):
    permission_classes = [HasAdminScope]

    @extend_schema(responses=SegmentSerializer)
    def get(self, request: Request, segment_id: int) -> Response:
        return Response(SegmentSerializer(segment_get(segment_id=segment_id)).data)

    @extend_schema(request=SegmentSerializer, responses=SegmentSerializer)
    def patch(self, request: Request, segment_id: int) -> Response:
        segment = segment_get(segment_id=segment_id)
        serializer = SegmentSerializer(segment, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        segment = segment_update(
            actor=Actor.from_request(request), segment=segment, **serializer.validated_data
        )
        return Response(SegmentSerializer(segment).data)


class _JsonOnly(BaseContentNegotiation):
    """`?format=csv` is this view's own parameter (DRF would read it as a
    renderer's name): answers, errors included, are JSON unless the view
    streams the CSV itself."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None


def segment_csv_response(request: HttpRequest | Request, segment: Segment) -> StreamingHttpResponse:
    """The segment's members as a streamed CSV download (API and back-office),
    audited as `segment.export` on the segment (who: the user or the API key),
    without a count: counting would run the segment's rules twice."""
    return export_download(
        request=request,
        kind="segment",
        rows=segment_members_rows(segment),
        filters={},
        store=None,
        count=None,
        name=f"segment-{segment.pk}",
        obj=segment,
    )


class SegmentMembersApi(APIView):
    permission_classes = [HasAdminScope]
    content_negotiation_class = _JsonOnly

    class FilterSerializer(serializers.Serializer):
        format = serializers.ChoiceField(choices=["json", "csv"], required=False, default="json")

    @extend_schema(
        responses={
            (200, "application/json"): page_of(
                SegmentMemberSerializer(many=True), name="SegmentMemberPage"
            ),
            (200, "text/csv"): OpenApiTypes.STR,
        },
        operation_id="segments_members_list",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter(
                "format",
                str,
                enum=["json", "csv"],
                required=False,
                description="csv: every member of the segment as one CSV file, not paged.",
            ),
        ],
    )
    def get(self, request: Request, segment_id: int) -> Response | StreamingHttpResponse:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        segment = segment_get(segment_id=segment_id)
        if filters.validated_data["format"] == "csv":
            return segment_csv_response(request, segment)
        return paginated_response(
            queryset=segment_members(segment).select_related("rfm"),
            serializer_class=SegmentMemberSerializer,
            request=request,
            view=self,
        )
