"""Helpers for sale tests. The fixtures `program`, `tiers` and `shopper` live in
tests/conftest.py (re-exported here for modules that import them)."""

from __future__ import annotations

from tests.conftest import program, shopper, tiers  # noqa: F401


def sale(reference: str, *items: tuple[str, int, str], member=None, **extra) -> dict:
    body = {
        "reference": reference,
        "items": [{"sku": sku, "quantity": qty, "unit_price": price} for sku, qty, price in items],
        **extra,
    }
    if member is not None:
        body["member_id"] = member.public_id
    return body
