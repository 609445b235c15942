"""Reads about purchases. The store scope of API keys (API.md, Conventions)
lives here: a purchase of another store than the one the caller acts for is
not found, so a till cannot learn which receipts other stores recorded. So
do the back-office lists of purchases and of the ledger with their exports
(loyalty/exports.py): the ledger's list lives here because an entry's store
is the store of its purchase, return or redemption, which only this layer
knows (`ledger_at_store`)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    CharField,
    Count,
    DecimalField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce

from loyalty.exports import EXPORT_CHUNK, export_time
from loyalty.models import Store
from loyalty.money import CENT
from members.models import PointsEntry
from purchases.errors import PurchaseNotFound
from purchases.models import Purchase, Return
from rewards.models import Redemption


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


def purchase_list(*, store: Store | None) -> QuerySet[Purchase]:
    """The back-office list of purchases, newest sale first: `store`'s only,
    or every store's for None."""
    purchases = Purchase.objects.select_related("store", "member")
    if store is not None:
        purchases = purchases.filter(store=store)
    return purchases.order_by("-occurred_at", "-id")


def _keys(queryset: QuerySet) -> QuerySet:
    """The primary keys of `queryset` as text, to compare with a ledger
    entry's `source_id`."""
    return queryset.order_by().annotate(key=Cast("pk", CharField())).values("key")


def ledger_at_store(*, store: Store) -> Q:
    """The ledger entries that belong to `store`: those whose source is one
    of its purchases (what it earned or spent, what its returns reversed or
    refunded, which keep the sale as their source, and the expiry of what it
    earned) or a redemption made there. Other entries (adjustments, bonuses,
    campaigns) belong to no store."""
    return Q(source_type="purchase", source_id__in=_keys(Purchase.objects.filter(store=store))) | Q(
        source_type="redemption", source_id__in=_keys(Redemption.objects.filter(store=store))
    )


def ledger_entry_list(*, store: Store | None) -> QuerySet[PointsEntry]:
    """The back-office list of every member's ledger entries, newest first:
    the entries of `store` (ledger_at_store), or all of them for None."""
    entries = PointsEntry.objects.select_related("member")
    if store is not None:
        entries = entries.filter(ledger_at_store(store=store))
    return entries.order_by("-created_at", "-id")


PURCHASE_EXPORT_COLUMNS = (
    "purchase_id",
    "store",
    "reference",
    "occurred_at",
    "recorded_at",
    "member_id",
    "card_number",
    "subtotal",
    "discount_total",
    "total",
    "eligible_amount",
    "points_earned",
    "points_redeemed",
    "points_status",
    "tier",
    "returns",
    "returned_amount",
    "points_reversed",
    "points_clawed_back",
)


def _returns_sum(expression: Any, output: Any) -> Coalesce:
    totals = (
        Return.objects.filter(purchase=OuterRef("pk"))
        .order_by()
        .values("purchase")
        .annotate(total=expression)
        .values("total")
    )
    return Coalesce(Subquery(totals, output_field=output), Value(0), output_field=output)


def purchase_export_rows(*, purchases: QuerySet[Purchase]) -> Iterator[list[Any]]:
    """`purchases` (in their order) as CSV rows, with their returns summed on
    each row (how many, the amount, the points reversed and clawed back): a
    header, then one row a purchase, read with values_list EXPORT_CHUNK at a
    time. Amounts as their decimals ("0.00"), points and counts as integers,
    times ISO 8601 in the program's time zone."""
    yield list(PURCHASE_EXPORT_COLUMNS)
    money = DecimalField(max_digits=14, decimal_places=2)
    rows = (
        purchases.annotate(
            returns_count=_returns_sum(Count("pk"), IntegerField()),
            returned_amount=_returns_sum(Sum("amount"), money),
            returned_points=_returns_sum(Sum("points_reversed"), BigIntegerField()),
            returned_clawback=_returns_sum(Sum("clawback"), BigIntegerField()),
        )
        .values_list(
            "pk",
            "store__code",
            "reference",
            "occurred_at",
            "recorded_at",
            "member__public_id",
            "member__card_number",
            "subtotal",
            "discount_total",
            "total",
            "eligible_amount",
            "points_earned",
            "points_redeemed",
            "points_status",
            "tier_code",
            "returns_count",
            "returned_amount",
            "returned_points",
            "returned_clawback",
        )
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    for pk, store, reference, occurred, recorded, public_id, card, *rest in rows:
        subtotal, discount, total, eligible, earned, redeemed, status, tier, *returns = rest
        count, amount, reversed_points, clawback = returns
        yield [
            pk,
            store,
            reference,
            export_time(occurred),
            export_time(recorded),
            public_id or "",
            card or "",
            subtotal,
            discount,
            total,
            eligible,
            earned,
            redeemed,
            status,
            tier,
            count,
            _cents(amount),
            reversed_points,
            clawback,
        ]


def _cents(amount: Decimal | int) -> Decimal:
    """An amount to the cent: a sum with no return is the integer 0."""
    return Decimal(amount).quantize(CENT)
