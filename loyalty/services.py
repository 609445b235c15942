"""Every platform write: audit, stores, program settings, API keys.

Each function owns its transaction and records an audit event with the actor.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.config import config_forget
from loyalty.errors import ValidationFailed
from loyalty.models import (
    ApiKey,
    ApiScope,
    AuditEvent,
    IdempotencyRecord,
    ProgramSettings,
    Store,
    User,
)
from loyalty.roles import ROLE_PERMISSIONS, Role, user_roles

# --- Audit --------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return value


def snapshot(obj: models.Model, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A JSON-safe picture of some fields of `obj`, for an audit event."""
    picture = {}
    for name in fields:
        field = obj._meta.get_field(name)
        value = getattr(obj, field.attname)
        picture[name] = _json_value(value)
    return picture


def audit_record(
    *,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one write. Call it inside the transaction of the write it describes,
    so the event exists exactly when the change does."""
    return AuditEvent.objects.create(
        actor=actor.user,
        actor_label=actor.label,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        before=before,
        after=after,
        ip=actor.ip,
    )


def model_validate(obj: models.Model, *, exclude: list[str] | None = None) -> None:
    """Model validation (the field bounds of loyalty/limits.py included), raised
    as our ValidationFailed with the field messages."""
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise ValidationFailed(
            fields={k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        ) from exc


# --- Idempotency records --------------------------------------------------------------


def idempotency_records_purge(*, now: datetime) -> int:
    """Forget keys older than the retention (API.md: kept at least 7 days)."""
    cutoff = now - timedelta(days=settings.LOYALTY_IDEMPOTENCY_TTL_DAYS)
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# --- Stores -----------------------------------------------------------------------------

STORE_FIELDS = ("code", "name", "address", "phone", "is_active")


@transaction.atomic
def store_create(
    *,
    actor: Actor,
    code: str,
    name: str,
    address: str = "",
    phone: str = "",
    is_active: bool = True,
) -> Store:
    """Create a store. Raises ValidationFailed if the code is taken."""
    if Store.objects.filter(code=code).exists():
        raise ValidationFailed(fields={"code": [_("A store with this code already exists.")]})
    store = Store(code=code, name=name, address=address, phone=phone, is_active=is_active)
    model_validate(store)
    store.save()
    # The first store becomes the main one: sales that name no store go there.
    program_settings_ensure()
    ProgramSettings.objects.filter(pk=ProgramSettings.SINGLETON_PK, main_store__isnull=True).update(
        main_store=store
    )
    config_forget()  # an update() sends no post_save
    audit_record(actor=actor, action="store.create", obj=store, after=snapshot(store, STORE_FIELDS))
    return store


@transaction.atomic
def store_update(*, actor: Actor, store: Store, **changes: Any) -> Store:
    """Change some of a store's fields (`STORE_FIELDS` except `code`, which is
    referenced by tills and never changes)."""
    unknown = set(changes) - (set(STORE_FIELDS) - {"code"})
    if unknown:
        raise ValidationFailed(
            fields={name: [_("This field cannot be changed.")] for name in sorted(unknown)}
        )
    store = Store.objects.select_for_update().get(pk=store.pk)
    before = snapshot(store, STORE_FIELDS)
    for name, value in changes.items():
        setattr(store, name, value)
    model_validate(store)
    store.save()
    audit_record(
        actor=actor,
        action="store.update",
        obj=store,
        before=before,
        after=snapshot(store, STORE_FIELDS),
    )
    return store


# --- Program settings ------------------------------------------------------------------------

PROGRAM_FIELDS = (
    "name",
    "merchant_name",
    "earn_points",
    "earn_per_amount",
    "point_value",
    "pending_days",
    "expiry_days",
    "tier_basis",
    "tier_window_days",
    "staff_adjust_limit",
    "brand_color",
    "accent_color",
    "expiry_warning_days",
    "main_store",
)


def program_settings_ensure() -> ProgramSettings:
    """The settings row, created with defaults on first use."""
    program, _created = ProgramSettings.objects.get_or_create(pk=ProgramSettings.SINGLETON_PK)
    return program


@transaction.atomic
def program_settings_update(*, actor: Actor, **changes: Any) -> ProgramSettings:
    """Change program settings. Raises ValidationFailed naming the bad fields."""
    unknown = set(changes) - set(PROGRAM_FIELDS)
    if unknown:
        raise ValidationFailed(fields={name: [_("Unknown setting.")] for name in sorted(unknown)})
    program_settings_ensure()
    program = ProgramSettings.objects.select_for_update().get(pk=ProgramSettings.SINGLETON_PK)
    before = snapshot(program, PROGRAM_FIELDS)
    for name, value in changes.items():
        setattr(program, name, value)
    model_validate(program)
    program.save()
    audit_record(
        actor=actor,
        action="program.update",
        obj=program,
        before=before,
        after=snapshot(program, PROGRAM_FIELDS),
    )
    return program


# --- API keys -----------------------------------------------------------------------------------

API_KEY_FIELDS = ("name", "prefix", "scopes", "store", "revoked_at")


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    key: str  # shown once, never stored


def api_key_hash(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_prefix_of(key: str) -> str | None:
    """The prefix part of a key shaped `setia_<prefix>_<secret>`, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "setia" or len(parts[1]) != 8:
        return None
    return parts[1]


