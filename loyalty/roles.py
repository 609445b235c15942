"""Staff roles: Django groups made of the permissions on `StaffPermission`.

A manager holds every permission, so a page guarded for store staff or
marketers is open to managers too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(models.TextChoices):
    STORE_STAFF = "Store staff", _("Store staff")
    MARKETER = "Marketer", _("Marketer")
    MANAGER = "Manager", _("Manager")


SERVE_COUNTER = "loyalty.serve_counter"
MANAGE_MARKETING = "loyalty.manage_marketing"
VIEW_ANALYTICS = "loyalty.view_analytics"
MANAGE_PROGRAM = "loyalty.manage_program"
VIEW_AUDIT_LOG = "loyalty.view_audit_log"

ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.STORE_STAFF: (SERVE_COUNTER,),
    Role.MARKETER: (MANAGE_MARKETING, VIEW_ANALYTICS),
    Role.MANAGER: (SERVE_COUNTER, MANAGE_MARKETING, VIEW_ANALYTICS, MANAGE_PROGRAM, VIEW_AUDIT_LOG),
}
STAFF_PERMISSIONS = ROLE_PERMISSIONS[Role.MANAGER]

# Who may export which list (loyalty/exports.py; each export view guards with
# its permission). Managers hold every permission, so they export everything.
# Marketers: segments and redemptions (what campaigns work with). Store staff:
# purchases and ledger lines, of their own store only (export_store_bound).
# All members with their contact details: managers only.
EXPORT_PERMISSIONS: dict[str, str] = {
    "member": MANAGE_PROGRAM,
    "segment": MANAGE_MARKETING,
    "redemption": MANAGE_MARKETING,
    "purchase": SERVE_COUNTER,
    "ledger": SERVE_COUNTER,
}


def user_roles(user: AbstractBaseUser | AnonymousUser) -> list[Role]:
    """The roles a user holds, most powerful first."""
    if not user.is_authenticated:
        return []
    names = {group.name for group in user.groups.all()}
    return [role for role in reversed(Role) if role.value in names]


def is_staff_user(user: AbstractBaseUser | AnonymousUser) -> bool:
    """True for anyone who may enter the back-office."""
    return user.is_authenticated and (
        user.is_superuser or any(user.has_perm(perm) for perm in STAFF_PERMISSIONS)
    )


def is_manager(user: AbstractBaseUser | AnonymousUser) -> bool:
    return user.is_authenticated and user.has_perm(MANAGE_PROGRAM)
