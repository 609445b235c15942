"""The counter's voucher and gift-card desk: look up, use once, sell a card."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.models import ApiScope
from rewards.gift_cards import gift_card_charge, gift_card_issue
from rewards.models import GiftCard, GiftCardDesign, Voucher, VoucherStatus
from rewards.services import redemption_create
from tests.conftest import api_client_for
from tests.factories import StoreFactory
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def voucher(shopper) -> Voucher:
    fund(shopper, 500)
    redemption = redemption_create(member=shopper, reward=make_reward(), actor=Actor.system())
    return redemption.vouchers.get()


@pytest.fixture
def counter(client, store_staff):
    client.force_login(store_staff)
    return client


def test_a_typed_code_in_lower_case_without_dashes_finds_the_voucher(counter, voucher, shopper):
    typed = voucher.code.replace("-", "").lower()
    response = counter.get(reverse("staff:counter_voucher"), {"code": typed})
    page = response.content.decode()
    assert response.status_code == 200
    assert voucher.code in page and "RM10 off" in page and shopper.card_number in page
    assert "Ready to use" in page
    assert reverse("staff:counter_voucher_use", args=[voucher.code]) in page


def test_an_unknown_or_malformed_code_is_a_friendly_error(counter):
    unknown = counter.get(reverse("staff:counter_voucher"), {"code": "7KQ4-M2XH-9TPA"})
    assert "No such voucher." in unknown.content.decode()
    malformed = counter.get(reverse("staff:counter_voucher"), {"code": "hello"})
    assert "This is not a code" in malformed.content.decode()


def test_using_a_voucher_takes_a_post_and_works_once(counter, voucher):
    url = reverse("staff:counter_voucher_use", args=[voucher.code])
    confirm = counter.get(url)
    assert confirm.status_code == 200 and "Yes, use it now" in confirm.content.decode()
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.ISSUED  # looking does not use it

    used = counter.post(url, {"purchase_reference": "R-77"}, follow=True)
    assert any("used" in m for m in _messages(used))
    voucher.refresh_from_db()
    assert (voucher.status, voucher.used_reference) == (VoucherStatus.USED, "R-77")
    assert "Already used" in used.content.decode()

    again = counter.post(url, {"purchase_reference": "R-78"}, follow=True)
    assert "This voucher cannot be used." in _messages(again)
    voucher.refresh_from_db()
    assert voucher.used_reference == "R-77"


def test_an_expired_voucher_shows_expired_and_cannot_be_used(counter, voucher):
    Voucher.objects.filter(pk=voucher.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    page = counter.get(reverse("staff:counter_voucher"), {"code": voucher.code}).content.decode()
    assert "Expired" in page and "Use it" not in page
    counter.post(reverse("staff:counter_voucher_use", args=[voucher.code]))
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.ISSUED


def test_a_gift_card_shows_its_balance_and_history(counter):
    card = gift_card_issue(actor=Actor.system(), amount=Decimal("50.00"))
    gift_card_charge(
        code=card.code,
        amount=Decimal("12.50"),
        reference="R-9",
        store=StoreFactory(),
        actor=Actor.system(),
    )
    response = counter.get(reverse("staff:counter_gift_card"), {"code": card.code.lower()})
    page = response.content.decode()
    assert "37.50" in page and "R-9" in page and "50.00" in page


def test_selling_a_card_shows_its_code_once_and_links_the_member(counter, shopper):
    url = reverse("staff:counter_gift_card_sell")
    response = counter.post(url, {"amount": "80.00", "member": shopper.card_number})
    assert response.status_code == 200
    card = GiftCard.objects.get()
    assert (card.balance, card.member) == (Decimal("80.00"), shopper)
    assert card.code in response.content.decode()
    assert "no-store" in response.headers["Cache-Control"]
    lookup = counter.get(reverse("staff:counter_gift_card"), {"code": card.code})
    assert lookup.status_code == 200


def test_selling_refuses_a_bad_amount_or_unknown_member(counter):
    url = reverse("staff:counter_gift_card_sell")
    assert counter.post(url, {"amount": "0"}).status_code == 400
    refused = counter.post(url, {"amount": "10.00", "member": "NOBODY"})
    assert refused.status_code == 400 and "No member has this number" in refused.content.decode()
    assert not GiftCard.objects.exists()


def test_a_card_sold_with_a_design_wears_it_in_the_portal(counter, client, member):
    GiftCardDesign.objects.create(name="Old", active=False)
    plain = GiftCardDesign.objects.create(name="Plain", position=1)
    raya = GiftCardDesign.objects.create(
        name="Raya", merchant_name="Kedai Raya", background_color="#123456", position=2
    )
    url = reverse("staff:counter_gift_card_sell")
    field = counter.get(url).context["form"]["design"]
    # Active designs only, the first of them chosen unless the seller picks another.
    assert [d.name for d in field.field.queryset] == ["Plain", "Raya"]
    assert field.value() == plain.pk

    response = counter.post(
        url, {"amount": "30.00", "member": member.card_number, "design": raya.pk}
    )
    assert response.status_code == 200
    card = GiftCard.objects.get()
    assert card.design == raya

    client.force_login(member.user)
    portal = client.get(reverse("portal:gift_cards")).content.decode()
    assert "Kedai Raya" in portal and "--gift-bg: #123456" in portal


def test_a_card_may_be_sold_plain_and_a_hidden_design_is_refused(counter):
    hidden = GiftCardDesign.objects.create(name="Old", active=False)
    url = reverse("staff:counter_gift_card_sell")
    assert counter.post(url, {"amount": "30.00", "design": hidden.pk}).status_code == 400
    assert counter.post(url, {"amount": "30.00", "design": ""}).status_code == 200
    assert GiftCard.objects.get().design is None


LIMIT = "3/min"


@pytest.fixture
def three_failures_a_minute(settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "code_lookup": LIMIT,
        },
    }


def test_past_three_unknown_codes_the_desk_refuses_look_ups_with_a_friendly_error(
    counter, voucher, three_failures_a_minute
):
    lookup = reverse("staff:counter_voucher")
    for code in ("7KQ4-M2XH-9TPA", "7KQ4-M2XH-9TPB"):
        answer = counter.get(lookup, {"code": code})
        assert answer.status_code == 200 and "No such voucher." in answer.content.decode()
    # Known codes count nothing.
    assert voucher.code in counter.get(lookup, {"code": voucher.code}).content.decode()
    card = counter.get(reverse("staff:counter_gift_card"), {"code": "7KQ4-M2XH-9TPA-7KQ4"})
    assert "No such gift card." in card.content.decode()

    refused = counter.get(lookup, {"code": voucher.code})
    assert refused.status_code == 429
    assert "Too many unknown codes" in refused.context["form"].errors["code"][0]
    assert "Ready to use" not in refused.content.decode()
    card = counter.get(reverse("staff:counter_gift_card"), {"code": "7KQ4-M2XH-9TPA-7KQ4"})
    assert card.status_code == 429 and "Too many unknown codes" in card.content.decode()

    use = counter.post(reverse("staff:counter_voucher_use", args=[voucher.code]), follow=True)
    assert any("Too many unknown codes" in m for m in _messages(use))
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.ISSUED


def test_the_desk_and_the_api_share_the_counters_of_an_address(
    counter, voucher, three_failures_a_minute
):
    api = api_client_for(ApiScope.POS)
    for _ in range(3):
        assert api.get("/api/v1/vouchers/7KQ4-M2XH-9TPA").status_code == 404
    refused = counter.get(reverse("staff:counter_voucher"), {"code": voucher.code})
    assert refused.status_code == 429


def test_only_counter_staff_reach_the_desk(client, member):
    client.force_login(member.user)
    assert client.get(reverse("staff:counter_voucher")).status_code == 403
    assert client.get(reverse("staff:counter_gift_card_sell")).status_code == 403