@transaction.atomic
def api_key_create(
    *, actor: Actor, name: str, scopes: list[str], store: Store | None = None
) -> IssuedApiKey:
    """Create an API key and return it with its secret, which is not kept."""
    valid = {choice.value for choice in ApiScope}
    scopes = sorted(set(scopes))
    if not scopes or not set(scopes) <= valid:
        raise ValidationFailed(fields={"scopes": [_("Choose one or more of: pos, admin.")]})
    if not name.strip():
        raise ValidationFailed(fields={"name": [_("Give the key a name.")]})
    name_max = ApiKey._meta.get_field("name").max_length
    if len(name.strip()) > name_max:
        raise ValidationFailed(
            fields={"name": [_("At most %(count)s characters.") % {"count": name_max}]}
        )
    while True:
        prefix = secrets.token_hex(4)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    key = f"setia_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name.strip(),
        prefix=prefix,
        key_hash=api_key_hash(key),
        scopes=scopes,
        store=store,
        created_by=actor.user,
    )
    audit_record(
        actor=actor, action="api_key.create", obj=api_key, after=snapshot(api_key, API_KEY_FIELDS)
    )
    return IssuedApiKey(api_key=api_key, key=key)


@transaction.atomic
def api_key_revoke(*, actor: Actor, api_key: ApiKey) -> ApiKey:
    """Revoke a key; calls signed with it fail from now on. Revoking twice is a no-op."""
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        return api_key
    before = snapshot(api_key, API_KEY_FIELDS)
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        action="api_key.revoke",
        obj=api_key,
        before=before,
        after=snapshot(api_key, API_KEY_FIELDS),
    )
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    """Note that a key was used, at most once a minute per key: a write per
    request would cost the till API more than the work it does."""
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() >= 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


# --- Staff roles and accounts ----------------------------------------------------------


def staff_roles_sync() -> None:
    """Make sure the role groups exist with exactly their permissions.

    Migration 0002 creates them; this repairs them (after a database flush in
    tests, or a hand edit in the admin). Idempotent.
    """
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role.value)
        codenames = [perm.split(".", 1)[1] for perm in perms]
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="loyalty", codename__in=codenames)
        )


STAFF_USER_FIELDS = ("email", "first_name", "last_name", "is_active", "store")


def _staff_snapshot(user: User) -> dict[str, Any]:
    return {**snapshot(user, STAFF_USER_FIELDS), "roles": [role.value for role in user_roles(user)]}


@transaction.atomic
def staff_user_create(
    *,
    actor: Actor,
    email: str,
    first_name: str,
    last_name: str,
    role: Role,
    password: str | None = None,
    invite_url: str | None = None,
    store: Store | None = None,
) -> User:
    """Create a back-office account with one role. Its email counts as verified
    (a manager vouches for it). `store`: where a store-staff account works
    (None: every store).

    Without a password the account cannot sign in until its owner sets one:
    with `invite_url` (the site's address) an invitation with a set-password
    link is emailed once the transaction commits. Raises ValidationFailed if
    the email is taken.
    """
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationFailed(fields={"email": [_("An account with this email already exists.")]})
    staff_roles_sync()
    user = User.objects.create_user(
        email=email, password=password, first_name=first_name, last_name=last_name, store=store
    )
    user.groups.add(Group.objects.get(name=role.value))
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    audit_record(actor=actor, action="staff_user.create", obj=user, after=_staff_snapshot(user))
    if invite_url:
        # Imported here: tasks call services, so services import tasks late.
        from loyalty.tasks import send_staff_invitation

        language = translation.get_language() or settings.LANGUAGE_CODE
        transaction.on_commit(lambda: send_staff_invitation.delay(user.pk, invite_url, language))
    return user


@transaction.atomic
def staff_user_update(
    *,
    actor: Actor,
    user: User,
    role: Role,
    is_active: bool,
    first_name: str,
    last_name: str,
    store: Store | None = None,
) -> User:
    """Change a staff account's role, name, store or access. A manager cannot
    take away their own manager role or access (a program must keep a
    manager): raises ValidationFailed."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if (
        actor.user is not None
        and actor.user.pk == user.pk
        and (role != Role.MANAGER or not is_active)
    ):
        raise ValidationFailed(_("You cannot remove your own manager role or access."))
    before = _staff_snapshot(user)
    user.first_name, user.last_name, user.is_active = first_name, last_name, is_active
    user.store = store
    user.save(update_fields=["first_name", "last_name", "is_active", "store"])
    staff_roles_sync()
    user.groups.remove(*Group.objects.filter(name__in=[r.value for r in Role]))
    user.groups.add(Group.objects.get(name=role.value))
    audit_record(
        actor=actor,
        action="staff_user.update",
        obj=user,
        before=before,
        after=_staff_snapshot(user),
    )
    return user
