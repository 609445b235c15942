"""Referrals in the sale flow: the friend's first qualifying sale through the
API pays both once, after the commit; a full return takes both back."""

from __future__ import annotations

import pytest

from campaigns.models import Referral, ReferralStatus
from members.checks import ledger_problems
from members.models import Member
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory
from tests.purchases.conftest import sale

pytestmark = pytest.mark.django_db


def test_a_friend_s_first_qualifying_sale_pays_both_once_and_a_full_return_takes_it_back(
    pos_api, program, django_capture_on_commit_callbacks
):
    make_campaign(
        "referral",
        name="Bring a friend",
        params={
            "referrer_points": 500,
            "friend_points": 200,
            "min_spend": "50.00",
            "within_days": 30,
        },
    )
    referrer = MemberFactory(user=None, email="referrer@example.com")
    joined = pos_api.post(
        "/api/v1/members",
        {"email": "friend@example.com", "referral_code": referrer.referral_code},
        format="json",
    )
    assert joined.status_code == 201, joined.content
    friend = Member.objects.get(public_id=joined.json()["id"])

    def buy(reference: str, amount: str) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            response = pos_api.post(
                "/api/v1/purchases",
                sale(reference, ("TEA", 1, amount), member=friend),
                format="json",
            )
        assert response.status_code == 201, response.content
        return response.json()

    buy("R0", "20.00")  # below min_spend: stays joined
    assert Referral.objects.get(friend=friend).status == ReferralStatus.JOINED
    first = buy("R1", "60.00")
    buy("R2", "70.00")  # a second qualifying sale pays nothing more
    assert Referral.objects.get(friend=friend).status == ReferralStatus.REWARDED
    assert Member.objects.get(pk=referrer.pk).account.balance == 500
    assert Member.objects.get(pk=friend.pk).account.balance == 20 + 60 + 70 + 200

    with django_capture_on_commit_callbacks(execute=True):
        returned = pos_api.post(
            f"/api/v1/purchases/{first['id']}/returns",
            {"reference": "RET1", "amount": "60.00"},
            format="json",
        )
    assert returned.status_code == 201, returned.content
    assert Referral.objects.get(friend=friend).status == ReferralStatus.REJECTED
    assert Member.objects.get(pk=referrer.pk).account.balance == 0
    assert Member.objects.get(pk=friend.pk).account.balance == 20 + 70
    assert ledger_problems() == []
