"""CSV exports of back-office lists: whose rows a user may export, the audit
row every download writes, how cells read, and the view plumbing shared by a
list page and its export (docs/import-export.md, Exports).

The rules, and who keeps them:

- **Same rows as the page.** A list page and its export are two views over
  one `FilteredListMixin`: the page's selector, narrowed to the user's store
  scope, then the page's FilterSet on the query string. The export streams
  exactly `filtered_queryset()`, so there is no second copy of a filter.
- **Flat memory.** The export functions (`*_export_rows` in each app's
  selectors) read with `values_list(...).iterator(chunk_size=EXPORT_CHUNK)`
  and yield one row at a time into loyalty.csv_files.csv_download, which
  escapes every cell a spreadsheet would run as a formula.
- **Cells.** Numbers are written as they are (a 0 is "0", never blank),
  times ISO 8601 in the program's time zone (`TIME_ZONE`), dates ISO.
- **Store scope.** On lists of store-bound rows (purchases, the ledger)
  store staff see and export only their account's store's rows, none when
  the account has no store (`export_store_bound`); who may export which
  list is `EXPORT_PERMISSIONS` in loyalty.roles, enforced by each view's
  `permission_required`.
- **Audit.** Every export writes `<kind>.export` with the filters used, the
  store scope and the number of rows when the view counts them cheaply.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.db import models
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.views import View
from django.views.generic import ListView

from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.csv_files import csv_download
from loyalty.roles import is_manager
from loyalty.services import audit_record

if TYPE_CHECKING:
    from collections.abc import Iterable

    import django_filters
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.models import QuerySet

    from loyalty.models import Store

EXPORT_CHUNK = 2000


def export_time(value: dt.datetime | None) -> str:
    """A moment as ISO 8601 in the program's time zone (`TIME_ZONE`, whatever
    zone the request activated); None is the empty cell. The zone is Django's
    cached default, not looked up a call: an export calls this millions of
    times."""
    if value is None:
        return ""
    return value.astimezone(timezone.get_default_timezone()).isoformat()


def export_store_bound(user: AbstractBaseUser | AnonymousUser) -> bool:
    """True when `user` lists and exports the rows of one store only, the
    store of their account (`User.store`): anyone but managers and
    superusers. A store-bound account of no store sees no row at all: a bulk
    export is never wider than the account's store."""
    return not (user.is_superuser or is_manager(user))


def export_filters(filterset: django_filters.FilterSet) -> dict[str, Any]:
    """The filters a bound, valid FilterSet applied, as the audit row keeps
    them: empty values left out, objects by their primary key, dates ISO."""
    if not filterset.is_bound or not filterset.is_valid():
        return {}
    kept: dict[str, Any] = {}
    for name, value in filterset.form.cleaned_data.items():
        if value in (None, "", [], ()):
            continue
        if isinstance(value, models.Model):
            value = value.pk
        elif isinstance(value, dt.date | dt.datetime):
            value = value.isoformat()
        elif not isinstance(value, bool | int | str):
            value = str(value)
        kept[name] = value
    return kept


def export_download(
    *,
    request: HttpRequest,
    kind: str,
    rows: Iterable[Iterable[Any]],
    filters: dict[str, Any],
    store: Store | None,
    count: int | None,
    name: str,
    obj: models.Model | None = None,
) -> StreamingHttpResponse:
    """Audit the export (`<kind>.export`, with the filters, the store scope and
    `count`, the rows it holds when known) and answer `rows` as a streamed CSV
    named `<name>-<local date>.csv`. The audit row is written before the
    first byte, so no download goes unrecorded."""
    after: dict[str, Any] = {"filters": filters, "store": store.code if store else None}
    if count is not None:
        after["rows"] = count
    audit_record(actor=Actor.from_request(request), action=f"{kind}.export", obj=obj, after=after)
    stamp = timezone.localdate().isoformat()
    return csv_download(rows, filename=f"{name}-{stamp}.csv")


class FilteredListMixin(StaffRequiredMixin):
    """A back-office list read through its selector and FilterSet, for its page
    and its export alike. Subclasses give `filterset_class` and
    `scoped_queryset(store)` (the page's selector, narrowed to `store` when
    not None), and `store_scoped = False` for a list whose rows every user
    of its permission sees whole. The FilterSet is told `store_bound` so it
    can hide a store filter the user may not change."""

    filterset_class: type[django_filters.FilterSet]
    store_scoped = True
    request: HttpRequest

    def scoped_queryset(self, store: Store | None) -> QuerySet:
        raise NotImplementedError

    @cached_property
    def store_bound(self) -> bool:
        return self.store_scoped and export_store_bound(self.request.user)

    @cached_property
    def store_scope(self) -> Store | None:
        """The one store whose rows are listed, None for every store (or for
        a store-bound account of no store, which is listed nothing)."""
        return getattr(self.request.user, "store", None) if self.store_bound else None

    @cached_property
    def filterset(self) -> django_filters.FilterSet:
        return self.filterset_class(
            self.request.GET or None,
            queryset=self.scoped_queryset(self.store_scope),
            store_bound=self.store_bound,
        )

    def filtered_queryset(self) -> QuerySet:
        """The rows the page lists: none for a store-bound account of no
        store, and none while the filters do not validate (the page shows the
        form's errors), as django-filter's strict views."""
        filterset = self.filterset
        if self.store_bound and self.store_scope is None:
            return filterset.queryset.none()
        if filterset.is_bound and not filterset.is_valid():
            return filterset.queryset.none()
        return filterset.qs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        query = self.request.GET.copy()
        query.pop("page", None)
        return super().get_context_data(  # type: ignore[misc]
            filter=self.filterset,
            store_bound=self.store_bound,
            store_scope=self.store_scope,
            export_query=query.urlencode(),
            **kwargs,
        )


class FilteredListView(FilteredListMixin, ListView):
    """A list page of `filtered_queryset()`, 50 rows a page; its template gets
    `filter` (the form), `store_scope` and `export_query` (the query string of
    the export link, without the page number)."""

    paginate_by = 50

    def get_queryset(self) -> QuerySet:
        return self.filtered_queryset()


class FilteredExportView(FilteredListMixin, View):
    """The CSV export of the list page of the same mixin: its rows are
    `export_rows(filtered_queryset())`, audited as `<export_kind>.export`
    with the filters and the count."""

    export_kind: str
    export_name: str
    http_method_names = ["get"]

    def export_rows(self, queryset: QuerySet) -> Iterable[Iterable[Any]]:
        raise NotImplementedError

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        queryset = self.filtered_queryset()
        return export_download(
            request=request,
            kind=self.export_kind,
            rows=self.export_rows(queryset),
            filters=export_filters(self.filterset),
            store=self.store_scope,
            count=queryset.count(),
            name=self.export_name,
        )
