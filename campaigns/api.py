"""Campaigns (API.md, "Events, campaigns, segments, referrals"; scope `admin`)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.events import event_record
from campaigns.models import (
    EVENT_NAME_MAX_LENGTH,
    EVENT_REFERENCE_MAX_LENGTH,
    HOLDOUT_MAX,
    Campaign,
    CampaignKind,
    CampaignStatus,
    CapPeriod,
)
from campaigns.selectors import (
    CampaignFigures,
    campaign_figures,
    campaign_get,
    campaign_list,
    campaign_status,
)
from campaigns.services import campaign_create, campaign_update
from loyalty import limits
from loyalty.actors import Actor
from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import PAGE_PARAMETERS, PageNumberPagination, page_of
from loyalty.api.permissions import HasAdminScope
from loyalty.errors import ValidationFailed
from loyalty.models import Store
from loyalty.selectors import store_acting
from members.errors import MemberNotFound
from members.models import Member, Tier
from members.selectors import member_get, member_get_by_card

SEGMENT_ID_MAX = 2**63 - 1


class AudienceSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CampaignAudience"

    tiers = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=Tier.objects.all(), required=False
    )
    segment = serializers.IntegerField(
        min_value=1, max_value=SEGMENT_ID_MAX, allow_null=True, required=False
    )


class CampaignSerializer(serializers.Serializer):
    """A campaign as API.md gives it; also the input of POST and PATCH
    (`status`: the one to move to; `params`: checked by kind in the service)."""

    class Meta:
        ref_name = "Campaign"

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=CampaignKind.choices)
    status = serializers.ChoiceField(choices=CampaignStatus.choices, required=False)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(allow_null=True, required=False)
    audience = AudienceSerializer(required=False)
    stores = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=Store.objects.all(), required=False
    )
    budget_points = serializers.IntegerField(
        min_value=1, max_value=limits.POINTS_MAX, allow_null=True, required=False
    )
    per_member_cap = serializers.IntegerField(
        min_value=1, max_value=limits.POINTS_MAX, allow_null=True, required=False
    )
    cap_period = serializers.ChoiceField(choices=CapPeriod.choices, required=False)
    stackable = serializers.BooleanField(required=False)
    priority = serializers.IntegerField(min_value=-1000, max_value=1000, required=False)
    holdout_percent = serializers.IntegerField(min_value=0, max_value=HOLDOUT_MAX, required=False)
    params = serializers.DictField(child=serializers.JSONField(), required=True)
    points_awarded = serializers.IntegerField(read_only=True)
    members_reached = serializers.IntegerField(read_only=True)
    budget_used = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, campaign: Campaign) -> dict[str, Any]:
        figures = self.context.get("figures", {}).get(campaign.pk, CampaignFigures())
        now = self.context.get("now") or timezone.now()
        return {
            "id": campaign.pk,
            "name": campaign.name,
            "kind": campaign.kind,
            "status": campaign_status(campaign=campaign, now=now),
            "starts_at": serializers.DateTimeField().to_representation(campaign.starts_at),
            "ends_at": serializers.DateTimeField().to_representation(campaign.ends_at)
            if campaign.ends_at
            else None,
            "audience": {
                "tiers": sorted(tier.code for tier in campaign.tiers.all()),
                "segment": campaign.segment_id,
            },
            "stores": sorted(store.code for store in campaign.stores.all()),
            "budget_points": campaign.budget_points,
            "per_member_cap": campaign.per_member_cap,
            "cap_period": campaign.cap_period,
            "stackable": campaign.stackable,
            "priority": campaign.priority,
            "holdout_percent": campaign.holdout_percent,
            "params": campaign.params,
            "points_awarded": figures.points_awarded,
            "members_reached": figures.members_reached,
            "budget_used": campaign.budget_used,
            "created_at": serializers.DateTimeField().to_representation(campaign.created_at),
            "updated_at": serializers.DateTimeField().to_representation(campaign.updated_at),
        }


def _service_arguments(data: dict[str, Any]) -> dict[str, Any]:
    """The serializer's validated data → campaign_create/update's arguments."""
    data = dict(data)
    audience = data.pop("audience", None)
    if audience is not None:
        if "tiers" in audience:
            data["tiers"] = audience["tiers"]
        if "segment" in audience:
            data["segment_id"] = audience["segment"]
    return data


def _render(campaign: Campaign, *, code: int = status.HTTP_200_OK) -> Response:
    campaign = campaign_get(campaign_id=campaign.pk)
    figures = campaign_figures(campaign_ids=[campaign.pk])
    return Response(CampaignSerializer(campaign, context={"figures": figures}).data, status=code)


class CampaignListApi(APIView):
    permission_classes = [HasAdminScope]

    @extend_schema(
        responses=page_of(CampaignSerializer(many=True), name="CampaignPage"),
        operation_id="campaigns_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(campaign_list(), request, view=self)
        context = {
            "figures": campaign_figures(campaign_ids=[campaign.pk for campaign in page]),
            "now": timezone.now(),
        }
        return paginator.get_paginated_response(
            CampaignSerializer(page, many=True, context=context).data
        )

    @extend_schema(request=CampaignSerializer, responses={201: CampaignSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = CampaignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = campaign_create(
            actor=Actor.from_request(request), **_service_arguments(serializer.validated_data)
        )
        return _render(campaign, code=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    permission_classes = [HasAdminScope]

    @extend_schema(responses=CampaignSerializer)
    def get(self, request: Request, campaign_id: int) -> Response:
        return _render(campaign_get(campaign_id=campaign_id))

    @extend_schema(request=CampaignSerializer, responses=CampaignSerializer)
    def patch(self, request: Request, campaign_id: int) -> Response:
        campaign = campaign_get(campaign_id=campaign_id)
        serializer = CampaignSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        campaign = campaign_update(
            actor=Actor.from_request(request),
            campaign=campaign,
            **_service_arguments(serializer.validated_data),
        )
        return _render(campaign)


# --- Custom events (scope `pos`) ---------------------------------------------------------------


class EventAwardSerializer(serializers.Serializer):
    class Meta:
        ref_name = "EventAward"

    source = serializers.CharField()
    points = serializers.IntegerField()
    label = serializers.CharField()


class EventRecordedSerializer(serializers.Serializer):
    class Meta:
        ref_name = "EventRecorded"

    awards = EventAwardSerializer(many=True)
    balance = serializers.IntegerField()


class EventListApi(APIView):
    """`POST /events`: a member's custom event, paid by the event campaigns
    that reward it (campaigns.events.event_record)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "EventInput"

        member_id = serializers.CharField(required=False, max_length=64)
        card_number = serializers.CharField(required=False, max_length=64)
        name = serializers.CharField(max_length=EVENT_NAME_MAX_LENGTH)
        reference = serializers.CharField(required=False, max_length=EVENT_REFERENCE_MAX_LENGTH)
        occurred_at = serializers.DateTimeField(required=False)

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            if bool(data.get("member_id")) == bool(data.get("card_number")):
                raise serializers.ValidationError(
                    {"member_id": ["Give member_id or card_number (one of them)."]}
                )
            return data

    @staticmethod
    def _member(data: dict[str, Any]) -> Member:
        field = "member_id" if data.get("member_id") else "card_number"
        try:
            if field == "member_id":
                # The event locks the account itself.
                return member_get(public_id=data["member_id"], with_account=False)
            return member_get_by_card(card_number=data["card_number"], with_account=False)
        except MemberNotFound as exc:
            raise ValidationFailed(fields={field: ["No such member."]}) from exc

    @extend_schema(request=InputSerializer, responses={201: EventRecordedSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = Actor.from_request(request)
        # A key tied to a store reports its store's events; others report none.
        store = (
            store_acting(actor=actor)
            if actor.api_key is not None and actor.api_key.store_id is not None
            else None
        )
        recorded = event_record(
            member=self._member(data),
            name=data["name"],
            reference=data.get("reference"),
            occurred_at=data.get("occurred_at"),
            actor=actor,
            store=store,
        )
        # The same reference again answers as the first time (API.md), with or
        # without an Idempotency-Key.
        headers = {"Idempotent-Replayed": "true"} if recorded.replayed else {}
        return Response(recorded.response, status=status.HTTP_201_CREATED, headers=headers)
