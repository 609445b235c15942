"""The error envelope of API.md, for every error under `/api/`:

    {"code": "<machine_code>", "detail": "<human sentence>", "fields": {...}}

`fields` is present only for validation errors.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response

from loyalty.errors import DomainError

logger = logging.getLogger(__name__)

# DRF's exception classes → the codes of API.md.
CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "invalid",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def envelope(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


def _flatten_fields(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structures → `{"items[0].quantity": ["..."]}`."""
    flat: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, int):  # a list serializer's errors by index
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(_flatten_fields(value, name))
    elif isinstance(data, list) and data and all(isinstance(item, str) for item in data):
        flat[prefix or "non_field_errors"] = [str(item) for item in data]
    elif isinstance(data, list):
        for index, value in enumerate(data):
            if value:
                flat.update(_flatten_fields(value, f"{prefix}[{index}]"))
    else:
        flat[prefix or "non_field_errors"] = [str(data)]
    return flat


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER. Unexpected exceptions return None, so Django's
    500 handler answers (with the envelope, see `api_server_error`).

    Unlike DRF's default, it does not mark the transaction for rollback:
    services own their transactions, and the idempotency wrapper must be able
    to store a 4xx answer.
    """
    if isinstance(exc, DomainError):
        return Response(envelope(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Raised when the view (or the idempotency fingerprint) reads a body over
        # DATA_UPLOAD_MAX_MEMORY_SIZE; Django would answer its HTML 400.
        exc = exceptions.ParseError("The request body is too large.")
    if not isinstance(exc, exceptions.APIException):
        return None

    headers = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait))
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    code = next((code for cls, code in CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        body = envelope(code, "Some values are not valid.", _flatten_fields(exc.detail))
    else:
        body = envelope(code, str(exc.detail))
    return Response(body, status=exc.status_code, headers=headers)


# Django's handlers for what no DRF view answers (see loyalty/urls.py and
# loyalty/views.py): unknown URLs, a bad Host header, an unexpected exception.


def api_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(envelope("invalid", "The request is not valid."), status=400)


def api_permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        envelope("permission_denied", "You do not have permission to perform this action."),
        status=403,
    )


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(envelope("not_found", "No such endpoint."), status=404)


@csrf_exempt
def api_unknown_endpoint(request: HttpRequest) -> JsonResponse:
    """The last URL under /api/. With DEBUG, Django answers an unresolved URL
    with its technical HTML page and never calls handler404; matching every
    remaining /api/ path gives integrators the same JSON 404 in every mode.
    CSRF-exempt, so a POST to a wrong path is a 404, not a CSRF failure."""
    return api_not_found(request)


def api_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        envelope("server_error", "Something went wrong on our side."),
        status=500,
    )
