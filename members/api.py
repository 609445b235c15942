"""Members, ledger, adjustments and tiers (API.md, "Members" and "Program configuration")."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
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
from loyalty.models import ApiScope
from loyalty.money import CENT
from members.enrolment import Channel
from members.errors import MemberListNeedsAdmin
from members.identifiers import EXTERNAL_ID_MAX_LENGTH
from members.models import Member, PointsEntry, Tier
from members.points import points_adjust
from members.selectors import (
    MemberStatusView,
    ledger_list,
    member_get,
    member_search,
    member_status,
)
from members.services import member_enrol
from members.tiers import tier_create, tier_delete, tier_update

# --- Output shapes -------------------------------------------------------------------------


class ExpiringSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ExpiringPoints"

    points = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class PointsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "MemberPoints"

    balance = serializers.IntegerField()
    pending = serializers.IntegerField()
    lifetime_earned = serializers.IntegerField()
    redeemed = serializers.IntegerField()
    expired = serializers.IntegerField()
    expiring = ExpiringSerializer(many=True)


class MemberTierSerializer(serializers.Serializer):
    class Meta:
        ref_name = "MemberTier"

    code = serializers.CharField()
    name = serializers.CharField()
    multiplier = serializers.DecimalField(max_digits=4, decimal_places=2)
    since = serializers.DateTimeField(allow_null=True)


class NextTierSerializer(serializers.Serializer):
    class Meta:
        ref_name = "NextTier"

    code = serializers.CharField()
    name = serializers.CharField()
    remaining = serializers.CharField()
    progress = serializers.FloatField()


class MemberStatusSerializer(serializers.Serializer):
    """The member status of API.md, from a `MemberStatusView`."""

    class Meta:
        ref_name = "MemberStatus"

    id = serializers.CharField()
    card_number = serializers.CharField()
    email = serializers.EmailField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    external_id = serializers.CharField(allow_null=True)
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    status = serializers.CharField()
    joined_at = serializers.DateTimeField()
    language = serializers.CharField()
    marketing_consent = serializers.BooleanField()
    tags = serializers.ListField(child=serializers.CharField())
    home_store = serializers.CharField(allow_null=True)
    referral_code = serializers.CharField()
    points = PointsSerializer()
    tier = MemberTierSerializer(allow_null=True)
    next_tier = NextTierSerializer(allow_null=True)
    lifetime_spend = serializers.DecimalField(
        max_digits=limits.LIFETIME_SPEND_DIGITS, decimal_places=2
    )

    def to_representation(self, view: MemberStatusView) -> dict[str, Any]:
        member = view.member
        account = member.account
        basis_is_points = view.next_tier is not None and view.next_tier.basis == "points"
        data = {
            "id": member.public_id,
            "card_number": member.card_number,
            "email": member.email,
            "phone": member.phone,
            "external_id": member.external_id,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "birth_date": member.birth_date,
            "status": member.status,
            "joined_at": member.joined_at,
            "language": member.language,
            "marketing_consent": member.marketing_consent,
            "tags": member.tags,
            "home_store": member.home_store.code if member.home_store else None,
            "referral_code": member.referral_code,
            "points": {
                "balance": view.balance,
                "pending": account.pending,
                "lifetime_earned": account.lifetime_earned,
                "redeemed": account.redeemed,
                "expired": account.expired,
                "expiring": view.expiring,
            },
            "tier": None
            if member.tier is None
            else {
                "code": member.tier.code,
                "name": member.tier.name,
                "multiplier": member.tier.multiplier,
                "since": member.tier_since,
            },
            "next_tier": None
            if view.next_tier is None
            else {
                "code": view.next_tier.tier.code,
                "name": view.next_tier.tier.name,
                "remaining": str(int(view.next_tier.remaining))
                if basis_is_points
                else str(view.next_tier.remaining.quantize(CENT)),
                "progress": view.next_tier.progress,
            },
            "lifetime_spend": account.lifetime_spend,
        }
        return super().to_representation(data)


class LedgerEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = PointsEntry
        ref_name = "LedgerEntry"
        fields = [
            "id",
            "kind",
            "points",
            "balance_after",
            "status",
            "description",
            "source",
            "expires_at",
            "created_at",
        ]

    # In the reader's language (the request's), from the entry's message.
    description = serializers.CharField(source="text", read_only=True)
    source = serializers.SerializerMethodField()

    def get_source(self, entry: PointsEntry) -> dict[str, str] | None:
        return {"type": entry.source_type, "id": entry.source_id} if entry.source_type else None


def status_response(member: Member, *, code: int = status.HTTP_200_OK) -> Response:
    return Response(status_data(member_status(member=member)), status=code)


# The status is read at every till and on every portal visit: its fields are
# formatted by these, once built, instead of a tree of serializers built per
# request (MemberStatusSerializer stays its schema; a test keeps them equal).
_DATETIME = serializers.DateTimeField()
_DATE = serializers.DateField()
_MULTIPLIER = serializers.DecimalField(max_digits=4, decimal_places=2)
_SPEND = serializers.DecimalField(max_digits=limits.LIFETIME_SPEND_DIGITS, decimal_places=2)


def _when(value: Any) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def status_data(view: MemberStatusView) -> dict[str, Any]:
    """What MemberStatusSerializer(view).data gives, formatted directly."""
    member = view.member
    account = member.account
    tier, next_tier = member.tier, view.next_tier
    return {
        "id": member.public_id,
        "card_number": member.card_number,
        "email": member.email,
        "phone": member.phone,
        "external_id": member.external_id,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "birth_date": None
        if member.birth_date is None
        else _DATE.to_representation(member.birth_date),
        "status": member.status,
        "joined_at": _when(member.joined_at),
        "language": member.language,
        "marketing_consent": bool(member.marketing_consent),
        "tags": [str(tag) for tag in member.tags],
        "home_store": member.home_store.code if member.home_store_id else None,
        "referral_code": member.referral_code,
        "points": {
            "balance": view.balance,
            "pending": account.pending,
            "lifetime_earned": account.lifetime_earned,
            "redeemed": account.redeemed,
            "expired": account.expired,
            "expiring": [
                {"points": row["points"], "expires_at": _when(row["expires_at"])}
                for row in view.expiring
            ],
        },
        "tier": None
        if tier is None
        else {
            "code": tier.code,
            "name": tier.name,
            "multiplier": _MULTIPLIER.to_representation(tier.multiplier),
            "since": _when(member.tier_since),
        },
        "next_tier": None
        if next_tier is None
        else {
            "code": next_tier.tier.code,
            "name": next_tier.tier.name,
            "remaining": str(int(next_tier.remaining))
            if next_tier.basis == "points"
            else str(next_tier.remaining.quantize(CENT)),
            "progress": float(next_tier.progress),
        },
        "lifetime_spend": _SPEND.to_representation(account.lifetime_spend),
    }


# --- Members -------------------------------------------------------------------------------


# What a `pos` key may look a member up by: each matches exactly, once normalised.
EXACT_LOOKUPS = ("card_number", "email", "phone", "external_id")


class MemberListApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "MemberEnrol"

        email = serializers.EmailField(
            required=False, allow_null=True, allow_blank=True, max_length=limits.EMAIL_MAX_LENGTH
        )
        phone = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=32
        )
        external_id = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=EXTERNAL_ID_MAX_LENGTH
        )
        first_name = serializers.CharField(
            required=False, default="", allow_blank=True, max_length=150
        )
        last_name = serializers.CharField(
            required=False, default="", allow_blank=True, max_length=150
        )
        birth_date = serializers.DateField(required=False, allow_null=True)
        language = serializers.ChoiceField(choices=["en", "ms"], required=False, default="en")
        marketing_consent = serializers.BooleanField(required=False, default=False)
        tags = serializers.ListField(
            child=serializers.CharField(max_length=40), required=False, default=list, max_length=50
        )
        referral_code = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, max_length=32
        )

    class FilterSerializer(serializers.Serializer):
        card_number = serializers.CharField(required=False, allow_blank=True, max_length=64)
        email = serializers.CharField(
            required=False, allow_blank=True, max_length=limits.EMAIL_MAX_LENGTH
        )
        phone = serializers.CharField(required=False, allow_blank=True, max_length=64)
        external_id = serializers.CharField(
            required=False, allow_blank=True, max_length=EXTERNAL_ID_MAX_LENGTH
        )
        search = serializers.CharField(required=False, allow_blank=True, max_length=150)

    @extend_schema(
        parameters=[
            *PAGE_PARAMETERS,
            *(OpenApiParameter(name, str, required=False) for name in (*EXACT_LOOKUPS, "search")),
        ],
        responses=page_of(MemberStatusSerializer(many=True), name="MemberStatusPage"),
        operation_id="members_list",
    )
    def get(self, request: Request) -> Response:
        """Exact look-ups for every key; the free-text `search` and a list of
        every member need scope `admin`, so a leaked till key cannot list the
        member base (API.md, Conventions): `403 permission_denied`."""
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        given = {name: value for name, value in filters.validated_data.items() if value.strip()}
        if not request.auth.has_scope(ApiScope.ADMIN) and (
            "search" in given or not given.keys() & set(EXACT_LOOKUPS)
        ):
            raise MemberListNeedsAdmin()
        members = member_search(**given)
        paginator_response = paginated_response(
            queryset=members, serializer_class=_StatusOfMember, request=request, view=self
        )
        return paginator_response

    @extend_schema(request=InputSerializer, responses={201: MemberStatusSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        api_key = request.auth
        member = member_enrol(
            actor=Actor.from_request(request),
            home_store=getattr(api_key, "store", None),
            channel=Channel.API,
            **data,
        )
        return status_response(member, code=status.HTTP_201_CREATED)


class _StatusOfMember(serializers.BaseSerializer):
    """Lists show each member's full status (a handful of queries per member;
    look-ups return few members)."""

    def to_representation(self, member: Member) -> dict[str, Any]:
        return MemberStatusSerializer(member_status(member=member)).data


class MemberDetailApi(APIView):
    @extend_schema(responses=MemberStatusSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        return status_response(member_get(public_id=public_id))


class MemberLedgerApi(APIView):
    @extend_schema(
        responses=page_of(LedgerEntrySerializer(many=True), name="LedgerEntryPage"),
        operation_id="members_ledger_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request, public_id: str) -> Response:
        member = member_get(public_id=public_id)
        return paginated_response(
            queryset=ledger_list(member=member),
            serializer_class=LedgerEntrySerializer,
            request=request,
            view=self,
        )


class MemberAdjustmentApi(APIView):
    permission_classes = [HasAdminScope]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AdjustmentInput"

        points = serializers.IntegerField(min_value=-limits.POINTS_MAX, max_value=limits.POINTS_MAX)
        reason = serializers.CharField(max_length=255)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AdjustmentResult"

        entry = LedgerEntrySerializer()
        balance = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = member_get(public_id=public_id)
        entry = points_adjust(
            actor=Actor.from_request(request), member=member, **serializer.validated_data
        )
        body = {"entry": LedgerEntrySerializer(entry).data, "balance": entry.balance_after}
        return Response(body, status=status.HTTP_201_CREATED)


# --- Tiers ----------------------------------------------------------------------------------


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        ref_name = "Tier"
        fields = ["code", "name", "threshold", "multiplier", "retention_days", "benefits", "color"]


class TierListApi(APIView):
    permission_classes = [HasAdminScope]

    @extend_schema(
        responses=page_of(TierSerializer(many=True), name="TierPage"),
        operation_id="tiers_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            queryset=Tier.objects.order_by("threshold"),
            serializer_class=TierSerializer,
            request=request,
            view=self,
        )

    @extend_schema(request=TierSerializer, responses={201: TierSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = TierSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tier = tier_create(actor=Actor.from_request(request), **serializer.validated_data)
        return Response(TierSerializer(tier).data, status=status.HTTP_201_CREATED)


class TierDetailApi(APIView):
    permission_classes = [HasAdminScope]

    def _tier(self, code: str) -> Tier:
        tier = Tier.objects.filter(code=code).first()
        if tier is None:
            raise NotFound()
        return tier

    @extend_schema(responses=TierSerializer)
    def get(self, request: Request, code: str) -> Response:
        return Response(TierSerializer(self._tier(code)).data)

    @extend_schema(request=TierSerializer, responses=TierSerializer)
    def patch(self, request: Request, code: str) -> Response:
        tier = self._tier(code)
        serializer = TierSerializer(tier, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = {k: v for k, v in serializer.validated_data.items() if k != "code"}
        tier = tier_update(actor=Actor.from_request(request), tier=tier, **changes)
        return Response(TierSerializer(tier).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, code: str) -> Response:
        tier_delete(actor=Actor.from_request(request), tier=self._tier(code))
        return Response(status=status.HTTP_204_NO_CONTENT)
