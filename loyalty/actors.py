"""Who is acting: a signed-in user or an API key, and from which address."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from loyalty.models import ApiKey

if TYPE_CHECKING:
    from django.http import HttpRequest

    from loyalty.models import Store, User


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
    def store_scope(self) -> Store | None:
        """The one store this actor acts for, or None for every store: an API
        key's scope (`ApiKey.store_scope`); staff and the system act for every
        store (a staff account's `store` is its counter's default and narrows
        the lists it sees, never where it may act)."""
        return self.api_key.store_scope if self.api_key is not None else None

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.email
        if self.api_key is not None:
            return f"API key {self.api_key.name} ({self.api_key.prefix})"
        return "system"


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, read as allauth and DRF read it.

    Without a proxy (`LOYALTY_TRUSTED_PROXY_COUNT` 0), REMOTE_ADDR: an
    X-Forwarded-For header is whatever the client wrote. Behind N proxies of
    ours, the N-th X-Forwarded-For hop from the right, the one our outermost
    proxy appended; hops to its left come from the client and are ignored.
    With fewer hops than proxies, the leftmost (as DRF does); a hop that is
    not an address falls back to REMOTE_ADDR.
    """
    count = settings.LOYALTY_TRUSTED_PROXY_COUNT
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if count > 0 and any(hops):
        hop = hops[-min(count, len(hops))]
        if _is_ip(hop):
            return hop
    return request.META.get("REMOTE_ADDR") or None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
