"""The back-test of a campaign over recorded purchases (purchases.backtest,
`POST /campaigns/{id}/simulate`, the campaign page's button): the same
points as the campaign live on the same sales, budget and caps included,
hold-out excluded; bounded ranges; large ranges through the task."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.engine import in_holdout
from campaigns.models import Campaign
from campaigns.services import campaign_status_set
from loyalty.actors import Actor
from loyalty.models import AuditEvent
from loyalty.selectors import program_settings_get
from members.models import PointsEntry
from purchases import backtest
from purchases.models import BacktestStatus, CampaignBacktest, Purchase
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory
from tests.purchases.conftest import sale

pytestmark = pytest.mark.django_db


def _days_ago(days: int, hour: int = 12) -> datetime:
    return (timezone.localtime() - timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


def _baskets(members):
    """(member, occurred_at, items): every day of the last two weeks, each
    member a sale, with a non-earning line and a coffee line now and then."""
    out = []
    for day in range(14, 0, -1):
        for n, member in enumerate(members):
            items = [("TEA", 1 + (day + n) % 3, f"{20 + 7 * n}.50")]
            if day % 3 == 0:
                items.append(("GIFTWRAP", 1, "3.00"))
            if (day + n) % 4 == 0:
                items.append(("LATTE", 2, "12.90"))
            out.append((member, _days_ago(day, hour=9 + n), items))
    return out


def _post(pos_api, baskets, prefix):
    receipts = []
    for i, (member, at, items) in enumerate(baskets):
        body = sale(f"{prefix}{i}", *items, member=member, occurred_at=at.isoformat())
        for item in body["items"]:
            item["category"] = "coffee" if item["sku"] == "LATTE" else "tea"
            item["earns"] = item["sku"] != "GIFTWRAP"
        response = pos_api.post("/api/v1/purchases", body, format="json")
        assert response.status_code == 201, response.content
        receipts.append(response.json())
    return receipts


def _simulate(admin_api, campaign, start, end):
    return admin_api.post(
        f"/api/v1/campaigns/{campaign.pk}/simulate",
        {"from": start, "to": end},
        format="json",
    )


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("multiplier", {"factor": "2.00", "days_of_week": [0, 2, 4, 5]}),
        ("category_bonus", {"categories": ["coffee"], "points": 3, "per_amount": "1.00"}),
        ("spend_bonus", {"min_spend": "40.00", "points": 25}),
    ],
)
def test_a_back_test_then_the_same_campaign_live_give_the_same_points(
    pos_api, admin_api, shopper, kind, params
):
    members = [shopper, *(MemberFactory(user=None, email=f"m{i}@example.com") for i in range(5))]
    baskets = _baskets(members)
    first = _post(pos_api, baskets, "BEFORE-")
    assert all(a["source"] in ("base", "tier") for r in first for a in r["awards"])
    campaign = make_campaign(
        kind,
        params=params,
        status="draft",
        starts_at=timezone.now() - timedelta(days=30),
        budget_points=900,
        per_member_cap=60,
        cap_period="week",
        holdout_percent=20,
    )
    start, end = _days_ago(15).date().isoformat(), timezone.localdate().isoformat()
    response = _simulate(admin_api, campaign, start, end)
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["points"] > 0
    # Nothing written but the audit event.
    assert not PointsEntry.objects.filter(source_type="purchase", kind="bonus").exists()
    assert Campaign.objects.get(pk=campaign.pk).budget_used == 0

    campaign_status_set(actor=Actor.system(), campaign=campaign, status="scheduled")
    live = _post(pos_api, baskets, "AFTER-")
    source = f"campaign:{campaign.pk}"
    awarded = [sum(a["points"] for a in r["awards"] if a["source"] == source) for r in live]
    assert sum(awarded) == result["points"]
    assert sum(1 for p in awarded if p) == result["purchases_matched"]
    reached = {member.pk for (member, _, _), p in zip(baskets, awarded, strict=True) if p}
    assert len(reached) == result["members_reached"]
    assert result["cost"] == f"{result['points'] / 100:.2f}"
    assert result["liability_change"] == result["cost"]
    assert sum(day["points"] for day in result["by_day"]) == result["points"]
    assert sum(day["purchases"] for day in result["by_day"]) == result["purchases_matched"]
    # The cap and the hold-out shaped both alike.
    held = {
        m.pk
        for m in members
        if in_holdout(member_id=m.pk, campaign_id=campaign.pk, holdout_percent=20)
    }
    assert not reached & held


def test_the_budget_binds_in_the_back_test_as_live(pos_api, admin_api, shopper):
    members = [shopper, MemberFactory(user=None, email="b@example.com")]
    baskets = _baskets(members)
    _post(pos_api, baskets, "B-")
    campaign = make_campaign(
        "spend_bonus",
        params={"min_spend": "10.00", "points": 70},
        status="draft",
        starts_at=timezone.now() - timedelta(days=30),
        budget_points=500,
    )
    result = _simulate(
        admin_api, campaign, _days_ago(20).date().isoformat(), timezone.localdate().isoformat()
    ).json()
    assert result["points"] == 500  # 7 full awards and one cut to 10
    assert result["purchases_matched"] == 8
    campaign_status_set(actor=Actor.system(), campaign=campaign, status="scheduled")
    live = _post(pos_api, baskets, "L-")
    source = f"campaign:{campaign.pk}"
    assert sum(a["points"] for r in live for a in r["awards"] if a["source"] == source) == 500


def test_members_in_the_hold_out_get_nothing(pos_api, admin_api, shopper):
    members = [shopper, *(MemberFactory(user=None, email=f"h{i}@example.com") for i in range(9))]
    _post(pos_api, [(m, _days_ago(2), [("TEA", 1, "50.00")]) for m in members], "H-")
    campaign = make_campaign(
        "spend_bonus", params={"min_spend": "10.00", "points": 10}, holdout_percent=50
    )
    held = [
        m
        for m in members
        if in_holdout(member_id=m.pk, campaign_id=campaign.pk, holdout_percent=50)
    ]
    result = _simulate(
        admin_api, campaign, _days_ago(5).date().isoformat(), timezone.localdate().isoformat()
    ).json()
    assert result["members_reached"] == len(members) - len(held)
    assert result["points"] == 10 * (len(members) - len(held))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "2026-03-01", "to": "2026-02-01"}, "to"),
        ({"from": "2026-03-01T10:00:00+08:00", "to": "2026-03-01T10:00:00+08:00"}, "to"),
        ({"from": "2025-01-01", "to": "2026-03-01"}, "to"),
        ({"from": "yesterday", "to": "2026-03-01"}, "from"),
        ({"to": "2026-03-01"}, "from"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
        ({"from": "9999-12-30", "to": "9999-12-31"}, "from"),
    ],
)
def test_ranges_out_of_bounds_are_refused(admin_api, program, body, field):
    campaign = make_campaign("spend_bonus")
    response = admin_api.post(f"/api/v1/campaigns/{campaign.pk}/simulate", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_a_year_and_a_day_is_accepted_and_dates_include_their_last_day(program):
    window = backtest.backtest_range(
        start=datetime(2025, 1, 1).date(), end=datetime(2025, 12, 31).date()
    )
    assert window.ends_at - window.starts_at == timedelta(days=365)
    assert timezone.localtime(window.ends_at).date() == datetime(2026, 1, 1).date()


def test_a_campaign_that_does_not_award_on_sales_cannot_be_back_tested(admin_api, program):
    campaign = make_campaign("signup")
    response = _simulate(admin_api, campaign, "2026-01-01", "2026-01-31")
    assert response.status_code == 400 and "campaign" in response.json()["fields"]
    assert _simulate(admin_api, campaign, "2026-01-01", "2026-01-31").status_code == 400


def test_the_pos_scope_may_not_simulate_and_an_unknown_campaign_is_404(pos_api, admin_api, program):
    campaign = make_campaign("spend_bonus")
    assert _simulate(pos_api, campaign, "2026-01-01", "2026-01-31").status_code == 403
    response = admin_api.post(
        "/api/v1/campaigns/999999/simulate",
        {"from": "2026-01-01", "to": "2026-01-02"},
        format="json",
    )
    assert response.status_code == 404


def test_every_back_test_is_audited(admin_api, program):
    campaign = make_campaign("spend_bonus")
    _simulate(admin_api, campaign, "2026-01-01", "2026-01-31")
    event = AuditEvent.objects.get(action="campaign.backtest", object_id=str(campaign.pk))
    assert event.after["points"] == 0 and event.after["from"].startswith("2026-01-01")


def test_the_statements_do_not_grow_with_the_purchases(pos_api, admin_api, shopper):
    """Set-based: the purchases and their lines are read in one statement each
    (per chunk), so twice the purchases cost the same statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    campaign = make_campaign("multiplier", params={"factor": "2.00"})
    campaign_status_set(actor=Actor.system(), campaign=campaign, status="paused")
    other = MemberFactory(user=None, email="q@example.com")
    counts = []
    for n, members in enumerate(([shopper], [shopper, other])):
        _post(pos_api, _baskets(members), f"Q{n}-")
        window = backtest.backtest_range(start=_days_ago(20).date(), end=timezone.localdate())
        program = program_settings_get()
        with CaptureQueriesContext(connection) as queries:
            result = backtest.campaign_backtest(
                actor=Actor.system(), campaign=campaign, window=window, program=program
            )
        counts.append(len(queries))
    assert result["purchases_matched"] == 14 * 3
    assert counts[0] == counts[1]


