"""Guards for back-office pages.

Every `/staff/` view uses `StaffRequiredMixin` with the permission of the
role(s) it serves (see `loyalty.roles`). Anonymous visitors are sent to the
login page; signed-in users without the permission (members, other roles)
get the 403 page. Managers without TOTP are sent to set it up first when
`LOYALTY_REQUIRE_MANAGER_MFA` is on (production).
"""

from __future__ import annotations

from typing import Any

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from loyalty.roles import STAFF_PERMISSIONS, is_manager


class StaffRequiredMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """`permission_required`: one permission, or a tuple of which any one will do
    (default: any staff permission, i.e. any role)."""

    permission_required: str | tuple[str, ...] = STAFF_PERMISSIONS

    def has_permission(self) -> bool:
        perms = self.get_permission_required()
        user = self.request.user
        return user.is_superuser or any(user.has_perm(perm) for perm in perms)

    def handle_no_permission(self) -> HttpResponse:
        # Signed-in users see the 403 page; anonymous ones go to the login page.
        self.raise_exception = self.request.user.is_authenticated
        return super().handle_no_permission()

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (
            settings.LOYALTY_REQUIRE_MANAGER_MFA
            and request.user.is_authenticated
            and is_manager(request.user)
            and not is_mfa_enabled(request.user)
        ):
            messages.warning(
                request, _("Managers must turn on two-factor authentication before continuing.")
            )
            return redirect("mfa_activate_totp")
        return super().dispatch(request, *args, **kwargs)
