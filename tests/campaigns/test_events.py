"""Custom events (`POST /events`, campaigns.events.event_record): each event
campaign pays per event within its budget and the member's cap per period, a
reference replays, an event no campaign rewards is kept with no awards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.errors import EventReferenceTaken
from campaigns.events import event_record
from campaigns.models import CampaignHoldout, MemberEvent
from campaigns.selectors import campaign_figures
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from members.checks import ledger_problems
from members.errors import MemberInactive
from members.models import PointsEntry
from members.services import member_update
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events"


def record(member, name="review", reference=None, occurred_at=None, now=None, store=None):
    return event_record(
        member=member,
        name=name,
        reference=reference,
        occurred_at=occurred_at,
        actor=Actor.system(),
        store=store,
        now=now,
    )


def test_an_event_campaign_pays_each_event_as_its_own_entry(shopper):
    campaign = make_campaign("event", name="Review bonus", params={"event": "review", "points": 20})
    first = record(shopper, reference="r-1")
    second = record(shopper, reference="r-2")
    assert first.response == {
        "awards": [{"source": f"campaign:{campaign.pk}", "points": 20, "label": "Review bonus"}],
        "balance": 20,
    }
    assert second.response["balance"] == 40
    entries = PointsEntry.objects.filter(member=shopper, source_type="campaign")
    assert [e.points for e in entries] == [20, 20]
    assert {e.description for e in entries} == {"Review bonus"}
    assert {e.kind for e in entries} == {"bonus"}
    assert campaign_figures(campaign_ids=[campaign.pk])[campaign.pk].points_awarded == 40
    assert ledger_problems() == []


def test_an_event_no_campaign_rewards_is_recorded_with_no_awards(shopper):
    make_campaign("event", params={"event": "review", "points": 20})
    recorded = record(shopper, name="Newsletter_Read")
    assert recorded.response == {"awards": [], "balance": 0}
    event = MemberEvent.objects.get(pk=recorded.event_id)
    assert event.name == "newsletter_read" and event.points == 0


@pytest.mark.parametrize(
    ("period", "later"),
    [("day", timedelta(days=1)), ("week", timedelta(days=7)), ("month", timedelta(days=31))],
)
def test_a_cap_of_one_review_a_period_pays_again_in_the_next_period(shopper, period, later):
    make_campaign(
        "event",
        params={"event": "review", "points": 20},
        per_member_cap=20,
        cap_period=period,
        starts_at=timezone.now() - timedelta(days=60),
    )
    start = timezone.localtime().replace(day=1, hour=10) - timedelta(days=40)
    assert record(shopper, occurred_at=start).response["awards"][0]["points"] == 20
    assert record(shopper, occurred_at=start + timedelta(hours=1)).response["awards"] == []
    assert record(shopper, occurred_at=start + later).response["awards"][0]["points"] == 20
    assert shopper.account.__class__.objects.get(member=shopper).balance == 40


def test_a_cap_cuts_an_award_to_what_is_left(shopper):
    make_campaign("event", params={"event": "review", "points": 30}, per_member_cap=50)
    assert [record(shopper).response["awards"][0]["points"] for _ in range(2)] == [30, 20]
    assert record(shopper).response["awards"] == []


def test_a_budget_cuts_the_last_award_and_then_pays_nothing(shopper, program):
    campaign = make_campaign("event", params={"event": "review", "points": 40}, budget_points=100)
    other = MemberFactory(user=None, email="other@example.com")
    paid = [record(m).response["awards"] for m in (shopper, other, shopper, other)]
    assert [a[0]["points"] if a else 0 for a in paid] == [40, 40, 20, 0]
    campaign.refresh_from_db()
    assert campaign.budget_used == 100


def test_a_member_in_the_hold_out_gets_nothing_and_is_counted(shopper, program):
    campaign = make_campaign("event", params={"event": "review", "points": 20}, holdout_percent=50)
    from campaigns.engine import in_holdout

    members = [MemberFactory(user=None, email=f"h{n}@example.com") for n in range(12)]
    held = [
        m
        for m in members
        if in_holdout(member_id=m.pk, campaign_id=campaign.pk, holdout_percent=50)
    ]
    assert held, "with 12 members some fall in a 50% hold-out"
    for member in members:
        awards = record(member).response["awards"]
        assert (awards == []) == (member in held)
    assert set(CampaignHoldout.objects.values_list("member_id", flat=True)) == {m.pk for m in held}


def test_an_audience_of_tiers_only_pays_those_tiers(shopper, tiers):
    make_campaign("event", params={"event": "review", "points": 20}, tiers=[tiers["gold"]])
    assert record(shopper).response["awards"] == []


def test_the_same_reference_replays_the_first_answer(shopper):
    make_campaign("event", params={"event": "review", "points": 20})
    first = record(shopper, reference="order-9")
    again = record(shopper, reference="order-9")
    assert again.replayed and again.response == first.response
    assert PointsEntry.objects.filter(member=shopper).count() == 1
    with pytest.raises(EventReferenceTaken):
        record(shopper, name="social_share", reference="order-9")


def test_events_outside_their_bounds_are_refused(shopper):
    now = timezone.now()
    with pytest.raises(ValidationFailed) as future:
        record(shopper, occurred_at=now + timedelta(hours=1), now=now)
    assert "occurred_at" in future.value.fields
    with pytest.raises(ValidationFailed):
        record(shopper, occurred_at=now - timedelta(days=400), now=now)
    for name in ("", "Two words", "x" * 65, "émoji"):
        with pytest.raises(ValidationFailed):
            record(shopper, name=name)
    assert MemberEvent.objects.count() == 0


def test_an_inactive_member_cannot_earn_from_events(shopper):
    blocked = member_update(actor=Actor.system(), member=shopper, status="blocked")
    with pytest.raises(MemberInactive):
        record(blocked, reference="x")
    assert MemberEvent.objects.count() == 0


def test_a_campaign_of_one_store_pays_only_events_reported_there(shopper):
    bangsar = StoreFactory(code="bangsar")
    make_campaign("event", params={"event": "review", "points": 20}, stores=[bangsar])
    assert record(shopper).response["awards"] == []
    assert record(shopper, store=bangsar).response["awards"][0]["points"] == 20


# --- The API -------------------------------------------------------------------------------------


def test_post_events_pays_and_replays_by_reference_without_a_key(pos_api, shopper):
    make_campaign("event", name="Share it", params={"event": "social_share", "points": 15})
    body = {"member_id": shopper.public_id, "name": "social_share", "reference": "fb-1"}
    first = pos_api.post(URL, body, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["awards"][0]["points"] == 15 and first.json()["balance"] == 15
    again = pos_api.post(URL, body, format="json")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_post_events_by_card_number_with_no_campaign(pos_api, shopper):
    response = pos_api.post(
        URL, {"card_number": shopper.card_number, "name": "app_download"}, format="json"
    )
    assert response.status_code == 201 and response.json() == {"awards": [], "balance": 0}


def test_post_events_refuses_bad_input_with_the_envelope(pos_api, shopper):
    cases = [
        {"name": "review"},
        {"member_id": shopper.public_id, "card_number": shopper.card_number, "name": "review"},
        {"member_id": "MNOSUCHMEMBER0000", "name": "review"},
        {"member_id": shopper.public_id, "name": "not a slug"},
        {"member_id": shopper.public_id, "name": "review", "occurred_at": "2999-01-01T00:00:00Z"},
    ]
    for body in cases:
        response = pos_api.post(URL, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["code"] == "invalid"


def test_post_events_keys_the_event_with_the_key_store(shopper, program):
    from tests.conftest import api_client_for

    bangsar = StoreFactory(code="bangsar")
    client = api_client_for("pos", store=bangsar)
    response = client.post(URL, {"member_id": shopper.public_id, "name": "review"}, format="json")
    assert response.status_code == 201
    assert MemberEvent.objects.get().store == bangsar


def test_post_events_needs_a_key(client, shopper):
    response = client.post(URL, {"member_id": shopper.public_id, "name": "review"})
    assert response.status_code in (401, 403)
    assert reverse("api:event_list") == URL
