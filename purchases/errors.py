"""Domain errors of sales and returns (codes of API.md)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.errors import Conflict, NotFound


class DuplicateReference(Conflict):
    code = "duplicate_reference"
    default_message = _("This store already recorded a different sale under this receipt number.")


class PurchaseNotFound(NotFound):
    default_message = _("No such purchase.")
