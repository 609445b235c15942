"""Scopes of API keys (API.md): `pos` for tills, `admin` for everything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import exceptions, permissions
from rest_framework.request import Request

if TYPE_CHECKING:
    from rest_framework.views import APIView

from loyalty.models import ApiKey, ApiScope


class _HasScope(permissions.BasePermission):
    scope: str = ApiScope.POS
    message = "This API key lacks the scope this operation needs."

    def has_permission(self, request: Request, view: APIView) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            raise exceptions.NotAuthenticated("Send an API key: Authorization: Api-Key <key>.")
        return api_key.has_scope(self.scope)


class HasPosScope(_HasScope):
    scope = ApiScope.POS


class HasAdminScope(_HasScope):
    scope = ApiScope.ADMIN
