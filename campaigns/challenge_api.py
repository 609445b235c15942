"""Challenges and badges (API.md, "Challenges and badges"): `/challenges` and
`/badges` with scope `admin`; a member's challenges, joining one, and their
badges with scope `pos` (a member's own, read from every store, like the
ledger).

A challenge's `target` is an amount (a money string, "150.00") for the spend
goals and a whole number for the others (purchases, stores, referrals,
events, weeks); it is given either way on input.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.challenge_selectors import (
    NOT_JOINED,
    MemberChallenge,
    badge_list,
    challenge_get,
    challenge_list,
    challenge_status,
    challenges_for_member,
    member_badges_earned,
)
from campaigns.challenges import badge_create, challenge_create, challenge_join, challenge_update
from campaigns.models import (
    BADGE_DESCRIPTION_MAX_LENGTH,
    BADGE_NAME_MAX_LENGTH,
    CHALLENGE_DESCRIPTION_MAX_LENGTH,
    CHALLENGE_NAME_MAX_LENGTH,
    EVENT_NAME_MAX_LENGTH,
    MONEY_GOALS,
    ROLLING_DAYS_MAX,
    STREAK_FREEZES_MAX,
    Badge,
    BadgeIcon,
    BadgeRarity,
    CampaignStatus,
    Challenge,
    ChallengeGoal,
    MemberBadge,
    ParticipationStatus,
)
from loyalty import limits
from loyalty.actors import Actor
from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import PAGE_PARAMETERS, PageNumberPagination, page_of
from loyalty.api.permissions import HasAdminScope
from loyalty.errors import ValidationFailed
from members.models import Segment, Tier
from members.selectors import member_get
from rewards.models import Reward

ID_MAX = 2**63 - 1


def _time(value: Any) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


def _amount(challenge: Challenge, value: Decimal) -> str | int:
    """A goal's figure: a money string for the spend goals, else a whole number."""
    return str(value) if challenge.goal in MONEY_GOALS else int(value)


@extend_schema_field(OpenApiTypes.STR)
class GoalFigureField(serializers.DecimalField):
    """A target: "150.00" or 3 on input; a string for money, a number for counts on output."""


# --- Badges ---------------------------------------------------------------------------------------


class BadgeSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Badge"

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=BADGE_NAME_MAX_LENGTH)
    description = serializers.CharField(
        max_length=BADGE_DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True
    )
    icon = serializers.ChoiceField(choices=BadgeIcon.choices, required=False)
    image = serializers.CharField(
        read_only=True, allow_null=True, help_text="The uploaded picture's URL, if any."
    )
    rarity = serializers.ChoiceField(choices=BadgeRarity.choices, required=False)

    def to_representation(self, badge: Badge) -> dict[str, Any]:
        return {
            "id": badge.pk,
            "name": badge.name,
            "description": badge.description,
            "icon": badge.icon,
            "image": badge.image.url if badge.image else None,
            "rarity": badge.rarity,
        }


class BadgeListApi(APIView):
    permission_classes = [HasAdminScope]

    @extend_schema(
        responses=page_of(BadgeSerializer(many=True), name="BadgePage"),
        operation_id="badges_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(badge_list(), request, view=self)
        return paginator.get_paginated_response(BadgeSerializer(page, many=True).data)

    @extend_schema(request=BadgeSerializer, responses={201: BadgeSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = BadgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        badge = badge_create(actor=Actor.from_request(request), **serializer.validated_data)
        return Response(BadgeSerializer(badge).data, status=status.HTTP_201_CREATED)


# --- Challenges -----------------------------------------------------------------------------------


class MilestoneSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ChallengeMilestone"

    weeks = serializers.IntegerField(min_value=1, max_value=520)
    points = serializers.IntegerField(min_value=1, max_value=limits.POINTS_MAX)


class GoalSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ChallengeGoal"

    type = serializers.ChoiceField(choices=ChallengeGoal.choices)
    target = GoalFigureField(
        max_digits=limits.MONEY_DIGITS,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=limits.MONEY_MAX,
    )
    categories = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=50, required=False
    )
    skus = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=50, required=False
    )
    event = serializers.CharField(
        max_length=EVENT_NAME_MAX_LENGTH, required=False, allow_blank=True
    )
    freezes = serializers.IntegerField(min_value=0, max_value=STREAK_FREEZES_MAX, required=False)
    milestones = MilestoneSerializer(many=True, required=False)


class ChallengeAudienceSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ChallengeAudience"

    tiers = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=Tier.objects.all(), required=False
    )
    segment = serializers.IntegerField(
        min_value=1, max_value=ID_MAX, allow_null=True, required=False
    )


class ChallengeRewardSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ChallengeReward"

    points = serializers.IntegerField(min_value=0, max_value=limits.POINTS_MAX, required=False)
    badge = serializers.IntegerField(min_value=1, max_value=ID_MAX, allow_null=True, required=False)
    reward = serializers.IntegerField(
        min_value=1, max_value=ID_MAX, allow_null=True, required=False
    )


class ChallengeSerializer(serializers.Serializer):
    """A challenge as API.md gives it; also the input of POST and PATCH
    (`status`: the one to move to)."""

    class Meta:
        ref_name = "Challenge"

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=CHALLENGE_NAME_MAX_LENGTH)
    description = serializers.CharField(
        max_length=CHALLENGE_DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True
    )
    goal = GoalSerializer()
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(allow_null=True, required=False)
    rolling_days = serializers.IntegerField(
        min_value=1, max_value=ROLLING_DAYS_MAX, allow_null=True, required=False
    )
    opt_in = serializers.BooleanField(required=False)
    audience = ChallengeAudienceSerializer(required=False)
    reward = ChallengeRewardSerializer(required=False)
    repeatable = serializers.BooleanField(required=False)
    leaderboard = serializers.BooleanField(required=False)
    status = serializers.ChoiceField(choices=CampaignStatus.choices, required=False)
    created_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, challenge: Challenge) -> dict[str, Any]:
        now = self.context.get("now") or timezone.now()
        goal: dict[str, Any] = {
            "type": challenge.goal,
            "target": _amount(challenge, challenge.target),
        }
        if challenge.goal == ChallengeGoal.CATEGORY_SPEND:
            goal.update(categories=challenge.categories, skus=challenge.skus)
        if challenge.goal == ChallengeGoal.EVENT_COUNT:
            goal["event"] = challenge.event
        if challenge.goal == ChallengeGoal.WEEKLY_STREAK:
            goal.update(freezes=challenge.streak_freezes, milestones=challenge.streak_milestones)
        return {
            "id": challenge.pk,
            "name": challenge.name,
            "description": challenge.description,
            "goal": goal,
            "starts_at": _time(challenge.starts_at),
            "ends_at": _time(challenge.ends_at),
            "rolling_days": challenge.rolling_days,
            "opt_in": challenge.opt_in,
            "audience": {
                "tiers": sorted(tier.code for tier in challenge.tiers.all()),
                "segment": challenge.segment_id,
            },
            "reward": {
                "points": challenge.reward_points,
                "badge": challenge.badge_id,
                "reward": challenge.reward_id,
            },
            "repeatable": challenge.repeatable,
            "leaderboard": challenge.leaderboard,
            "status": challenge_status(challenge=challenge, now=now),
            "created_at": _time(challenge.created_at),
        }


def _one(model: type, pk: int | None, field: str) -> Any:
    if pk is None:
        return None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise ValidationFailed(fields={field: [f"No such {model._meta.verbose_name}."]})
    return found


def _service_arguments(data: dict[str, Any]) -> dict[str, Any]:
    """The serializer's validated data → challenge_create/update's arguments."""
    data = dict(data)
    arguments: dict[str, Any] = {}
    goal = data.pop("goal", None) or {}
    renamed = {"type": "goal", "freezes": "streak_freezes"}
    for name, value in goal.items():
        if name == "milestones":
            arguments["streak_milestones"] = [dict(m) for m in value]
        else:
            arguments[renamed.get(name, name)] = value
    audience = data.pop("audience", None) or {}
    if "tiers" in audience:
        arguments["tiers"] = audience["tiers"]
    if "segment" in audience:
        arguments["segment"] = _one(Segment, audience["segment"], "audience.segment")
    reward = data.pop("reward", None) or {}
    if "points" in reward:
        arguments["reward_points"] = reward["points"]
    if "badge" in reward:
        arguments["badge"] = _one(Badge, reward["badge"], "reward.badge")
    if "reward" in reward:
        arguments["reward"] = _one(Reward, reward["reward"], "reward.reward")
    return {**data, **arguments}


def _render(challenge: Challenge, *, code: int = status.HTTP_200_OK) -> Response:
    return Response(ChallengeSerializer(challenge_get(challenge_id=challenge.pk)).data, status=code)


