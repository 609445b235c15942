"""Guessing codes is limited (rewards.throttling): unknown voucher and gift-card
codes are counted per key and per address wherever a code is looked up — the
code endpoints, the sale and its preview — and past the limit every request
naming a code is `429 rate_limited`. Codes that exist count nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from loyalty.actors import Actor
from loyalty.models import ApiScope
from members.models import Member
from purchases.models import Purchase
from rewards.gift_cards import gift_card_issue
from rewards.models import Voucher
from rewards.services import redemption_create
from tests.conftest import api_client_for
from tests.purchases.conftest import sale
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db

UNKNOWN_VOUCHER = "0000-0000-0000"
UNKNOWN_CARD = "0000-0000-0000-0000"
PREVIEW = "/api/v1/purchases/preview"


@pytest.fixture(autouse=True)
def _three_failures_a_minute(settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "code_lookup": "3/min",
        },
    }


def _voucher(member: Member) -> Voucher:
    fund(member, 500)
    redemption = redemption_create(member=member, reward=make_reward(), actor=Actor.system())
    return redemption.vouchers.get()


def _preview(api, reference: str, member: Member, headers=None, **codes):
    body = sale(reference, ("TEA", 1, "50.00"), member=member, **codes)
    return api.post(PREVIEW, body, format="json", headers=headers)


def test_past_three_unknown_vouchers_in_previews_every_code_carrying_sale_is_refused(
    pos_api, shopper
):
    voucher = _voucher(shopper)
    statuses = [
        _preview(pos_api, f"R{n}", shopper, vouchers=[UNKNOWN_VOUCHER]).status_code
        for n in range(3)
    ]
    assert statuses == [422, 422, 422]

    refused = _preview(pos_api, "R4", shopper, vouchers=[UNKNOWN_VOUCHER])
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert "Retry-After" in refused.headers
    # A known code gets no answer either (the answer would tell it exists)...
    assert _preview(pos_api, "R5", shopper, vouchers=[voucher.code]).status_code == 429
    body = sale("R6", ("TEA", 1, "50.00"), member=shopper, vouchers=[voucher.code])
    assert pos_api.post("/api/v1/purchases", body, format="json").status_code == 429
    assert not Purchase.objects.exists()
    # ...while a sale naming no code guesses nothing and goes through.
    assert _preview(pos_api, "R7", shopper).status_code == 200
    body = sale("R8", ("TEA", 1, "50.00"), member=shopper)
    assert pos_api.post("/api/v1/purchases", body, format="json").status_code == 201


def test_a_busy_till_using_real_vouchers_and_cards_is_never_slowed(pos_api, shopper):
    voucher = _voucher(shopper)
    card = gift_card_issue(actor=Actor.system(), amount=Decimal("500.00"))
    for n in range(6):
        answer = _preview(
            pos_api,
            f"R{n}",
            shopper,
            vouchers=[voucher.code],
            gift_cards=[{"code": card.code, "amount": "1.00"}],
        )
        assert answer.status_code == 200, answer.content
    body = sale("R9", ("TEA", 1, "50.00"), member=shopper, vouchers=[voucher.code])
    assert pos_api.post("/api/v1/purchases", body, format="json").status_code == 201
    # A used voucher is a known code: refusing it is no guess.
    for n in range(4):
        again = sale(f"S{n}", ("TEA", 1, "50.00"), member=shopper, vouchers=[voucher.code])
        answer = pos_api.post("/api/v1/purchases", again, format="json")
        assert (answer.status_code, answer.json()["code"]) == (422, "voucher_not_usable")


def test_each_unknown_code_of_a_sale_counts(pos_api, shopper):
    codes = ["0000-0000-0001", "0000-0000-0002"]
    card = {"code": UNKNOWN_CARD, "amount": "1.00"}
    assert _preview(pos_api, "R1", shopper, vouchers=codes, gift_cards=[card]).status_code == 422
    assert _preview(pos_api, "R2", shopper, vouchers=[UNKNOWN_VOUCHER]).status_code == 429


def test_unknown_gift_cards_in_sales_count(pos_api, shopper):
    card = {"code": UNKNOWN_CARD, "amount": "1.00"}
    for n in range(3):
        body = sale(f"R{n}", ("TEA", 1, "50.00"), member=shopper, gift_cards=[card])
        refused = pos_api.post("/api/v1/purchases", body, format="json")
        assert refused.status_code >= 400 and refused.json()["code"] != "rate_limited"
    body = sale("R4", ("TEA", 1, "50.00"), member=shopper, gift_cards=[card])
    assert pos_api.post("/api/v1/purchases", body, format="json").status_code == 429


def test_failures_under_an_idempotency_key_count_and_the_refusal_is_not_stored(pos_api, shopper):
    for n in range(3):
        headers = {"Idempotency-Key": f"k{n}"}
        answer = _preview(pos_api, f"R{n}", shopper, headers, vouchers=[UNKNOWN_VOUCHER])
        assert answer.status_code == 422
    headers = {"Idempotency-Key": "k-last"}
    assert _preview(pos_api, "R9", shopper, headers, vouchers=[UNKNOWN_VOUCHER]).status_code == 429
    cache.clear()  # the window is over
    # The 429 was not kept as the key's answer: the request now runs.
    assert _preview(pos_api, "R9", shopper, headers, vouchers=[UNKNOWN_VOUCHER]).status_code == 422


def test_failures_count_per_address_across_keys_and_endpoints(pos_api, shopper):
    for n in range(3):
        assert _preview(pos_api, f"R{n}", shopper, vouchers=[UNKNOWN_VOUCHER]).status_code == 422
    other_key = api_client_for(ApiScope.POS)
    assert other_key.get(f"/api/v1/vouchers/{UNKNOWN_VOUCHER}").status_code == 429
    assert other_key.get(f"/api/v1/gift-cards/{UNKNOWN_CARD}").status_code == 429


def test_another_address_with_another_key_is_not_limited(pos_api, shopper):
    for n in range(3):
        assert _preview(pos_api, f"R{n}", shopper, vouchers=[UNKNOWN_VOUCHER]).status_code == 422
    elsewhere = api_client_for(ApiScope.POS)
    elsewhere.defaults["REMOTE_ADDR"] = "203.0.113.9"
    assert _preview(elsewhere, "R9", shopper, vouchers=[UNKNOWN_VOUCHER]).status_code == 422


def test_unknown_codes_of_the_code_endpoints_count_and_known_ones_do_not(pos_api, shopper):
    voucher = _voucher(shopper)
    for _ in range(5):
        assert pos_api.get(f"/api/v1/vouchers/{voucher.code}").status_code == 200
    charge = {"amount": "1.00", "reference": "R1"}
    for _ in range(3):
        unknown = pos_api.post(f"/api/v1/gift-cards/{UNKNOWN_CARD}/charges", charge, format="json")
        assert unknown.status_code == 404
    assert pos_api.get(f"/api/v1/vouchers/{voucher.code}").status_code == 429
