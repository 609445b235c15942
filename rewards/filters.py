"""Filters of the back-office list of redemptions, read by its page and by
its CSV export (loyalty/exports.py)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from loyalty.filters import StoreScopedFilterSet
from loyalty.models import Store
from rewards.models import Redemption, RedemptionStatus, Reward


def _stores(request: object) -> QuerySet[Store]:
    return Store.objects.order_by("name")


def _rewards(request: object) -> QuerySet[Reward]:
    return Reward.objects.order_by("name", "id")


class RedemptionFilter(StoreScopedFilterSet):
    """Status, reward, the store redeemed at, local dates, the member's card number."""

    status = django_filters.ChoiceFilter(label=_("Status"), choices=RedemptionStatus.choices)
    reward = django_filters.ModelChoiceFilter(label=_("Reward"), queryset=_rewards)
    store = django_filters.ModelChoiceFilter(label=_("Store"), queryset=_stores)
    since = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("From")
    )
    until = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label=_("To")
    )
    card = django_filters.CharFilter(
        field_name="member__card_number", label=_("Card number"), max_length=16
    )

    class Meta:
        model = Redemption
        fields: list[str] = []