class ChallengeListApi(APIView):
    permission_classes = [HasAdminScope]

    @extend_schema(
        responses=page_of(ChallengeSerializer(many=True), name="ChallengePage"),
        operation_id="challenges_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(challenge_list(), request, view=self)
        context = {"now": timezone.now()}
        return paginator.get_paginated_response(
            ChallengeSerializer(page, many=True, context=context).data
        )

    @extend_schema(request=ChallengeSerializer, responses={201: ChallengeSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = ChallengeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        challenge = challenge_create(
            actor=Actor.from_request(request), **_service_arguments(serializer.validated_data)
        )
        return _render(challenge, code=status.HTTP_201_CREATED)


class ChallengeDetailApi(APIView):
    permission_classes = [HasAdminScope]

    @extend_schema(responses=ChallengeSerializer)
    def get(self, request: Request, challenge_id: int) -> Response:
        return _render(challenge_get(challenge_id=challenge_id))

    @extend_schema(request=ChallengeSerializer, responses=ChallengeSerializer)
    def patch(self, request: Request, challenge_id: int) -> Response:
        challenge = challenge_get(challenge_id=challenge_id)
        serializer = ChallengeSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        challenge = challenge_update(
            actor=Actor.from_request(request),
            challenge=challenge,
            **_service_arguments(serializer.validated_data),
        )
        return _render(challenge)


# --- A member's challenges and badges (scope `pos`) -------------------------------------------


class MemberChallengeSerializer(serializers.Serializer):
    class Meta:
        ref_name = "MemberChallenge"

    challenge = serializers.IntegerField()
    name = serializers.CharField()
    goal = serializers.ChoiceField(choices=ChallengeGoal.choices)
    progress = serializers.CharField(help_text="A money string for spend goals, else a number.")
    target = serializers.CharField(help_text="A money string for spend goals, else a number.")
    status = serializers.ChoiceField(choices=ParticipationStatus.choices)
    completed_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    days_left = serializers.IntegerField(allow_null=True)
    times_completed = serializers.IntegerField()
    streak_broken = serializers.BooleanField()
    points_reversed = serializers.BooleanField(
        help_text="The sale that completed it came back in full: its points were taken back."
    )

    def to_representation(self, shown: MemberChallenge) -> dict[str, Any]:
        challenge = shown.challenge
        return {
            "challenge": challenge.pk,
            "name": challenge.name,
            "goal": challenge.goal,
            "progress": _amount(challenge, shown.progress),
            "target": _amount(challenge, shown.target),
            "status": shown.status,
            "completed_at": _time(shown.completed_at),
            "ends_at": _time(shown.ends_at),
            "days_left": shown.days_left,
            "times_completed": shown.times_completed,
            "streak_broken": shown.streak_broken,
            "points_reversed": shown.points_reversed,
        }


class MemberChallengeListApi(APIView):
    """The member's challenges: those they take part in and the automatic
    ones of their audience (opt-in ones they have not joined are not listed)."""

    @extend_schema(
        responses=page_of(MemberChallengeSerializer(many=True), name="MemberChallengePage"),
        operation_id="members_challenges_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request, public_id: str) -> Response:
        member = member_get(public_id=public_id, with_account=False)
        shown = [
            c
            for c in challenges_for_member(member=member, now=timezone.now())
            if c.status != NOT_JOINED
        ]
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(shown, request, view=self)
        return paginator.get_paginated_response(MemberChallengeSerializer(page, many=True).data)


class MemberChallengeJoinApi(APIView):
    @extend_schema(request=None, responses={201: MemberChallengeSerializer})
    @idempotent
    def post(self, request: Request, public_id: str, challenge_id: int) -> Response:
        member = member_get(public_id=public_id, with_account=False)
        challenge = challenge_get(challenge_id=challenge_id)
        challenge_join(member=member, challenge=challenge)
        (shown,) = [
            c
            for c in challenges_for_member(member=member, now=timezone.now())
            if c.challenge.pk == challenge.pk
        ]
        return Response(MemberChallengeSerializer(shown).data, status=status.HTTP_201_CREATED)


class MemberBadgeSerializer(serializers.Serializer):
    class Meta:
        ref_name = "MemberBadge"

    badge = BadgeSerializer()
    earned_at = serializers.DateTimeField()
    times = serializers.IntegerField()

    def to_representation(self, held: MemberBadge) -> dict[str, Any]:
        return {
            "badge": BadgeSerializer(held.badge).data,
            "earned_at": _time(held.earned_at),
            "times": held.times,
        }


class MemberBadgeListApi(APIView):
    @extend_schema(
        responses=page_of(MemberBadgeSerializer(many=True), name="MemberBadgePage"),
        operation_id="members_badges_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request, public_id: str) -> Response:
        member = member_get(public_id=public_id, with_account=False)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(member_badges_earned(member=member), request, view=self)
        return paginator.get_paginated_response(MemberBadgeSerializer(page, many=True).data)
