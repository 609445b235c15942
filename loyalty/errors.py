"""Domain errors. Each app's `errors.py` subclasses `DomainError`; the API maps
them to the error envelope of API.md and pages show `message`."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A business rule refused an operation. Nothing was written."""

    code = "invalid"
    status = 400
    default_message = _("The request could not be completed.")

    def __init__(
        self, message: str | None = None, *, fields: dict[str, list[str]] | None = None
    ) -> None:
        self.message = str(message or self.default_message)
        self.fields = fields
        super().__init__(self.message)


class ValidationFailed(DomainError):
    code = "invalid"
    status = 400
    default_message = _("Some values are not valid.")


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message = _("Not found.")


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    default_message = _("You may not do this.")


class StoreOutOfScope(PermissionDenied):
    """An API key tied to a store named another store (API.md, Conventions)."""

    default_message = _("This API key acts for its own store only.")


class Conflict(DomainError):
    code = "conflict"
    status = 409
    default_message = _("This conflicts with the current state.")


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_message = _("This Idempotency-Key was already used with a different request body.")
