"""The Permissions-Policy header: browser features no page of ours uses are off.

No page uses the camera, the microphone, location, payment or device APIs: the
counter takes codes from a scanner that types them (or from the keyboard), not
from the camera. So every feature of `LOYALTY_PERMISSIONS_POLICY` is denied to
every page and to any frame, and a script that got in could not switch them on.
A feature a page comes to need is allowed there by name ("self"), not globally.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Permissions-Policy"


def permissions_policy_value(policy: dict[str, list[str]]) -> str:
    """`{"camera": [], "fullscreen": ["self"]}` as `camera=(), fullscreen=(self)`."""
    return ", ".join(f"{feature}=({' '.join(allow)})" for feature, allow in policy.items())


class PermissionsPolicyMiddleware:
    """Adds `Permissions-Policy` (from `LOYALTY_PERMISSIONS_POLICY`) to every
    response that has none yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.value = permissions_policy_value(settings.LOYALTY_PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.value:
            response.headers.setdefault(HEADER, self.value)
        return response
