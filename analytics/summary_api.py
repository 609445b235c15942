"""`GET /analytics/summary?from=&to=&store=` (API.md "Analytics"; scope
`admin`): the program's KPIs for a period and a store (analytics.summary)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.kpis import PERIOD_DAYS_MAX
from analytics.summary import analytics_summary_cached
from loyalty.api.permissions import HasAdminScope
from loyalty.models import Store

# The default period: the 30 days up to today.
DEFAULT_DAYS = 30
# The earliest day asked about; and how far ahead a `to` may be (none has data,
# but a period running to the end of this month is a fair question).
FIRST_DAY = date(2000, 1, 1)
AHEAD_DAYS_MAX = 366


class AnalyticsSummaryApi(APIView):
    """The KPIs of the local days `from` to `to` (both included; default the
    30 days up to today) at `store` (a store code; default every store).
    Each figure's definition is in docs/analytics.md."""

    permission_classes = [HasAdminScope]

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AnalyticsSummaryFilter"

        # `from` is a Python keyword: the field is named in `to_internal_value`.
        start = serializers.DateField(required=False)
        to = serializers.DateField(required=False)
        store = serializers.SlugField(required=False, max_length=32)

        def to_internal_value(self, data: Any) -> dict[str, Any]:
            data = {"start": data.get("from"), "to": data.get("to"), "store": data.get("store")}
            data = {key: value for key, value in data.items() if value not in (None, "")}
            try:
                return super().to_internal_value(data)
            except serializers.ValidationError as exc:
                detail = dict(exc.detail)
                if "start" in detail:
                    detail["from"] = detail.pop("start")
                raise serializers.ValidationError(detail) from exc

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            today = timezone.localdate()
            end = data.get("to") or today
            start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
            if start < FIRST_DAY:
                raise serializers.ValidationError(
                    {"from": [_("The period starts on 2000-01-01 at the earliest.")]}
                )
            if end > today + timedelta(days=AHEAD_DAYS_MAX):
                raise serializers.ValidationError(
                    {"to": [_("The period ends within a year from today at the latest.")]}
                )
            if end < start:
                raise serializers.ValidationError(
                    {"to": [_("The period ends on or after `from`.")]}
                )
            if (end - start).days + 1 > PERIOD_DAYS_MAX:
                raise serializers.ValidationError({"to": [_("A period is at most 366 days long.")]})
            store = None
            if data.get("store"):
                store = Store.objects.filter(code=data["store"]).first()
                if store is None:
                    raise serializers.ValidationError({"store": [_("No such store.")]})
            return {"start": start, "end": end, "store": store}

    class PeriodSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AnalyticsPeriod"

        to = serializers.DateField()

        def get_fields(self) -> dict[str, serializers.Field]:
            fields = super().get_fields()
            fields["from"] = serializers.DateField()
            return fields

    class CountsSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AnalyticsMembers"

        total = serializers.IntegerField()
        new = serializers.IntegerField()
        active = serializers.IntegerField()

    class SalesSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AnalyticsSales"

        count = serializers.IntegerField()
        amount = serializers.CharField(help_text="money")
        member_share = serializers.CharField(allow_null=True, help_text="fraction 0-1")

    class OrderValueSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AnalyticsOrderValue"

        members = serializers.CharField(allow_null=True, help_text="money")
        non_members = serializers.CharField(allow_null=True, help_text="money")

    class PointsSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AnalyticsPoints"

        issued = serializers.IntegerField()
        redeemed = serializers.IntegerField()
        expired = serializers.IntegerField()
        outstanding = serializers.IntegerField()

    class ScoreSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AnalyticsScore"

        score = serializers.CharField(allow_null=True)
        responses = serializers.IntegerField()

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AnalyticsSummary"

        store = serializers.CharField(allow_null=True)
        repeat_purchase_rate = serializers.CharField(allow_null=True)
        purchase_frequency = serializers.CharField(allow_null=True)
        retention_rate = serializers.CharField(allow_null=True)
        churn_rate = serializers.CharField(allow_null=True)
        clv_historical = serializers.CharField(allow_null=True, help_text="money")
        redemption_rate = serializers.CharField(allow_null=True)
        breakage_rate = serializers.CharField(allow_null=True)
        expected_breakage = serializers.CharField(allow_null=True)
        liability = serializers.CharField(help_text="money")

        def get_fields(self) -> dict[str, serializers.Field]:
            fields = super().get_fields()
            view = AnalyticsSummaryApi
            fields["period"] = view.PeriodSerializer()
            fields["members"] = view.CountsSerializer()
            fields["sales"] = view.SalesSerializer()
            fields["average_order_value"] = view.OrderValueSerializer()
            fields["points"] = view.PointsSerializer()
            fields["nps"] = view.ScoreSerializer()
            fields["csat"] = view.ScoreSerializer()
            return fields

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="first local day, YYYY-MM-DD"),
            OpenApiParameter("to", str, description="last local day, YYYY-MM-DD"),
            OpenApiParameter("store", str, description="a store code"),
        ],
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        # An admin key acts for every store (loyalty.models.ApiKey.store_scope).
        summary = analytics_summary_cached(
            start=data["start"], end=data["end"], store=data["store"]
        )
        return Response(summary)
