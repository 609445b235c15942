"""The at-risk page (analytics.prediction_views): who may open it, what it
lists, and "make a segment"."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import MemberPrediction, PredictionFit
from loyalty.models import AuditEvent
from members.models import Segment
from members.segments import segment_members
from tests.factories import MemberFactory

URL = reverse("staff:at_risk")


@pytest.fixture
def predicted(db):
    """Four members with predictions: risky and valuable, risky and cheap,
    safe and valuable, and risky with a high spend to date only."""
    fit = PredictionFit.objects.create(
        fitted_at=timezone.now(), customers=4, r=0.2, alpha=4.0, a=0.8, b=2.4, log_likelihood=-9.0
    )

    def predict(name: str, risk: float, value: str, spend: str = "0.00"):
        member = MemberFactory(user=None, email=f"{name}@example.com", first_name=name)
        member.account.lifetime_spend = Decimal(spend)
        member.account.save()
        MemberPrediction.objects.create(
            member=member,
            fit=fit,
            churn_risk=risk,
            expected_purchases=1.0,
            expected_spend=Decimal(value),
            predicted_value=Decimal(value),
            purchases=3,
            last_purchase_on=date(2026, 1, 5),
        )
        return member

    return {
        "risky": predict("Risky", 0.8, "900.00"),
        "cheap": predict("Cheap", 0.9, "5.00"),
        "safe": predict("Safe", 0.1, "950.00"),
        "spender": predict("Spender", 0.7, "10.00", spend="2000.00"),
    }


@pytest.mark.parametrize(
    ("role", "status"), [("marketer", 200), ("manager", 200), ("store_staff", 403)]
)
def test_each_role_opens_the_page_or_is_refused(client, request, predicted, role, status):
    client.force_login(request.getfixturevalue(role))
    assert client.get(URL).status_code == status


def test_members_are_refused_and_visitors_sent_to_sign_in(client, predicted):
    assert client.get(URL).status_code == 302
    client.force_login(MemberFactory(user__email="m@example.com").user)
    assert client.get(URL).status_code == 403


def test_the_page_lists_high_risk_members_of_high_predicted_or_historical_value(
    client, marketer, predicted
):
    client.force_login(marketer)
    response = client.get(URL, {"risk": 50, "value": "500.00"})
    listed = list(response.context["members"])
    assert listed == [predicted["risky"], predicted["spender"]]
    page = response.content.decode()
    assert "Risky" in page and "Safe" not in page and "80 %" in page
    assert 'href="' + reverse("staff:segment_list") in page  # the navigation


def test_the_page_paginates(client, marketer, predicted, monkeypatch):
    monkeypatch.setattr("analytics.prediction_views.AT_RISK_PAGE", 1)
    client.force_login(marketer)
    response = client.get(URL, {"risk": 50, "value": "0.00", "page": 2})
    assert response.context["page_obj"].paginator.num_pages == 3
    assert list(response.context["members"]) == [predicted["spender"]]


def test_a_bad_filter_falls_back_on_the_defaults(client, marketer, predicted):
    client.force_login(marketer)
    response = client.get(URL, {"risk": 900, "value": "lots"})
    assert response.status_code == 200
    assert response.context["choice"]["risk_percent"] == 50
    assert response.context["form"].errors


def test_make_a_segment_saves_the_same_members_audited(client, marketer, predicted):
    client.force_login(marketer)
    response = client.post(URL, {"risk": 50, "value": "500.00", "name": "Win back"})
    segment = Segment.objects.get(name="Win back")
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:segment_update", args=[segment.pk])
    assert set(segment_members(segment)) == {predicted["risky"], predicted["spender"]}
    event = AuditEvent.objects.get(action="segment.create")
    assert event.actor == marketer and event.after["name"] == "Win back"


def test_a_segment_name_taken_shows_on_the_form(client, marketer, predicted):
    client.force_login(marketer)
    client.post(URL, {"risk": 50, "value": "500.00", "name": "Win back"})
    response = client.post(URL, {"risk": 50, "value": "500.00", "name": "Win back"})
    assert response.status_code == 400
    assert response.context["segment_form"].errors["name"]
    assert Segment.objects.count() == 1


def test_only_marketing_may_make_a_segment(client, predicted, roles):
    from tests.factories import StaffUserFactory

    client.force_login(StaffUserFactory(role="Store staff", email="s2@example.com"))
    response = client.post(URL, {"risk": 50, "value": "0.00", "name": "Nope"})
    assert response.status_code == 403
    assert not Segment.objects.exists()


def test_the_page_reads_in_malay(client, marketer, predicted):
    client.force_login(marketer)
    response = client.get(URL, HTTP_ACCEPT_LANGUAGE="ms")
    page = response.content.decode()
    assert "Berisiko" in page and "Buat segmen" in page
