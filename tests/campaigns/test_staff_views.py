"""The marketers' campaign pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus
from loyalty.models import AuditEvent
from tests.campaigns.factories import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketing(client, marketer, program, tiers):
    client.force_login(marketer)
    return client


def form_data(**overrides) -> dict:
    start = timezone.localtime().replace(second=0, microsecond=0)
    data = {
        "name": "Double points weekend",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": "",
        "segment": "",
        "cap_period": "campaign",
        "stackable": "on",
        "priority": "0",
        "holdout_percent": "0",
        "budget_points": "",
        "per_member_cap": "",
        "factor": "2.00",
        "days_of_week": ["5", "6"],
        "hours_from": "",
        "hours_to": "",
        "min_spend": "",
        "categories": "",
        "skus": "",
    }
    data.update(overrides)
    return data


def test_store_staff_cannot_open_campaigns(client, store_staff):
    client.force_login(store_staff)
    assert client.get(reverse("staff:campaign_list")).status_code == 403


def test_list_shows_status_and_figures_and_the_nav_entry(marketing):
    make_campaign(name="Welcome RM100")
    page = marketing.get(reverse("staff:campaign_list")).content.decode()
    assert "Welcome RM100" in page and "Active" in page
    assert reverse("staff:campaign_list") in page  # the navigation entry


def test_create_asks_the_kind_first_then_shows_only_its_fields(marketing):
    choose = marketing.get(reverse("staff:campaign_create")).content.decode()
    assert "?kind=multiplier" in choose and 'name="factor"' not in choose
    form = marketing.get(reverse("staff:campaign_create") + "?kind=multiplier").content.decode()
    assert 'name="factor"' in form and 'name="days_of_week"' in form
    assert 'name="per_amount"' not in form and 'name="event"' not in form
    spend = marketing.get(reverse("staff:campaign_create") + "?kind=spend_bonus").content.decode()
    assert 'name="first_purchase_only"' in spend and 'name="factor"' not in spend


def test_create_a_weekend_multiplier_for_gold_and_schedule_it(marketing, tiers):
    response = marketing.post(
        reverse("staff:campaign_create") + "?kind=multiplier",
        form_data(tiers=[tiers["gold"].pk], schedule="1"),
    )
    assert response.status_code == 302, response.content.decode()
    campaign = Campaign.objects.get()
    assert campaign.params == {"factor": "2.00", "days_of_week": [5, 6]}
    assert campaign.status == CampaignStatus.ACTIVE
    assert list(campaign.tiers.values_list("code", flat=True)) == ["gold"]
    assert AuditEvent.objects.filter(action="campaign.create").exists()


def test_a_rule_that_cannot_work_is_shown_on_its_field(marketing):
    response = marketing.post(
        reverse("staff:campaign_create") + "?kind=multiplier",
        form_data(hours_from="18:00", hours_to="18:00"),
    )
    assert response.status_code == 200
    assert "must not start and end at the same time" in response.content.decode()
    assert not Campaign.objects.exists()


def test_edit_shows_its_rule_and_saves(marketing):
    campaign = make_campaign("multiplier", params={"factor": "3.00", "hours": ["18:00", "22:00"]})
    page = marketing.get(reverse("staff:campaign_update", args=[campaign.pk])).content.decode()
    assert 'value="3.00"' in page and 'value="18:00"' in page
    response = marketing.post(
        reverse("staff:campaign_update", args=[campaign.pk]),
        form_data(
            name="Happy hour", factor="1.50", hours_from="17:00", hours_to="19:00", days_of_week=[]
        ),
    )
    assert response.status_code == 302, response.content.decode()
    campaign.refresh_from_db()
    assert campaign.name == "Happy hour"
    assert campaign.params == {"factor": "1.50", "hours": ["17:00", "19:00"]}
    assert AuditEvent.objects.filter(action="campaign.update").exists()


def test_pause_resume_end_and_duplicate(marketing):
    campaign = make_campaign(name="Weekend")
    status_url = reverse("staff:campaign_status", args=[campaign.pk])
    marketing.post(status_url, {"status": "paused"})
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.PAUSED
    marketing.post(status_url, {"status": "scheduled"})
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.ACTIVE
    marketing.post(status_url, {"status": "ended"})
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.ENDED
    response = marketing.post(status_url, {"status": "scheduled"}, follow=True)
    assert "cannot become" in response.content.decode()
    page = marketing.get(reverse("staff:campaign_update", args=[campaign.pk])).content.decode()
    assert "has ended and can no longer change" in page
    response = marketing.post(reverse("staff:campaign_duplicate", args=[campaign.pk]))
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert response["Location"] == reverse("staff:campaign_update", args=[copy.pk])
    assert copy.status == CampaignStatus.DRAFT and copy.name == "Copy of Weekend"


def test_a_campaign_past_its_end_shows_ended(marketing):
    now = timezone.now()
    old = make_campaign(
        name="Old one",
        status="draft",
        starts_at=now - timedelta(days=9),
        ends_at=now - timedelta(days=2),
    )
    Campaign.objects.filter(pk=old.pk).update(status="active")  # the job has not run yet
    page = marketing.get(reverse("staff:campaign_list") + "?status=ended").content.decode()
    assert "Old one" in page
