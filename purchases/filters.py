"""Filters of the back-office lists of purchases and of the ledger: one
FilterSet a list, read by its page and by its CSV export (loyalty/exports.py)."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from loyalty.filters import StoreScopedFilterSet
from loyalty.models import Store
from members.filters import LedgerFilter
from members.models import PointsEntry
from purchases.models import Purchase, Return
from purchases.selectors import ledger_at_store


def _stores(request: object) -> QuerySet[Store]:
    return Store.objects.order_by("name")


class PurchaseFilter(StoreScopedFilterSet):
    """Store, local dates of sale, the receipt (contains), the member's card
    number, and whether anything was returned."""

    store = django_filters.ModelChoiceFilter(label=_("Store"), queryset=_stores, field_name="store")
    since = django_filters.DateFilter(
        field_name="occurred_at", lookup_expr="date__gte", label=_("From")
    )
    until = django_filters.DateFilter(
        field_name="occurred_at", lookup_expr="date__lte", label=_("To")
    )
    reference = django_filters.CharFilter(
        lookup_expr="icontains", label=_("Receipt"), max_length=100
    )
    card = django_filters.CharFilter(
        field_name="member__card_number", label=_("Card number"), max_length=16
    )
    returned = django_filters.BooleanFilter(label=_("With returns"), method="filter_returned")

    class Meta:
        model = Purchase
        fields: list[str] = []

    def filter_returned(
        self, queryset: QuerySet[Purchase], name: str, value: bool | None
    ) -> QuerySet[Purchase]:
        if value is None:
            return queryset
        returned = Exists(Return.objects.filter(purchase=OuterRef("pk")))
        return queryset.filter(returned if value else ~returned)


class LedgerEntryFilter(LedgerFilter, StoreScopedFilterSet):
    """The member history's filters (kind, status, local dates) over every
    member's entries, with the member's card number and the store of the
    entry's purchase, return or redemption."""

    card = django_filters.CharFilter(
        field_name="member__card_number", label=_("Card number"), max_length=16
    )
    store = django_filters.ModelChoiceFilter(
        label=_("Store"), queryset=_stores, method="filter_store"
    )

    class Meta:
        model = PointsEntry
        fields: list[str] = []

    def filter_store(
        self, queryset: QuerySet[PointsEntry], name: str, value: Store | None
    ) -> QuerySet[PointsEntry]:
        return queryset.filter(ledger_at_store(store=value)) if value is not None else queryset
