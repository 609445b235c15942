"""FilterSets shared by the staff pages, the portal and the API."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from members.models import EntryKind, EntryStatus, PointsEntry


class LedgerFilter(django_filters.FilterSet):
    """History filters: kind, status and a date range (local dates)."""

    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=EntryKind.choices)
    status = django_filters.ChoiceFilter(label=_("Status"), choices=EntryStatus.choices)
    since = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("From")
    )
    until = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label=_("To")
    )

    class Meta:
        model = PointsEntry
        fields: list[str] = []
