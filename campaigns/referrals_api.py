"""A member's referrals (API.md, "Referrals"; scope `pos`): `GET
/members/{id}/referrals`, newest first, in the list shape of the Conventions.

`reason` is a stable code (campaigns.referrals: `self_email`, `self_phone`,
`self_name_birth_date`, `address_limit`, `window_passed`, `monthly_cap`,
`budget`, `returned`, `referrer_inactive`; empty when there is none) and
`reason_text` its sentence in the request's language.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Referral, ReferralStatus
from campaigns.referrals import referral_reason_text, referrals_of_member
from loyalty.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from members.selectors import member_get


class ReferralSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Referral"

    friend_id = serializers.CharField()
    status = serializers.ChoiceField(choices=ReferralStatus.choices)
    reason = serializers.CharField()
    reason_text = serializers.CharField()
    points = serializers.IntegerField(help_text="The referrer's points from it (once rewarded).")
    created_at = serializers.DateTimeField()

    def to_representation(self, referral: Referral) -> dict[str, Any]:
        return {
            "friend_id": referral.friend.public_id,
            "status": referral.status,
            "reason": referral.reason,
            "reason_text": referral_reason_text(referral.reason) if referral.reason else "",
            "points": referral.referrer_points if not referral.reversed_at else 0,
            "created_at": serializers.DateTimeField().to_representation(referral.created_at),
        }


class MemberReferralListApi(APIView):
    @extend_schema(
        responses=page_of(ReferralSerializer(many=True), name="ReferralPage"),
        operation_id="members_referrals_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request, public_id: str) -> Response:
        member = member_get(public_id=public_id, with_account=False)
        return paginated_response(
            queryset=referrals_of_member(member=member),
            serializer_class=ReferralSerializer,
            request=request,
            view=self,
        )
