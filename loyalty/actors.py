"""Who is acting: a signed-in user or an API key, and from which address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from loyalty.models import ApiKey

if TYPE_CHECKING:
    from django.http import HttpRequest

    from loyalty.models import User


@dataclass(frozen=True)
class Actor:
    user: User | None = None
    api_key: ApiKey | None = None
    ip: str | None = None

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        """The actor behind a page or API request (DRF puts the API key in `auth`)."""
        user = getattr(request, "user", None)
        api_key = getattr(request, "auth", None)
        return cls(
            user=user if user is not None and user.is_authenticated else None,
            api_key=api_key if isinstance(api_key, ApiKey) else None,
            ip=client_ip(request),
        )

    @classmethod
    def system(cls) -> Actor:
        """Scheduled jobs and management commands acting on their own."""
        return cls()

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.email
        if self.api_key is not None:
            return f"API key {self.api_key.name} ({self.api_key.prefix})"
        return "system"


def client_ip(request: HttpRequest) -> str | None:
    """The client's address. Behind a proxy (DJANGO_BEHIND_PROXY) the first
    X-Forwarded-For hop is the client."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None
