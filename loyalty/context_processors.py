"""Values every template may use."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from loyalty.roles import is_staff_user, user_roles


def site(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "CURRENCY": settings.LOYALTY_CURRENCY,
        "user_is_staff": bool(user) and is_staff_user(user),
        "user_roles": user_roles(user) if user is not None else [],
    }
