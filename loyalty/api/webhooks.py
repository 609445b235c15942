"""Webhook endpoints and their delivery log (API.md, "Feedback, notifications,
webhooks", scope `admin`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.actors import Actor
from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from loyalty.api.permissions import HasAdminScope
from loyalty.models import WebhookAttempt, WebhookEndpoint, WebhookEventType
from loyalty.selectors import webhook_attempt_list, webhook_endpoint_get, webhook_endpoint_list
from loyalty.webhooks import (
    URL_MAX_LENGTH,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        ref_name = "WebhookEndpoint"
        fields = [
            "id",
            "url",
            "description",
            "events",
            "active",
            "disabled_reason",
            "disabled_at",
            "created_at",
        ]

    events = serializers.ListField(child=serializers.ChoiceField(WebhookEventType.choices))


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """The endpoint as created: the only answer that carries its secret."""

    class Meta(WebhookEndpointSerializer.Meta):
        ref_name = "WebhookEndpointCreated"
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class _EndpointInput(serializers.Serializer):
    url = serializers.CharField(max_length=URL_MAX_LENGTH)
    description = serializers.CharField(
        max_length=120, required=False, default="", allow_blank=True
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(WebhookEventType.choices),
        min_length=1,
        max_length=len(WebhookEventType.choices),
    )
    active = serializers.BooleanField(required=False, default=True)


class WebhookListApi(APIView):
    permission_classes = [HasAdminScope]

    class InputSerializer(_EndpointInput):
        class Meta:
            ref_name = "WebhookEndpointCreate"

    @extend_schema(
        responses=page_of(WebhookEndpointSerializer(many=True), name="WebhookEndpointPage"),
        operation_id="webhooks_list",
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            queryset=webhook_endpoint_list(),
            serializer_class=WebhookEndpointSerializer,
            request=request,
            view=self,
        )

    @extend_schema(request=InputSerializer, responses={201: WebhookEndpointCreatedSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = webhook_endpoint_create(
            actor=Actor.from_request(request), **serializer.validated_data
        )
        return Response(
            WebhookEndpointCreatedSerializer(issued.endpoint).data, status=status.HTTP_201_CREATED
        )


class WebhookDetailApi(APIView):
    permission_classes = [HasAdminScope]

    class InputSerializer(_EndpointInput):
        class Meta:
            ref_name = "WebhookEndpointUpdate"

    @extend_schema(responses=WebhookEndpointSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookEndpointSerializer(webhook_endpoint_get(pk=pk)).data)

    @extend_schema(request=InputSerializer, responses=WebhookEndpointSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        endpoint = webhook_endpoint_get(pk=pk)
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes: dict[str, Any] = serializer.validated_data
        endpoint = webhook_endpoint_update(
            actor=Actor.from_request(request), endpoint=endpoint, **changes
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        webhook_endpoint_delete(
            actor=Actor.from_request(request), endpoint=webhook_endpoint_get(pk=pk)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookAttemptSerializer(serializers.ModelSerializer):
    """One attempt of the delivery log."""

    class Meta:
        model = WebhookAttempt
        ref_name = "WebhookDeliveryAttempt"
        fields = [
            "event_id",
            "type",
            "attempt",
            "status_code",
            "error",
            "at",
            "duration_ms",
            "delivery_status",
        ]

    event_id = serializers.CharField(source="delivery.event.msg_id")
    type = serializers.ChoiceField(WebhookEventType.choices, source="delivery.event.type")
    attempt = serializers.IntegerField(source="number")
    delivery_status = serializers.CharField(source="delivery.status")


class WebhookDeliveryListApi(APIView):
    permission_classes = [HasAdminScope]

    @extend_schema(
        responses=page_of(WebhookAttemptSerializer(many=True), name="WebhookDeliveryPage"),
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request, pk: int) -> Response:
        return paginated_response(
            queryset=webhook_attempt_list(endpoint=webhook_endpoint_get(pk=pk)),
            serializer_class=WebhookAttemptSerializer,
            request=request,
            view=self,
        )