# --- The page ---------------------------------------------------------------------------


def _page_post(client, campaign, start, end):
    return client.post(
        reverse("staff:campaign_backtest", args=[campaign.pk]),
        {"backtest-date_from": start, "backtest-date_to": end},
    )


def test_the_campaign_page_runs_a_small_back_test_inline(client, marketer, pos_api, shopper):
    _post(pos_api, _baskets([shopper]), "P-")
    campaign = make_campaign("spend_bonus", params={"min_spend": "10.00", "points": 5})
    client.force_login(marketer)
    page = client.get(reverse("staff:campaign_update", args=[campaign.pk]))
    assert b"backtest-date_from" in page.content
    response = _page_post(
        client, campaign, _days_ago(20).date().isoformat(), timezone.localdate().isoformat()
    )
    assert response.status_code == 302
    run = CampaignBacktest.objects.get(campaign=campaign)
    assert run.status == BacktestStatus.DONE and run.result["points"] == 70
    detail = client.get(response["Location"])
    assert detail.status_code == 200 and b"70" in detail.content
    assert b"<script src" in detail.content or b"backtest.js" not in detail.content


def test_the_page_refuses_a_range_too_long_with_a_message(client, marketer, program):
    campaign = make_campaign("spend_bonus")
    client.force_login(marketer)
    response = _page_post(client, campaign, "2024-01-01", "2026-01-01")
    assert response.status_code == 302
    assert not CampaignBacktest.objects.exists()
    page = client.get(response["Location"])
    assert b"366" in page.content


