"""Guards for back-office pages and the Django admin.

Every `/staff/` view uses `StaffRequiredMixin` with the permission of the
role(s) it serves (see `loyalty.roles`). Anonymous visitors are sent to the
login page; signed-in users without the permission (members, other roles)
get the 403 page.

The second factor is a property of the session, not of the user: a user who
has TOTP set up reaches the back-office and the admin only from a session in
which they passed it (allauth writes an "mfa" authentication record into the
session when they do, at sign-in or when asked again). A session signed in some
other way (a login that skipped the MFA stage, a session made by code) is sent
to give the code first. Managers without TOTP are sent to set it up first when
`LOYALTY_REQUIRE_MANAGER_MFA` is on (production).

The admin (`SetiaAdminSite`, installed as the default site by
`loyalty.apps.SetiaAdminConfig`) has no login form of its own: its login page
is allauth's (`secure_admin_login`), so the same rate limits and TOTP apply,
and it follows the same second-factor rule.
"""

from __future__ import annotations

from typing import Any

from allauth.account.authentication import get_authentication_records
from allauth.account.decorators import secure_admin_login
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _

from loyalty.roles import STAFF_PERMISSIONS, is_manager


def session_passed_second_factor(request: HttpRequest) -> bool:
    """True when this session holds allauth's record of an MFA authentication
    of its user (at sign-in, or a later MFA reauthentication)."""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


def second_factor_step(request: HttpRequest) -> str | None:
    """The step a signed-in user must take before a back-office or admin page:
    "authenticate" when they have a second factor and this session has not
    passed it; "activate" when they are a manager without one and
    `LOYALTY_REQUIRE_MANAGER_MFA` is on; None when they may go on."""
    user = request.user
    if not user.is_authenticated:
        return None
    if is_mfa_enabled(user):
        return None if session_passed_second_factor(request) else "authenticate"
    if settings.LOYALTY_REQUIRE_MANAGER_MFA and is_manager(user):
        return "activate"
    return None


def second_factor_detour(request: HttpRequest) -> HttpResponse | None:
    """The redirect to that step (giving the code brings the user back to this
    page), with a message saying why; None when there is no step to take."""
    step = second_factor_step(request)
    if step == "authenticate":
        messages.info(request, _("Enter the code from your authenticator app to continue."))
        query = urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})
        return HttpResponseRedirect(f"{reverse('mfa_reauthenticate')}?{query}")
    if step == "activate":
        messages.warning(
            request, _("Managers must turn on two-factor authentication before continuing.")
        )
        return redirect("mfa_activate_totp")
    return None


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
        return second_factor_detour(request) or super().dispatch(request, *args, **kwargs)


@secure_admin_login
def _admin_login(request: HttpRequest) -> HttpResponse:
    # Anonymous visitors never get here: allauth's decorator sends them to its
    # login page (and back), and signed-in users who are not active staff get 403.
    detour = second_factor_detour(request)
    if detour is not None:
        return detour
    next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("admin:index")
    return HttpResponseRedirect(next_url)


class SetiaAdminSite(admin.AdminSite):
    """Django's admin behind allauth's login and our second-factor rule."""

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and second_factor_step(request) is None

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return _admin_login(request)
