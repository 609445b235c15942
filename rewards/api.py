"""Rewards, redemptions, vouchers and gift cards (API.md, "Rewards, vouchers, gift cards")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import limits
from loyalty.actors import Actor
from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from loyalty.api.permissions import HasAdminScope, HasPosScope
from loyalty.money import MONEY
from loyalty.selectors import store_acting
from members.models import Member, PointsAccount, Segment, Tier
from members.selectors import member_get
from rewards.gift_cards import gift_card_charge, gift_card_issue
from rewards.models import GiftCard, GiftCardDesign, Redemption, Reward, RewardCategory, Voucher
from rewards.selectors import (
    gift_card_get,
    gift_card_status,
    redemption_get,
    reward_get,
    reward_list,
    voucher_get,
    voucher_status,
)
from rewards.services import (
    redemption_cancel,
    redemption_create,
    reward_create,
    reward_update,
    voucher_use,
)
from rewards.throttling import CodeLookupApi

# --- Rewards --------------------------------------------------------------------------------


class RewardSerializer(serializers.ModelSerializer):
    """A reward as tills and shops see it; also the input of POST and PATCH."""

    class Meta:
        model = Reward
        ref_name = "Reward"
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "points_cost",
            "value",
            "sku",
            "cause",
            "stock",
            "per_member_limit",
            "tiers",
            "segment",
            "available_from",
            "available_until",
            "voucher_valid_days",
            "category",
            "design",
            "image",
            "featured",
            "active",
            "position",
            "archived_at",
        ]
        read_only_fields = ["id", "image", "archived_at"]

    tiers = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=Tier.objects.all(), required=False
    )
    category = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=RewardCategory.objects.all(),
        required=False,
        allow_null=True,
    )
    design = serializers.PrimaryKeyRelatedField(
        queryset=GiftCardDesign.objects.all(), required=False, allow_null=True
    )

    segment = serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.all(), required=False, allow_null=True
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Cross-field rules live in the service; running the model's own
        # validation here would skip them for PATCH.
        return attrs


class _AdminWrites(BasePermission):
    """Reading the catalogue needs `pos`; changing it needs `admin` (API.md)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        needed = HasPosScope() if request.method in ("GET", "HEAD", "OPTIONS") else HasAdminScope()
        return needed.has_permission(request, view)


