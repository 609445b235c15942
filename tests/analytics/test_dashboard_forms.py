"""The dashboard's filters (analytics.dashboard_forms): presets, typed dates
and their bounds, and unknown ids as form errors."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.dashboard_forms import DashboardFilterForm, preset_period

TODAY = date(2026, 3, 15)


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("last_7", date(2026, 3, 9), TODAY),
        ("last_30", date(2026, 2, 14), TODAY),
        ("last_90", date(2025, 12, 16), TODAY),
        ("this_month", date(2026, 3, 1), TODAY),
        ("last_month", date(2026, 2, 1), date(2026, 2, 28)),
        ("this_year", date(2026, 1, 1), TODAY),
    ],
)
def test_each_preset_covers_its_days_both_ends_included(preset, start, end):
    assert preset_period(preset, today=TODAY) == (start, end)


def test_last_month_in_january_is_the_december_before():
    assert preset_period("last_month", today=date(2026, 1, 10)) == (
        date(2025, 12, 1),
        date(2025, 12, 31),
    )


@pytest.mark.django_db
def test_no_filter_is_the_last_30_days_over_everything():
    choice = DashboardFilterForm({}, today=TODAY).choice()
    assert (choice.start, choice.end, choice.preset) == (date(2026, 2, 14), TODAY, "last_30")
    assert (choice.store, choice.tier, choice.segment) == (None, None, None)


@pytest.mark.django_db
def test_a_preset_wins_over_dates_left_in_the_fields():
    form = DashboardFilterForm(
        {"period": "last_7", "date_from": "2020-01-01", "date_to": "2020-02-01"}, today=TODAY
    )
    assert form.is_valid()
    assert (form.choice().start, form.choice().end) == (date(2026, 3, 9), TODAY)


@pytest.mark.django_db
def test_a_period_of_366_days_is_taken():
    form = DashboardFilterForm(
        {"period": "custom", "date_from": "2025-01-01", "date_to": "2026-01-02"}, today=TODAY
    )
    assert not form.is_valid()
    form = DashboardFilterForm(
        {"period": "custom", "date_from": "2025-01-02", "date_to": "2026-01-02"}, today=TODAY
    )
    assert form.is_valid(), form.errors
    assert form.choice().days == 366


@pytest.mark.django_db
def test_typed_dates_are_the_period_when_no_preset_is_chosen():
    form = DashboardFilterForm(
        {"period": "custom", "date_from": "2026-01-05", "date_to": "2026-01-11"}, today=TODAY
    )
    assert form.is_valid(), form.errors
    choice = form.choice()
    assert (choice.start, choice.end, choice.preset, choice.days) == (
        date(2026, 1, 5),
        date(2026, 1, 11),
        "custom",
        7,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"period": "custom", "date_from": "2026-02-10", "date_to": "2026-02-01"}, "date_to"),
        ({"period": "custom", "date_from": "2025-01-01", "date_to": "2026-01-02"}, "date_from"),
        ({"period": "custom", "date_from": "1900-01-01", "date_to": "1900-01-02"}, "date_from"),
        ({"period": "custom", "date_from": "not a day"}, "date_from"),
        ({"period": "last_9999"}, "period"),
        ({"store": "999999"}, "store"),
        ({"store": "abc"}, "store"),
        ({"tier": "999999"}, "tier"),
        ({"segment": "-1"}, "segment"),
    ],
)
def test_a_bad_filter_is_a_form_error_and_the_default_period_is_shown(data, field):
    form = DashboardFilterForm(data, today=TODAY)
    assert not form.is_valid()
    assert field in form.errors
    assert form.choice().preset == "last_30"
