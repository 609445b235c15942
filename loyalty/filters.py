"""FilterSets of the platform's lists."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from loyalty.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_label", lookup_expr="icontains", label=_("Actor")
    )
    action = django_filters.CharFilter(lookup_expr="istartswith", label=_("Action"))
    object_type = django_filters.ChoiceFilter(label=_("Object type"), choices=[])
    object_id = django_filters.CharFilter(label=_("Object id"))
    since = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("From")
    )
    until = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label=_("To")
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def __init__(
        self, *args: object, queryset: QuerySet[AuditEvent] | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, queryset=queryset, **kwargs)
        types = AuditEvent.objects.exclude(object_type="").values_list("object_type", flat=True)
        self.filters["object_type"].extra["choices"] = [
            (t, t) for t in sorted(set(types.distinct()))
        ]


class StoreScopedFilterSet(django_filters.FilterSet):
    """The filters of a list that store staff see for their store only
    (loyalty.exports): for a `store_bound` user the queryset is already their
    store's and the `store` filter, if any, is dropped, so the form offers no
    other store."""

    def __init__(self, *args: object, store_bound: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if store_bound:
            self.filters.pop("store", None)
