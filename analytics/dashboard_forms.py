"""The dashboard's filters (GET): the period, by preset or by dates, and the
store, tier and segment it is sliced by. Validation only: every value is
bounded, and an unknown id is a form error, never a 500."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.staff_forms import DATE_INPUT
from loyalty.models import Store
from members.models import Segment, Tier

# A year (of 366 days) is the longest period a KPI is asked for (analytics.kpis).
PERIOD_DAYS_MAX = 366
PERIOD_DEFAULT = "last_30"
CUSTOM = "custom"
PERIOD_PRESETS = [
    ("last_7", _("Last 7 days")),
    ("last_30", _("Last 30 days")),
    ("last_90", _("Last 90 days")),
    ("this_month", _("This month")),
    ("last_month", _("Last month")),
    ("this_year", _("This year")),
]


def preset_period(preset: str, *, today: date) -> tuple[date, date]:
    """The first and last day (both included) of a preset ending `today`:
    the last N days end today; last month is the whole calendar month
    before this one; this month and this year run to today."""
    if preset.startswith("last_") and preset[5:].isdigit():
        return today - timedelta(days=int(preset[5:]) - 1), today
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if preset == "this_year":
        return today.replace(month=1, day=1), today
    raise ValueError(preset)


@dataclass(frozen=True)
class DashboardFilter:
    """What the dashboard shows: the period (both ends included, local
    days), the preset it came from (`custom` for typed dates) and the
    slices, each None for all."""

    start: date
    end: date
    preset: str
    store: Store | None = None
    tier: Tier | None = None
    segment: Segment | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def api_names(data: QueryDict | dict[str, Any] | None) -> QueryDict | dict[str, Any] | None:
    """The query with the summary API's names understood too: `from` and `to`
    (GET /analytics/summary) are the dates of a period of typed dates."""
    if not data or not ({"from", "to"} & set(data)):
        return data
    data = data.copy()
    for alias, name in (("from", "date_from"), ("to", "date_to")):
        if alias in data and name not in data:
            data[name] = data[alias]
    if "period" not in data:
        data["period"] = CUSTOM
    return data


class DashboardFilterForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Period"),
        choices=[*PERIOD_PRESETS, (CUSTOM, _("Dates below"))],
        required=False,
    )
    date_from = forms.DateField(label=_("From"), widget=DATE_INPUT, required=False)
    date_to = forms.DateField(label=_("To"), widget=DATE_INPUT, required=False)
    # By its code, as the summary API names a store (?store=klcc).
    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.order_by("name"),
        to_field_name="code",
        required=False,
        empty_label=_("Every store"),
    )
    tier = forms.ModelChoiceField(
        label=_("Tier"),
        queryset=Tier.objects.order_by("threshold", "name"),
        required=False,
        empty_label=_("Every tier"),
    )
    segment = forms.ModelChoiceField(
        label=_("Segment"),
        queryset=Segment.objects.order_by("name"),
        required=False,
        empty_label=_("Every member"),
    )

    def __init__(
        self, data: QueryDict | None = None, *, today: date | None = None, **kwargs: Any
    ) -> None:
        super().__init__(api_names(data), **kwargs)
        self.today = today or timezone.localdate()
        if not self.is_bound and not self.initial:
            start, end = preset_period(PERIOD_DEFAULT, today=self.today)
            self.initial = {"period": PERIOD_DEFAULT, "date_from": start, "date_to": end}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        preset = data.get("period") or ""
        typed = data.get("date_from") or data.get("date_to")
        if preset in dict(PERIOD_PRESETS) or not (preset or typed or self.errors):
            # A preset wins over dates left in the fields; nothing at all is the default.
            preset = preset or PERIOD_DEFAULT
            data["date_from"], data["date_to"] = preset_period(preset, today=self.today)
            data["period"] = preset
            return data
        data["period"] = CUSTOM
        start, end = data.get("date_from"), data.get("date_to")
        if "date_from" in self.errors or "date_to" in self.errors:
            return data
        end = end or self.today
        start = start or end - timedelta(days=29)
        for name, value in (("date_from", start), ("date_to", end)):
            if not 2000 <= value.year <= 2100:
                self.add_error(name, _("Give a year from 2000 to 2100."))
        if end < start:
            self.add_error("date_to", _("The end must be on or after the start."))
        elif (end - start).days >= PERIOD_DAYS_MAX:
            self.add_error("date_from", _("Choose a period of at most 366 days."))
        data["date_from"], data["date_to"] = start, end
        return data

    def choice(self) -> DashboardFilter:
        """The filter of a valid form, else the default period over everything
        (the page shows the form's errors beside it)."""
        if self.is_valid():
            data = self.cleaned_data
            return DashboardFilter(
                start=data["date_from"],
                end=data["date_to"],
                preset=data["period"],
                store=data["store"],
                tier=data["tier"],
                segment=data["segment"],
            )
        start, end = preset_period(PERIOD_DEFAULT, today=self.today)
        return DashboardFilter(start=start, end=end, preset=PERIOD_DEFAULT)


class StoreChoiceForm(forms.Form):
    """The store a manager looks at on "Today at the store" (GET)."""

    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.order_by("name"),
        to_field_name="code",
        required=False,
    )
