"""Reads about purchases. The store scope of API keys (API.md, Conventions)
lives here: a purchase of another store than the one the caller acts for is
not found, so a till cannot learn which receipts other stores recorded."""

from __future__ import annotations

from loyalty.models import Store
from purchases.errors import PurchaseNotFound
from purchases.models import Purchase


def purchase_get(*, pk: int, store: Store | None) -> Purchase:
    """The purchase `pk`, when it was recorded at `store` (None: any store).

    Raises PurchaseNotFound, also for another store's purchase."""
    purchases = Purchase.objects.select_related("store", "member")
    if store is not None:
        purchases = purchases.filter(store=store)
    purchase = purchases.filter(pk=pk).first()
    if purchase is None:
        raise PurchaseNotFound()
    return purchase