class RewardListApi(APIView):
    permission_classes = [_AdminWrites]

    @extend_schema(
        responses=page_of(RewardSerializer(many=True), name="RewardPage"),
        operation_id="rewards_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            queryset=reward_list(), serializer_class=RewardSerializer, request=request, view=self
        )

    @extend_schema(request=RewardSerializer, responses={201: RewardSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = RewardSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reward = reward_create(
            actor=Actor.from_request(request), tiers=data.pop("tiers", []), **data
        )
        return Response(RewardSerializer(reward).data, status=status.HTTP_201_CREATED)


class RewardDetailApi(APIView):
    permission_classes = [_AdminWrites]

    @extend_schema(responses=RewardSerializer)
    def get(self, request: Request, reward_id: int) -> Response:
        return Response(RewardSerializer(reward_get(reward_id=reward_id)).data)

    @extend_schema(request=RewardSerializer, responses=RewardSerializer)
    def patch(self, request: Request, reward_id: int) -> Response:
        reward = reward_get(reward_id=reward_id)
        serializer = RewardSerializer(reward, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reward = reward_update(
            actor=Actor.from_request(request), reward=reward, tiers=data.pop("tiers", None), **data
        )
        return Response(RewardSerializer(reward_get(reward_id=reward.pk)).data)


# --- Redemptions ----------------------------------------------------------------------------


class VoucherSerializer(serializers.Serializer):
    """A voucher as a till sees it (GET /vouchers/{code})."""

    class Meta:
        ref_name = "Voucher"

    code = serializers.CharField()
    status = serializers.CharField()
    kind = serializers.CharField()
    value = serializers.DecimalField(**MONEY, allow_null=True)
    sku = serializers.CharField()
    member_id = serializers.CharField(allow_null=True)
    reward = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    used_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, voucher: Voucher) -> dict[str, Any]:
        data = {
            "code": voucher.code,
            "status": voucher_status(voucher=voucher, now=timezone.now()),
            "kind": voucher.kind,
            "value": voucher.value,
            "sku": voucher.sku,
            "member_id": voucher.member.public_id if voucher.member_id else None,
            "reward": voucher.reward_id,
            "expires_at": voucher.expires_at,
            "used_at": voucher.used_at,
        }
        return super().to_representation(data)


class IssuedGiftCardSerializer(serializers.Serializer):
    class Meta:
        ref_name = "IssuedGiftCard"

    code = serializers.CharField()
    balance = serializers.DecimalField(**MONEY)
    expires_at = serializers.DateTimeField(allow_null=True)


class RedemptionSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Redemption"

    id = serializers.IntegerField()
    reward = serializers.IntegerField()
    quantity = serializers.IntegerField()
    points = serializers.IntegerField()
    status = serializers.CharField()
    vouchers = VoucherSerializer(many=True)
    gift_cards = IssuedGiftCardSerializer(many=True)
    balance = serializers.IntegerField()

    def to_representation(self, redemption: Redemption) -> dict[str, Any]:
        vouchers = redemption.vouchers.select_related("member").order_by("pk")
        data = {
            "id": redemption.pk,
            "reward": redemption.reward_id,
            "quantity": redemption.quantity,
            "points": redemption.points,
            "status": redemption.status,
            "vouchers": list(vouchers),
            "gift_cards": list(redemption.gift_cards.order_by("pk")),
            "balance": PointsAccount.objects.get(member_id=redemption.member_id).balance,
        }
        return super().to_representation(data)


class MemberRedemptionApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RedemptionInput"

        reward = serializers.PrimaryKeyRelatedField(queryset=Reward.objects.all())
        quantity = serializers.IntegerField(min_value=1, max_value=50, default=1)

    @extend_schema(request=InputSerializer, responses={201: RedemptionSerializer})
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        member: Member = member_get(public_id=public_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        redemption = redemption_create(
            member=member, actor=Actor.from_request(request), **serializer.validated_data
        )
        return Response(RedemptionSerializer(redemption).data, status=status.HTTP_201_CREATED)


class RedemptionCancelApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RedemptionCancelInput"

        reason = serializers.CharField(max_length=255, required=False, default="")

    @extend_schema(request=InputSerializer, responses=RedemptionSerializer)
    @idempotent
    def post(self, request: Request, redemption_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        redemption = redemption_cancel(
            redemption=redemption_get(redemption_id=redemption_id),
            actor=Actor.from_request(request),
            **serializer.validated_data,
        )
        return Response(RedemptionSerializer(redemption).data)


# --- Vouchers -------------------------------------------------------------------------------


class VoucherDetailApi(CodeLookupApi):
    @extend_schema(responses=VoucherSerializer)
    def get(self, request: Request, code: str) -> Response:
        return Response(VoucherSerializer(voucher_get(code=code)).data)


class VoucherUseApi(CodeLookupApi):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "VoucherUseInput"

        purchase_reference = serializers.CharField(
            max_length=100, required=False, default="", allow_blank=True
        )

    @extend_schema(request=InputSerializer, responses=VoucherSerializer)
    @idempotent
    def post(self, request: Request, code: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        voucher = voucher_use(
            code=code, actor=Actor.from_request(request), **serializer.validated_data
        )
        return Response(VoucherSerializer(voucher).data)


# --- Gift cards -----------------------------------------------------------------------------


class GiftCardSerializer(serializers.Serializer):
    class Meta:
        ref_name = "GiftCard"

    code = serializers.CharField()
    initial_amount = serializers.DecimalField(**MONEY)
    balance = serializers.DecimalField(**MONEY)
    status = serializers.CharField()
    member_id = serializers.CharField(allow_null=True)
    design = serializers.IntegerField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, card: GiftCard) -> dict[str, Any]:
        data = {
            "code": card.code,
            "initial_amount": card.initial_amount,
            "balance": card.balance,
            "status": gift_card_status(card=card, now=timezone.now()),
            "member_id": card.member.public_id if card.member_id else None,
            "design": card.design_id,
            "expires_at": card.expires_at,
        }
        return super().to_representation(data)


class GiftCardListApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardIssueInput"

        amount = serializers.DecimalField(
            **MONEY, min_value=Decimal("0.01"), max_value=limits.MONEY_MAX
        )
        member_id = serializers.CharField(required=False, allow_null=True, max_length=20)
        design = serializers.PrimaryKeyRelatedField(
            queryset=GiftCardDesign.objects.filter(active=True), required=False, allow_null=True
        )
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses={201: GiftCardSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        public_id = data.pop("member_id", None)
        card = gift_card_issue(
            actor=Actor.from_request(request),
            member=member_get(public_id=public_id) if public_id else None,
            **data,
        )
        return Response(GiftCardSerializer(card).data, status=status.HTTP_201_CREATED)


class GiftCardDetailApi(CodeLookupApi):
    @extend_schema(responses=GiftCardSerializer)
    def get(self, request: Request, code: str) -> Response:
        return Response(GiftCardSerializer(gift_card_get(code=code)).data)


class GiftCardChargeApi(CodeLookupApi):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardChargeInput"

        amount = serializers.DecimalField(
            **MONEY, min_value=Decimal("0.01"), max_value=limits.MONEY_MAX
        )
        reference = serializers.CharField(max_length=100)
        allow_partial = serializers.BooleanField(required=False, default=False)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardChargeResult"

        charged = serializers.DecimalField(**MONEY)
        balance = serializers.DecimalField(**MONEY)
        reference = serializers.CharField()
        replayed = serializers.BooleanField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    @idempotent
    def post(self, request: Request, code: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = gift_card_charge(
            code=code,
            store=store_acting(actor=Actor.from_request(request)),
            actor=Actor.from_request(request),
            **serializer.validated_data,
        )
        body = {
            "charged": result.charged,
            "balance": result.balance,
            "reference": result.entry.reference,
            "replayed": result.replayed,
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)
