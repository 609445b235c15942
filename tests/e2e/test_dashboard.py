"""The analytics dashboard in a real browser: a marketer sees numbers and
charts, switches the period and the store and sees the figures change, opens
a chart's table and downloads a table as CSV; all under the site's
Content-Security-Policy (the conftest fails the test on any report)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from analytics.rollups import rollups_refresh
from tests.analytics.factories import bought
from tests.e2e.test_campaigns import sign_in
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db(transaction=True)


def local(days_ago: int) -> datetime:
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(12)))


def test_a_marketer_reads_the_dashboard_switches_period_and_store_and_downloads_a_table(
    live_server, page: Page, marketer, program
):
    klcc = program.main_store
    mid_valley = StoreFactory(code="midv", name="Mid Valley")
    aminah = MemberFactory(user=None, email="aminah@example.com", home_store=klcc)
    for days_ago, amount in ((1, "30.00"), (2, "10.00"), (3, "5.00")):
        bought(aminah, klcc, at=local(days_ago), amount=amount)
    bought(None, mid_valley, at=local(50), amount="50.00")
    rollups_refresh(start=timezone.localdate() - timedelta(days=100), end=timezone.localdate())

    sign_in(page, live_server.url, marketer.email)
    page.get_by_role("navigation", name="Back-office sections").get_by_role(
        "link", name="Dashboard"
    ).click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    sales = page.get_by_test_id("kpi-sales-count-value")
    expect(sales).to_have_text("3")
    expect(page.get_by_test_id("kpi-sales-amount-value")).to_have_text("RM45.00")
    # The charts are drawn: SVG images with their titles, styled (the nonce works).
    chart = page.get_by_test_id("chart-activity").get_by_role("img")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 80
    line = page.get_by_test_id("chart-activity").locator(".series path.line").first
    expect(line).to_have_css("fill", "none")  # pygal's own style applied, not blocked
    expect(page.get_by_test_id("chart-tiers").get_by_role("img")).to_be_visible()

    # A definition is a click away.
    tile = page.get_by_test_id("kpi-participation")
    tile.get_by_text("What is this?").click()
    expect(tile.get_by_text("Member sales ÷ all sales, anonymous sales counted.")).to_be_visible()

    # The chart's table view.
    activity = page.get_by_test_id("chart-activity")
    activity.get_by_text("Show as a table").click()
    expect(activity.get_by_role("table")).to_be_visible()

    # Switching the period changes the figures.
    page.get_by_role("navigation", name="Period").get_by_role("link", name="Last 90 days").click()
    expect(sales).to_have_text("4")
    # Switching the store too.
    page.get_by_label("Store").select_option(label="Mid Valley (midv)")
    page.get_by_role("button", name="Show").click()
    expect(sales).to_have_text("1")
    expect(page.get_by_test_id("kpi-sales-amount-value")).to_have_text("RM50.00")
    expect(page.get_by_test_id("dashboard-period")).to_contain_text("Mid Valley")

    # Typed dates: choosing a date picks "Dates below" (dashboard.js).
    day = (timezone.localdate() - timedelta(days=2)).isoformat()
    page.get_by_label("Store").select_option(label="Every store")
    page.get_by_label("From", exact=True).fill(day)
    page.get_by_label("To", exact=True).fill(day)
    page.get_by_label("To", exact=True).dispatch_event("change")
    expect(page.locator("#id_period")).to_have_value("custom")
    page.get_by_role("button", name="Show").click()
    expect(sales).to_have_text("1")
    expect(page.get_by_test_id("kpi-sales-amount-value")).to_have_text("RM10.00")

    # A table's CSV downloads, for the filters shown.
    with page.expect_download() as download_info:
        page.get_by_test_id("export-activity").click()
    download = download_info.value
    assert download.suggested_filename.startswith("activity-")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0] == ["Day", "Sales", "Member sales", "Sales amount", "New members"]
    assert rows[1:] == [[day, "1", "1", "10.00", "0"]]
