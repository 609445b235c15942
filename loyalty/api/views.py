"""Program settings and stores (API.md, "Program configuration", scope `admin`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import limits
from loyalty.actors import Actor
from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from loyalty.api.permissions import HasAdminScope
from loyalty.errors import NotFound
from loyalty.models import ProgramSettings, Store, TierBasis
from loyalty.selectors import program_settings_get, store_get, store_list
from loyalty.services import program_settings_update, store_create, store_update


class ProgramApi(APIView):
    permission_classes = [HasAdminScope]

    class OutputSerializer(serializers.ModelSerializer):
        currency = serializers.CharField(read_only=True)
        main_store = serializers.SlugRelatedField(slug_field="code", read_only=True)

        class Meta:
            model = ProgramSettings
            ref_name = "Program"
            fields = [
                "currency",
                "name",
                "merchant_name",
                "earn_points",
                "earn_per_amount",
                "point_value",
                "pending_days",
                "expiry_days",
                "tier_basis",
                "tier_window_days",
                "staff_adjust_limit",
                "main_store",
            ]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProgramUpdate"

        name = serializers.CharField(max_length=80, required=False)
        merchant_name = serializers.CharField(max_length=120, required=False)
        earn_points = serializers.IntegerField(
            min_value=1, max_value=limits.EARN_POINTS_MAX, required=False
        )
        earn_per_amount = serializers.DecimalField(
            max_digits=10, decimal_places=2, min_value=Decimal("0.01"), required=False
        )
        point_value = serializers.DecimalField(
            max_digits=10,
            decimal_places=2,
            min_value=Decimal("0"),
            max_value=limits.POINT_VALUE_MAX,
            required=False,
        )
        pending_days = serializers.IntegerField(
            min_value=0, max_value=limits.PENDING_DAYS_MAX, required=False
        )
        expiry_days = serializers.IntegerField(
            min_value=1, max_value=limits.DAYS_MAX, allow_null=True, required=False
        )
        tier_basis = serializers.ChoiceField(choices=TierBasis.choices, required=False)
        tier_window_days = serializers.IntegerField(
            min_value=1, max_value=limits.DAYS_MAX, allow_null=True, required=False
        )
        staff_adjust_limit = serializers.IntegerField(
            min_value=0, max_value=limits.POINTS_MAX, required=False
        )
        main_store = serializers.SlugRelatedField(
            slug_field="code", queryset=Store.objects.filter(is_active=True), required=False
        )

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(program_settings_get()).data)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        program = program_settings_update(
            actor=Actor.from_request(request), **serializer.validated_data
        )
        return Response(self.OutputSerializer(program).data)


class StoreOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Store
        ref_name = "Store"
        fields = ["code", "name", "address", "phone", "is_active"]


class StoreListApi(APIView):
    permission_classes = [HasAdminScope]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StoreCreate"

        code = serializers.SlugField(max_length=32)
        name = serializers.CharField(max_length=120)
        address = serializers.CharField(
            max_length=255, required=False, default="", allow_blank=True
        )
        phone = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
        is_active = serializers.BooleanField(required=False, default=True)

    @extend_schema(
        responses=page_of(StoreOutputSerializer(many=True), name="StorePage"),
        operation_id="stores_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            queryset=store_list().order_by("code"),
            serializer_class=StoreOutputSerializer,
            request=request,
            view=self,
        )

    @extend_schema(request=InputSerializer, responses={201: StoreOutputSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        store = store_create(actor=Actor.from_request(request), **serializer.validated_data)
        return Response(StoreOutputSerializer(store).data, status=status.HTTP_201_CREATED)


class StoreDetailApi(APIView):
    permission_classes = [HasAdminScope]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StoreUpdate"

        name = serializers.CharField(max_length=120, required=False)
        address = serializers.CharField(max_length=255, required=False, allow_blank=True)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
        is_active = serializers.BooleanField(required=False)

    def _store(self, code: str) -> Store:
        store = store_get(code=code)
        if store is None:
            raise NotFound()
        return store

    @extend_schema(responses=StoreOutputSerializer)
    def get(self, request: Request, code: str) -> Response:
        return Response(StoreOutputSerializer(self._store(code)).data)

    @extend_schema(request=InputSerializer, responses=StoreOutputSerializer)
    def patch(self, request: Request, code: str) -> Response:
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes: dict[str, Any] = serializer.validated_data
        store = store_update(actor=Actor.from_request(request), store=self._store(code), **changes)
        return Response(StoreOutputSerializer(store).data)