def test_a_large_range_runs_as_a_task_and_its_progress_reaches_100(
    client, marketer, pos_api, shopper, monkeypatch, django_capture_on_commit_callbacks
):
    _post(pos_api, _baskets([shopper]), "T-")
    monkeypatch.setattr(backtest, "INLINE_PURCHASES_MAX", 5)
    monkeypatch.setattr(backtest, "PROGRESS_EVERY", 4)
    from purchases import backtest_views

    monkeypatch.setattr(backtest_views, "INLINE_PURCHASES_MAX", 5)
    campaign = make_campaign("spend_bonus", params={"min_spend": "10.00", "points": 5})
    client.force_login(marketer)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _page_post(
            client, campaign, _days_ago(20).date().isoformat(), timezone.localdate().isoformat()
        )
    run = CampaignBacktest.objects.get(campaign=campaign)
    assert run.status == BacktestStatus.QUEUED and run.purchases_total == 14
    pending = client.get(response["Location"])
    assert b"backtest.js" in pending.content and b'http-equiv="refresh"' in pending.content
    status_url = reverse("staff:campaign_backtest_status", args=[campaign.pk, run.pk])
    assert client.get(status_url).json()["percent"] == 0

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        for callback in callbacks:
            callback()  # the task, eager as in `make run`
    progress = [
        q["sql"] for q in queries if q["sql"].startswith('UPDATE "purchases_campaignbacktest"')
    ]
    assert len(progress) >= 1 + 3  # running, then at 4, 8 and 12 purchases
    run.refresh_from_db()
    assert run.status == BacktestStatus.DONE and run.result["points"] == 70
    assert client.get(status_url).json()["percent"] == 100
    assert Purchase.objects.count() == 14
    done = client.get(response["Location"])
    assert b"backtest.js" not in done.content
    assert AuditEvent.objects.filter(action="campaign.backtest").count() == 1
