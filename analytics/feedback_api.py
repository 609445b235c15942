"""`POST /feedback` (API.md, "Feedback, notifications, webhooks"; scope `pos`):
an NPS or CSAT answer from a till or a kiosk, by a member or anonymous."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import COMMENT_MAX_LENGTH, FeedbackSource, SurveyKind
from analytics.surveys import feedback_data, feedback_record
from loyalty.actors import Actor
from loyalty.api.idempotency import idempotent
from loyalty.errors import ValidationFailed
from members.errors import MemberNotFound
from members.models import Member
from members.selectors import member_get, member_get_by_card
from purchases.models import Purchase
from purchases.selectors import purchase_get

PURCHASE_ID_MAX = 2**63 - 1


class FeedbackApi(APIView):
    """One answer. `member_id` or `card_number` names the member (neither:
    anonymous); `purchase_id` must be that member's purchase (an anonymous
    answer: an anonymous sale's) and, for a key tied to a store, that store's
    (else 404).
    The answer's store is the purchase's, else the key's. The same purchase
    and kind again: the same answer replays, another is refused."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "FeedbackInput"

        member_id = serializers.CharField(required=False, max_length=64)
        card_number = serializers.CharField(required=False, max_length=64)
        kind = serializers.ChoiceField(choices=SurveyKind.choices)
        # Each kind's own range is the service's (0–10 NPS, 1–5 CSAT).
        score = serializers.IntegerField(min_value=0, max_value=10)
        comment = serializers.CharField(
            required=False, allow_blank=True, max_length=COMMENT_MAX_LENGTH, default=""
        )
        purchase_id = serializers.IntegerField(
            required=False, min_value=1, max_value=PURCHASE_ID_MAX
        )

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            if data.get("member_id") and data.get("card_number"):
                raise serializers.ValidationError(
                    {"member_id": ["Give member_id or card_number, not both."]}
                )
            return data

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "FeedbackRecorded"

        id = serializers.IntegerField()
        follow_up = serializers.BooleanField()
        kind = serializers.CharField()
        score = serializers.IntegerField()
        comment = serializers.CharField()
        member_id = serializers.CharField(allow_null=True)
        purchase_id = serializers.IntegerField(allow_null=True)
        store = serializers.CharField(allow_null=True)
        source = serializers.CharField()
        created_at = serializers.DateTimeField()

    @staticmethod
    def _member(data: dict[str, Any]) -> Member | None:
        try:
            if data.get("member_id"):
                return member_get(public_id=data["member_id"], with_account=False)
            if data.get("card_number"):
                return member_get_by_card(card_number=data["card_number"], with_account=False)
        except MemberNotFound as exc:
            field = "member_id" if data.get("member_id") else "card_number"
            raise ValidationFailed(fields={field: ["No such member."]}) from exc
        return None

    @staticmethod
    def _purchase(data: dict[str, Any], actor: Actor) -> Purchase | None:
        """The purchase named, when this key may read it: another store's, for
        a key tied to a store, is as unknown as a made-up id (404, as
        GET /purchases/{id} answers it; purchases.selectors.purchase_get).

        Raises PurchaseNotFound."""
        if data.get("purchase_id") is None:
            return None
        return purchase_get(pk=data["purchase_id"], store=actor.store_scope)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = Actor.from_request(request)
        recorded = feedback_record(
            kind=data["kind"],
            score=data["score"],
            comment=data["comment"],
            member=self._member(data),
            purchase=self._purchase(data, actor),
            store=actor.api_key.store if actor.api_key is not None else None,
            source=FeedbackSource.TILL,
            actor=actor,
        )
        body = self.OutputSerializer(feedback_data(recorded.feedback, recorded.follow_up)).data
        headers = {"Idempotent-Replayed": "true"} if recorded.replayed else {}
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)
