"""The analytics dashboard's pages (analytics.dashboard_views): who may open
them, figures that follow the period and the store, bad filters as form
errors, the CSV of each table (downloads, escaped, a 0 stays 0, audited),
the charts under the Content-Security-Policy, and a store's day."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.rollups import rollups_refresh
from loyalty.actors import Actor
from loyalty.models import AuditEvent
from members.segments import segment_create
from tests.analytics.factories import bought
from tests.factories import MemberFactory, StoreFactory, TierFactory

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("staff:analytics_dashboard")
TODAY_PAGE = reverse("staff:store_today")


def export_url(table: str) -> str:
    return reverse("staff:dashboard_export", args=[table])


def local(days_ago: int, hour: int = 12) -> datetime:
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(hour)))


@pytest.fixture
def shops(program):
    """Two stores: KLCC (the main store) with three sales in the last week, two
    of them by members; Mid Valley with one member sale 40 days ago. Rolled up."""
    klcc = program.main_store
    mid_valley = StoreFactory(code="midv", name="Mid Valley")
    aminah = MemberFactory(user=None, email="aminah@example.com", home_store=klcc)
    badrul = MemberFactory(user=None, email="badrul@example.com", home_store=mid_valley)
    bought(aminah, klcc, at=local(1), amount="30.00")
    bought(aminah, klcc, at=local(2), amount="10.00")
    bought(None, klcc, at=local(3), amount="5.00")
    bought(badrul, mid_valley, at=local(40), amount="50.00")
    rollups_refresh(start=timezone.localdate() - timedelta(days=100), end=timezone.localdate())
    return {"klcc": klcc, "mid_valley": mid_valley}


def tile(page: str, key: str) -> str:
    found = re.search(rf'data-testid="kpi-{key}-value">([^<]*)<', page)
    assert found, key
    return found.group(1)


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("manager", {"dashboard", "export", "today"}),
        ("marketer", {"dashboard", "export"}),
        ("store_staff", {"today"}),
    ],
)
def test_each_role_opens_its_pages(client, request, shops, role, allowed):
    client.force_login(request.getfixturevalue(role))
    for name, url in (
        ("dashboard", DASHBOARD),
        ("export", export_url("activity")),
        ("today", TODAY_PAGE),
    ):
        status = client.get(url).status_code
        assert status == (200 if name in allowed else 403), (name, status)


def test_visitors_are_sent_to_sign_in_and_members_refused(client, member):
    assert client.get(DASHBOARD).status_code == 302
    client.force_login(member.user)
    assert client.get(DASHBOARD).status_code == 403
    assert client.get(export_url("activity")).status_code == 403


def test_the_navigation_shows_the_dashboard_to_marketers_and_the_stores_day_to_the_counter(
    client, marketer, store_staff
):
    client.force_login(marketer)
    page = client.get(reverse("staff:home")).content.decode()
    assert DASHBOARD in page and TODAY_PAGE not in page
    client.force_login(store_staff)
    page = client.get(reverse("staff:home")).content.decode()
    assert TODAY_PAGE in page and f'href="{DASHBOARD}"' not in page


def test_the_dashboard_shows_the_periods_figures_beside_the_period_before(client, marketer, shops):
    client.force_login(marketer)
    page = client.get(DASHBOARD, {"period": "last_30"}).content.decode()
    assert tile(page, "sales-count") == "3"
    assert tile(page, "participation") == "66.7 %"
    assert 'data-testid="kpi-sales-count-previous">Period before: 1' in page
    assert "What is this?" in page
    assert "Member sales ÷ all sales, anonymous sales counted." in page


def test_switching_the_period_and_the_store_changes_the_figures(client, marketer, shops):
    client.force_login(marketer)
    last_7 = client.get(DASHBOARD, {"period": "last_7"}).content.decode()
    last_90 = client.get(DASHBOARD, {"period": "last_90"}).content.decode()
    assert (tile(last_7, "sales-count"), tile(last_90, "sales-count")) == ("3", "4")
    mid_valley = client.get(DASHBOARD, {"period": "last_90", "store": "midv"}).content.decode()
    assert tile(mid_valley, "sales-count") == "1"
    assert tile(mid_valley, "participation") == "100.0 %"
    assert "Mid Valley" in mid_valley


def test_typed_dates_give_that_period(client, marketer, shops):
    client.force_login(marketer)
    day = (timezone.localdate() - timedelta(days=40)).isoformat()
    page = client.get(
        DASHBOARD, {"period": "custom", "date_from": day, "date_to": day}
    ).content.decode()
    assert tile(page, "sales-count") == "1"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"period": "custom", "date_from": "2026-02-10", "date_to": "2026-02-01"}, "on or after"),
        ({"period": "custom", "date_from": "2024-01-01", "date_to": "2026-01-01"}, "366 days"),
        ({"period": "custom", "date_from": "31/31/2026"}, "Enter a valid date"),
        ({"store": "999999"}, "Select a valid choice"),
        ({"tier": "abc"}, "Select a valid choice"),
        ({"segment": "123456"}, "Select a valid choice"),
        ({"period": "forever"}, "Select a valid choice"),
    ],
)
def test_a_bad_filter_is_a_form_error_on_the_page_not_a_500(
    client, marketer, shops, query, message
):
    client.force_login(marketer)
    response = client.get(DASHBOARD, query)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    # The page still shows the default period's figures beside the error.
    assert tile(page, "sales-count") == "3"
    # An export with bad filters gives the default period too, never a 500.
    assert client.get(export_url("activity"), query).status_code == 200


def test_a_tables_csv_downloads_with_a_zero_as_0_and_is_audited(client, marketer, shops):
    client.force_login(marketer)
    response = client.get(export_url("activity"), {"period": "last_7"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="activity-')
    rows = rows_of(response)
    assert rows[0] == ["Day", "Sales", "Member sales", "Sales amount", "New members"]
    assert len(rows) == 1 + 7
    today = timezone.localdate().isoformat()
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    by_day = {row[0]: row for row in rows[1:]}
    assert by_day[yesterday][1:4] == ["1", "1", "30.00"]
    # A day without a sale is 0 sales, written 0, not an empty cell.
    assert by_day[today][1:3] == ["0", "0"]
    event = AuditEvent.objects.get(action="dashboard.export")
    assert event.after["filters"]["table"] == "activity"


def test_every_cell_of_a_csv_is_escaped_against_formulas(client, marketer, shops):
    """A tier whose name a spreadsheet would run comes out as text; its 0
    members stay the number 0."""
    TierFactory(code="evil", name='=HYPERLINK("http://x")', threshold=Decimal("999999"))
    client.force_login(marketer)
    rows = rows_of(client.get(export_url("tiers")))
    assert rows[0] == ["Tier", "Members", "Share (0-1)"]
    evil = next(row for row in rows[1:] if "HYPERLINK" in row[0])
    assert evil[0] == '\'=HYPERLINK("http://x")'
    assert evil[1] == "0"


def test_an_empty_table_downloads_its_header(client, marketer, shops):
    client.force_login(marketer)
    rows = rows_of(client.get(export_url("rewards")))
    assert rows == [["Reward", "Quantity", "Redemptions", "Points"]]


def test_an_unknown_table_is_not_found(client, marketer, shops):
    client.force_login(marketer)
    assert client.get(export_url("salaries")).status_code == 404


def test_charts_are_inline_svg_whose_style_carries_the_responses_nonce(client, marketer, shops):
    client.force_login(marketer)
    response = client.get(DASHBOARD)
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"style-src 'self' 'nonce-([^']+)'", policy).group(1)
    page = response.content.decode()
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') >= 2
    assert f'<style type="text/css" nonce="{nonce}">' in page
    assert "<script>" not in page and "window.pygal" not in page
    # Each chart has its table view.
    assert page.count("Show as a table") >= 2
    # The rest of the site keeps its policy without a nonce.
    other = client.get(reverse("staff:survey_overview"))["Content-Security-Policy"]
    assert "nonce-" not in other


def test_the_cohort_heat_map_is_a_table_shaded_by_a_custom_property(client, marketer, shops):
    client.force_login(marketer)
    page = client.get(DASHBOARD, {"period": "last_90"}).content.decode()
    assert 'data-testid="table-cohorts"' in page
    assert re.search(r'class="num heat-cell" style="--level: [01]\.\d\d"', page)


def test_store_staff_see_their_stores_day_only(client, store_staff, shops):
    store_staff.store = shops["klcc"]
    store_staff.save()
    klcc = shops["klcc"]
    bought(None, klcc, at=timezone.now(), amount="7.00")
    bought(None, shops["mid_valley"], at=timezone.now(), amount="9.00")
    rollups_refresh(start=timezone.localdate(), end=timezone.localdate())
    client.force_login(store_staff)
    page = client.get(TODAY_PAGE, {"store": "midv"}).content.decode()
    assert "Today at KLCC" in page
    assert re.search(r'data-testid="today-sales"><span class="stat-value">1<', page)
    assert "RM7.00" in page and "RM9.00" not in page
    # Yesterday beside today: Aminah's sale of 30.00 at KLCC.
    assert "Yesterday: 1 · RM30.00" in page


def test_a_store_staff_account_without_a_store_is_told_so(client, store_staff, shops):
    client.force_login(store_staff)
    page = client.get(TODAY_PAGE).content.decode()
    assert "No store for this account" in page


def test_a_manager_picks_the_store_whose_day_they_see(client, manager, shops):
    bought(None, shops["mid_valley"], at=timezone.now(), amount="9.00")
    rollups_refresh(start=timezone.localdate(), end=timezone.localdate())
    client.force_login(manager)
    page = client.get(TODAY_PAGE).content.decode()
    assert "Today at KLCC" in page
    page = client.get(TODAY_PAGE, {"store": "midv"}).content.decode()
    assert "Today at Mid Valley" in page and "RM9.00" in page


def test_the_form_shows_the_period_on_screen_so_the_next_search_keeps_it(client, marketer, shops):
    client.force_login(marketer)
    page = client.get(DASHBOARD, {"period": "last_90"}).content.decode()
    assert re.search(r'<option value="last_90" selected>', page)
    start = (timezone.localdate() - timedelta(days=89)).isoformat()
    assert f'value="{start}"' in page


def test_the_tier_and_segment_narrow_the_member_figures_and_say_what_they_do_not(
    client, marketer, tiers, shops
):
    client.force_login(marketer)
    everyone = client.get(DASHBOARD, {"period": "last_90"}).content.decode()
    bronze = client.get(
        DASHBOARD, {"period": "last_90", "tier": tiers["bronze"].pk}
    ).content.decode()
    gold = client.get(DASHBOARD, {"period": "last_90", "tier": tiers["gold"].pk}).content.decode()
    assert tile(everyone, "members-total") == tile(bronze, "members-total") == "2"
    assert tile(gold, "members-total") == "0"
    # Sales keep no tier: the tiles say so rather than pretend.
    assert "a sale keeps no tier or segment" in gold
    assert tile(gold, "sales-count") == tile(everyone, "sales-count")
    segment = segment_create(
        actor=Actor.system(),
        name="KLCC regulars",
        rules={"all": [{"field": "home_store", "op": "eq", "value": "klcc"}]},
    )
    page = client.get(DASHBOARD, {"period": "last_90", "segment": segment.pk}).content.decode()
    assert tile(page, "members-total") == "1"
    assert "KLCC regulars" in page


def test_the_summary_apis_names_work_too_from_to_and_a_store_code(client, marketer, shops):
    client.force_login(marketer)
    day = (timezone.localdate() - timedelta(days=40)).isoformat()
    page = client.get(DASHBOARD, {"from": day, "to": day, "store": "midv"}).content.decode()
    assert tile(page, "sales-count") == "1"
    assert "Mid Valley" in page


def test_the_page_is_kept_until_the_rollups_run_again(client, marketer, shops):
    from analytics.rollups import rollups_run

    client.force_login(marketer)
    assert tile(client.get(DASHBOARD).content.decode(), "sales-count") == "3"
    bought(None, shops["klcc"], at=timezone.now() - timedelta(minutes=1), amount="1.00")
    # Not rolled up yet: the page shows what the roll-ups hold.
    assert tile(client.get(DASHBOARD).content.decode(), "sales-count") == "3"
    rollups_run(as_of=timezone.now())
    assert tile(client.get(DASHBOARD).content.decode(), "sales-count") == "4"


def test_a_rise_in_churn_is_bad_news_and_a_rise_in_sales_good_news():
    from analytics.dashboard import Tile

    def tile_of(key: str, now: int, before: int, better: str) -> Tile:
        return Tile(key, key, "count", now, before, "", better=better)

    assert tile_of("sales", 3, 1, "up").tone == "good"
    assert tile_of("churn", 3, 1, "down").tone == "bad"
    assert tile_of("churn", 1, 3, "down").tone == "good"
    assert tile_of("outstanding", 3, 1, "").tone == ""
    assert tile_of("sales", 1, 1, "up").tone == ""
    assert Tile("nps", "NPS", "score", None, 10, "").trend == ""


def test_the_key_figures_download_with_their_unit_and_the_period_before(client, marketer, shops):
    client.force_login(marketer)
    rows = rows_of(client.get(export_url("kpis"), {"period": "last_30"}))
    assert rows[0] == ["Group", "Figure", "Unit", "This period", "Period before"]
    by_figure = {row[1]: row for row in rows[1:]}
    assert by_figure["Sales"] == ["Sales", "Sales", "count", "3", "1"]
    assert by_figure["Participation rate"][2:] == ["fraction 0-1", "0.6667", "1.0000"]
    assert by_figure["Sales amount"][2:] == ["MYR", "45.00", "50.00"]
    # A 0 is 0; a figure that cannot be worked out (no answer yet) is empty.
    assert by_figure["Points redeemed"][3:] == ["0", "0"]
    assert by_figure["NPS"][3:] == ["", ""]
