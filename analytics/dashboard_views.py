"""Back-office pages of the analytics dashboard (docs/analytics.md, "Dashboard").

- Dashboard (marketers and managers, `view_analytics`): the KPIs of a period,
  store, tier and segment beside the period before, each with its definition
  a click away; charts (members and sales over time, tiers, rewards, the
  cohort heat map) drawn on the server, each with its table view; every
  table exports to CSV (audited, as every export is).
- Today at the store (store staff and managers, `serve_counter`): the day of
  the account's store (a store-staff account), or of the store a manager
  picks, read from the roll-ups.

The views call selectors only (analytics.dashboard); the charts' <style>
carries the request's CSP nonce, allowed on these responses only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from csp.decorators import csp_update
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from analytics.charts import CHART_CSP, Series, bar_chart, colour_style, line_chart
from analytics.dashboard import Table, dashboard_overview_cached, store_day
from analytics.dashboard_forms import (
    PERIOD_PRESETS,
    DashboardFilter,
    DashboardFilterForm,
    StoreChoiceForm,
)
from analytics.templatetags.dashboard import figure
from loyalty.access import StaffRequiredMixin
from loyalty.exports import export_download, export_store_bound
from loyalty.roles import SERVE_COUNTER, VIEW_ANALYTICS
from loyalty.selectors import program_settings_get


@dataclass(frozen=True)
class ChartView:
    table: Table
    svg: SafeString


def chart_draw(table: Table, kind: str, *, brand: str, accent: str, nonce: str) -> SafeString:
    """`table` as a chart: its first column is the labels, each of its `plot`
    columns a series (a line, or bars)."""
    label_kind = table.columns[0].kind
    labels = [figure(row[0], label_kind) for row in table.rows]
    series = [
        Series(table.columns[index].label, [row[index] for row in table.rows])
        for index in table.plot or range(1, len(table.columns))
    ]
    summary = _("The same figures are in the table under the chart.")
    if kind == "line":
        return line_chart(
            title=table.title,
            summary=summary,
            labels=labels,
            series=series,
            brand=brand,
            accent=accent,
            nonce=nonce,
        )
    return bar_chart(
        title=table.title,
        summary=summary,
        labels=labels,
        series=series,
        brand=brand,
        accent=accent,
        nonce=nonce,
        horizontal=kind == "hbar",
    )


def filter_initial(choice: DashboardFilter) -> dict[str, Any]:
    """The filter as the form shows it again: a preset's dates in the fields."""
    return {
        "period": choice.preset,
        "date_from": choice.start,
        "date_to": choice.end,
        "store": choice.store,
        "tier": choice.tier,
        "segment": choice.segment,
    }


@method_decorator(csp_update(CHART_CSP), name="dispatch")
class DashboardView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW_ANALYTICS
    template_name = "staff/analytics/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        form = DashboardFilterForm(self.request.GET or None)
        choice = form.choice()
        overview = dashboard_overview_cached(choice=choice)
        program = program_settings_get()
        nonce = str(self.request.csp_nonce)  # type: ignore[attr-defined]
        charts = [
            ChartView(
                table=table,
                svg=chart_draw(
                    table,
                    kind,
                    brand=program.brand_color,
                    accent=program.accent_color,
                    nonce=nonce,
                ),
            )
            for table, kind in overview.charts
        ]
        valid = form.is_valid()
        shown = DashboardFilterForm(initial=filter_initial(choice)) if valid else form
        query = self.request.GET.copy() if valid else {}
        return super().get_context_data(
            form=shown,
            choice=choice,
            presets=PERIOD_PRESETS,
            overview=overview,
            charts=charts,
            colour_style=colour_style(program.brand_color, program.accent_color),
            export_query=query.urlencode() if query else "",
            **kwargs,
        )


class DashboardExportView(StaffRequiredMixin, View):
    """One table of the dashboard (same filters as the page) as a CSV download."""

    permission_required = VIEW_ANALYTICS
    http_method_names = ["get"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        form = DashboardFilterForm(request.GET or None)
        choice = form.choice()
        table = dashboard_overview_cached(choice=choice, only=kwargs["table"]).table(
            kwargs["table"]
        )
        if table is None:
            raise Http404
        filters = {
            "from": choice.start.isoformat(),
            "to": choice.end.isoformat(),
            "tier": choice.tier.pk if choice.tier else None,
            "segment": choice.segment.pk if choice.segment else None,
            "table": table.key,
        }
        return export_download(
            request=request,
            kind="dashboard",
            rows=table.export_rows(),
            filters=filters,
            store=choice.store,
            count=len(table.rows),
            name=f"{table.key}-{choice.start.isoformat()}-{choice.end.isoformat()}",
        )


class StoreTodayView(StaffRequiredMixin, TemplateView):
    """Today at a store: a store-staff account sees its own store's (none
    when the account has no store); a manager picks any store, the main
    store first."""

    permission_required = SERVE_COUNTER
    template_name = "staff/analytics/store_today.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        user = self.request.user
        bound = export_store_bound(user)
        form = None
        if bound:
            store = getattr(user, "store", None)
        else:
            form = StoreChoiceForm(self.request.GET or None)
            store = form.cleaned_data["store"] if form.is_valid() else None
            store = store or program_settings_get().main_store
            if form.is_valid() or not form.is_bound:
                form = StoreChoiceForm(initial={"store": store})
        today = timezone.localdate()
        return super().get_context_data(
            form=form,
            store=store,
            today=today,
            figures=store_day(store=store, day=today) if store is not None else None,
            # Yesterday beside it: early in the day, today's figures are still small.
            yesterday=(
                store_day(store=store, day=today - timedelta(days=1)) if store is not None else None
            ),
            **kwargs,
        )
