"""`POST /campaigns/{id}/simulate` (API.md; scope `admin`): the back-test of
a campaign over recorded purchases (purchases.backtest). It lives in
purchases, above campaigns, because it reads the purchases."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.selectors import campaign_get
from loyalty.actors import Actor
from loyalty.api.idempotency import idempotent
from loyalty.api.permissions import HasAdminScope
from loyalty.selectors import program_settings_get
from purchases.backtest import backtest_range, campaign_backtest

YEAR_MIN, YEAR_MAX = 1970, 9998


@extend_schema_field(OpenApiTypes.STR)
class DateOrDateTimeField(serializers.Field):
    """An ISO 8601 date ("2026-11-01") or datetime ("2026-11-01T09:00:00+08:00")."""

    default_error_messages = {
        "invalid": "Give an ISO 8601 date (YYYY-MM-DD) or date and time.",
        "range": f"Give a year from {YEAR_MIN} to {YEAR_MAX}.",
    }

    def to_internal_value(self, data: Any) -> date | datetime:
        if not isinstance(data, str) or len(data) > 40:
            self.fail("invalid")
        try:
            value: date | datetime | None = parse_datetime(data) or parse_date(data)
        except ValueError:
            value = None
        if value is None:
            self.fail("invalid")
        assert value is not None
        if not YEAR_MIN <= value.year <= YEAR_MAX:
            self.fail("range")
        return value

    def to_representation(self, value: Any) -> str:
        return value.isoformat()


class SimulateSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CampaignSimulateInput"

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword: declared here rather than as an attribute.
        return {"from": DateOrDateTimeField(), "to": DateOrDateTimeField()}


class SimulationSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CampaignSimulation"

    class DaySerializer(serializers.Serializer):
        class Meta:
            ref_name = "CampaignSimulationDay"

        day = serializers.DateField()
        purchases = serializers.IntegerField()
        points = serializers.IntegerField()

    purchases_matched = serializers.IntegerField()
    members_reached = serializers.IntegerField()
    points = serializers.IntegerField()
    cost = serializers.CharField()
    by_day = DaySerializer(many=True)
    liability_change = serializers.CharField()


class CampaignSimulateApi(APIView):
    permission_classes = [HasAdminScope]

    @extend_schema(request=SimulateSerializer, responses=SimulationSerializer)
    @idempotent
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = campaign_get(campaign_id=campaign_id)
        serializer = SimulateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        window = backtest_range(start=data["from"], end=data["to"])
        result = campaign_backtest(
            actor=Actor.from_request(request),
            campaign=campaign,
            window=window,
            program=program_settings_get(),
        )
        return Response(result)
