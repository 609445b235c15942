"""Platform reads."""

from __future__ import annotations

import hmac

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.config import config_cached
from loyalty.errors import NotFound, StoreOutOfScope, ValidationFailed
from loyalty.models import (
    ApiKey,
    AuditEvent,
    Notification,
    ProgramSettings,
    Store,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookDisabledReason,
    WebhookEndpoint,
)
from loyalty.roles import Role
from loyalty.services import api_key_hash, api_key_prefix_of, program_settings_ensure


def program_settings_get() -> ProgramSettings:
    """The program settings (with the main store), from the process's
    configuration cache (loyalty.config): read-only; a change goes through
    loyalty.services.program_settings_update."""
    return config_cached("program", _program_load)


def _program_load() -> ProgramSettings:
    # With its main store, where sales that name no store go.
    found = ProgramSettings.objects.select_related("main_store").filter(
        pk=ProgramSettings.SINGLETON_PK
    )
    return found.first() or program_settings_ensure()


def store_list(*, active_only: bool = False) -> QuerySet[Store]:
    stores = Store.objects.all()
    return stores.filter(is_active=True) if active_only else stores


def store_get(*, code: str) -> Store | None:
    """The store with `code` (open or closed), from the configuration cache."""
    stores = config_cached("stores", lambda: {store.code: store for store in Store.objects.all()})
    return stores.get(code)


def store_get_by_id(*, pk: int) -> Store | None:
    """The store with primary key `pk`, from the configuration cache."""
    stores = config_cached(
        "stores_by_id", lambda: {store.pk: store for store in Store.objects.all()}
    )
    return stores.get(pk)


def store_acting(*, actor: Actor, code: str | None = None) -> Store:
    """Where an API call acts (a sale, a gift-card charge): the store named,
    else the API key's, else the program's main store. A key tied to a store
    may name only its own (API.md, Conventions).

    Raises StoreOutOfScope for another store than the key's, ValidationFailed
    (`fields.store`) for an unknown or closed store, or when none is named and
    neither the key nor the program has one."""
    scope = actor.store_scope
    if code and scope is not None and code != scope.code:
        raise StoreOutOfScope()
    if code:
        store = store_get(code=code)
        if store is None or not store.is_active:
            raise ValidationFailed(fields={"store": [_("No such store.")]})
        return store
    if actor.api_key is not None and actor.api_key.store is not None:
        return actor.api_key.store
    main = program_settings_get().main_store
    if main is None:
        raise ValidationFailed(
            fields={"store": [_("This key has no store and the program has no main store.")]}
        )
    return main


def api_key_get_active(*, key: str) -> ApiKey | None:
    """The active key matching `key`, or None (unknown, malformed or revoked)."""
    prefix = api_key_prefix_of(key)
    if prefix is None:
        return None
    api_key = config_cached("api_keys", _api_keys_load).get(prefix)
    if api_key is None or not hmac.compare_digest(api_key.key_hash, api_key_hash(key)):
        return None
    return api_key


def _api_keys_load() -> dict[str, ApiKey]:
    """The active keys by prefix (a handful per shop: one per till or system)."""
    keys = ApiKey.objects.select_related("store").filter(revoked_at__isnull=True)
    return {api_key.prefix: api_key for api_key in keys}


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("store", "created_by")


def audit_event_list() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor")


def staff_user_list() -> QuerySet[User]:
    """Everyone who holds a staff role, with their groups."""
    return (
        User.objects.filter(groups__name__in=[role.value for role in Role])
        .distinct()
        .select_related("store")
        .prefetch_related("groups")
        .order_by("-is_active", "first_name", "email")
    )


# --- Notifications --------------------------------------------------------------------------------


def notification_list(*, member_id: int) -> QuerySet[Notification]:
    """The member's inbox, newest first."""
    return Notification.objects.filter(member_id=member_id)


def notifications_unread_count(*, member_id: int) -> int:
    """How many of the member's notifications are unread (one indexed COUNT)."""
    return Notification.objects.filter(member_id=member_id, read_at__isnull=True).count()


def notification_get(*, member_id: int, notification_id: int) -> Notification | None:
    """The member's own notification, or None (another member's is not found)."""
    return Notification.objects.filter(pk=notification_id, member_id=member_id).first()


# --- Webhooks ---------------------------------------------------------------------------


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    """Endpoints, newest first, with their deliveries' counts by status."""
    pending = Count("deliveries", filter=Q(deliveries__status=WebhookDeliveryStatus.PENDING))
    failed = Count("deliveries", filter=Q(deliveries__status=WebhookDeliveryStatus.FAILED))
    return WebhookEndpoint.objects.annotate(
        pending_count=pending,
        failed_count=failed,
        last_delivered_at=Max("deliveries__delivered_at"),
    ).order_by("-created_at", "-id")


def webhook_endpoint_get(*, pk: int) -> WebhookEndpoint:
    """Raises NotFound."""
    endpoint = WebhookEndpoint.objects.filter(pk=pk).first()
    if endpoint is None:
        raise NotFound()
    return endpoint


def webhook_endpoints_disabled() -> QuerySet[WebhookEndpoint]:
    """Endpoints the relay disabled (a 410, or 5 days of failures): the notice
    managers see on the webhooks pages until they enable or delete them."""
    return WebhookEndpoint.objects.filter(
        active=False,
        disabled_reason__in=[WebhookDisabledReason.GONE, WebhookDisabledReason.FAILING],
    ).order_by("-disabled_at")


def webhook_attempt_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookAttempt]:
    """Every attempt to deliver to `endpoint`, newest first (the delivery log)."""
    return (
        WebhookAttempt.objects.filter(delivery__endpoint=endpoint)
        .select_related("delivery__event")
        .order_by("-at", "-id")
    )


def webhook_delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest event first, with their attempts."""
    return (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related(
            Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number"))
        )
        .order_by("-created_at", "-id")
    )
