"""Purchases and returns (API.md, "Purchases and returns", scope `pos`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import limits
from loyalty.actors import Actor
from loyalty.api.idempotency import idempotent
from loyalty.errors import ValidationFailed
from loyalty.money import MONEY
from loyalty.selectors import store_acting
from members.errors import MemberNotFound
from members.models import Member
from members.selectors import member_get, member_get_by_card
from purchases.inputs import SKU_PATTERN, GiftCardInput, LineInput, SaleInput
from purchases.returns import ReturnItem, purchase_return
from purchases.selectors import purchase_get
from purchases.services import purchase_record, sale_preview
from rewards.throttling import SaleCodeLookupApi
from rewards.voucher_codes import normalise_code


class ItemSerializer(serializers.Serializer):
    class Meta:
        ref_name = "PurchaseItem"

    sku = serializers.RegexField(SKU_PATTERN)
    name = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)
    category = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)
    quantity = serializers.IntegerField(min_value=1, max_value=limits.QUANTITY_MAX)
    unit_price = serializers.DecimalField(
        **MONEY, min_value=Decimal("0"), max_value=limits.MONEY_MAX
    )
    earns = serializers.BooleanField(required=False, default=True)


class GiftCardUseSerializer(serializers.Serializer):
    class Meta:
        ref_name = "PurchaseGiftCard"

    code = serializers.CharField(max_length=30)
    amount = serializers.DecimalField(
        **MONEY, min_value=Decimal("0.01"), max_value=limits.MONEY_MAX
    )


class SaleSerializer(serializers.Serializer):
    class Meta:
        ref_name = "PurchaseInput"

    reference = serializers.CharField(max_length=100)
    store = serializers.SlugField(required=False)
    member_id = serializers.CharField(required=False, allow_null=True, max_length=64)
    card_number = serializers.CharField(required=False, allow_null=True, max_length=64)
    occurred_at = serializers.DateTimeField(required=False)
    items = ItemSerializer(many=True, allow_empty=False, max_length=limits.SALE_LINES_MAX)
    discount_total = serializers.DecimalField(
        **MONEY,
        min_value=Decimal("0"),
        max_value=limits.MONEY_MAX,
        required=False,
        default=Decimal("0.00"),
    )
    vouchers = serializers.ListField(
        child=serializers.CharField(max_length=30), required=False, default=list, max_length=20
    )
    points_to_redeem = serializers.IntegerField(
        min_value=0, max_value=limits.POINTS_MAX, required=False, default=0
    )
    gift_cards = GiftCardUseSerializer(many=True, required=False, default=list, max_length=10)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("member_id") and data.get("card_number"):
            raise serializers.ValidationError(
                {"card_number": ["Give member_id or card_number, not both."]}
            )
        # Every sum of the sale must fit its column (loyalty/limits.py).
        if sum(i["quantity"] * i["unit_price"] for i in data["items"]) > limits.MONEY_MAX:
            raise serializers.ValidationError(
                {"items": [f"A sale adds up to at most {limits.MONEY_MAX}."]}
            )
        # A code that cannot be one is bad input; a well-formed code that is
        # not usable is the sale's 422 voucher_not_usable.
        bad = [code for code in data.get("vouchers", []) if normalise_code(code) is None]
        if bad:
            raise serializers.ValidationError({"vouchers": [f"Not a voucher code: {bad[0]}."]})
        bad = [c["code"] for c in data.get("gift_cards", []) if normalise_code(c["code"]) is None]
        if bad:
            raise serializers.ValidationError({"gift_cards": [f"Not a gift-card code: {bad[0]}."]})
        return data


def _member(data: dict[str, Any]) -> Member | None:
    try:
        if data.get("member_id"):
            # The sale locks the account itself (purchases.locks).
            return member_get(public_id=data["member_id"], with_account=False)
        if data.get("card_number"):
            return member_get_by_card(card_number=data["card_number"], with_account=False)
    except MemberNotFound as exc:
        field = "member_id" if data.get("member_id") else "card_number"
        raise ValidationFailed(fields={field: ["No such member."]}) from exc
    return None


def sale_input(request: Request) -> SaleInput:
    serializer = SaleSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    return SaleInput(
        store=store_acting(actor=Actor.from_request(request), code=data.get("store")),
        reference=data["reference"],
        member=_member(data),
        occurred_at=data.get("occurred_at") or timezone.now(),
        items=[LineInput(**item) for item in data["items"]],
        discount_total=data["discount_total"],
        points_to_redeem=data["points_to_redeem"],
        vouchers=tuple(data["vouchers"]),
        gift_cards=tuple(GiftCardInput(**card) for card in data["gift_cards"]),
        occurred_at_given="occurred_at" in data,
    )


class ReceiptSerializer(serializers.Serializer):
    """The answer to a sale (API.md)."""

    class Meta:
        ref_name = "PurchaseReceipt"

    id = serializers.IntegerField()
    reference = serializers.CharField()
    store = serializers.CharField()
    member_id = serializers.CharField(allow_null=True)
    total = serializers.CharField()
    eligible_amount = serializers.CharField()
    points_earned = serializers.IntegerField()
    points_status = serializers.ChoiceField(choices=["available", "pending"])
    awards = serializers.ListField(child=serializers.DictField())
    points_redeemed = serializers.IntegerField()
    balance = serializers.IntegerField(allow_null=True)
    tier = serializers.CharField(allow_null=True)
    vouchers = serializers.ListField(child=serializers.DictField())
    gift_cards = serializers.ListField(child=serializers.DictField())


class PurchaseListApi(SaleCodeLookupApi):
    @extend_schema(request=SaleSerializer, responses={201: ReceiptSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        recorded = purchase_record(sale=sale_input(request), actor=Actor.from_request(request))
        # The same receipt sent again answers as the first time (API.md).
        headers = {"Idempotent-Replayed": "true"} if recorded.replayed else {}
        return Response(recorded.receipt, status=status.HTTP_201_CREATED, headers=headers)


class PreviewSerializer(ReceiptSerializer):
    """The receipt a sale would get, and the live campaigns that would give it
    nothing, each with its reason code (API.md)."""

    class Meta:
        ref_name = "PurchasePreview"

    class NotMatchedSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CampaignNotMatched"

        campaign = serializers.IntegerField()
        reason = serializers.CharField()

    not_matched = NotMatchedSerializer(many=True)


class PurchasePreviewApi(SaleCodeLookupApi):
    @extend_schema(request=SaleSerializer, responses=PreviewSerializer)
    @idempotent
    def post(self, request: Request) -> Response:
        return Response(sale_preview(sale=sale_input(request)))


class PurchaseDetailApi(APIView):
    @extend_schema(responses=ReceiptSerializer)
    def get(self, request: Request, pk: int) -> Response:
        purchase = purchase_get(pk=pk, store=Actor.from_request(request).store_scope)
        return Response(json.loads(purchase.response))


class ReturnSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReturnInput"

    class ReturnItemSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReturnItem"

        sku = serializers.CharField(max_length=64)
        quantity = serializers.IntegerField(min_value=1, max_value=limits.QUANTITY_MAX)

    reference = serializers.CharField(max_length=100)
    items = ReturnItemSerializer(many=True, required=False, allow_empty=False)
    amount = serializers.DecimalField(
        **MONEY, min_value=Decimal("0.01"), max_value=limits.MONEY_MAX, required=False
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if ("items" in data) == ("amount" in data):
            raise serializers.ValidationError({"items": ["Give either items or an amount."]})
        return data


class ReturnReceiptSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReturnReceipt"

    id = serializers.IntegerField()
    amount = serializers.CharField()
    points_reversed = serializers.IntegerField()
    points_refunded = serializers.IntegerField()
    clawback = serializers.IntegerField()
    points_expired = serializers.IntegerField()
    balance = serializers.IntegerField(allow_null=True)
    gift_cards_refunded = serializers.ListField(child=serializers.DictField())


class PurchaseReturnApi(APIView):
    @extend_schema(request=ReturnSerializer, responses={201: ReturnReceiptSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        purchase = purchase_get(pk=pk, store=Actor.from_request(request).store_scope)
        serializer = ReturnSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        recorded = purchase_return(
            purchase=purchase,
            reference=data["reference"],
            actor=Actor.from_request(request),
            items=[ReturnItem(**item) for item in data["items"]] if "items" in data else None,
            amount=data.get("amount"),
        )
        return Response(recorded.receipt, status=status.HTTP_201_CREATED)
