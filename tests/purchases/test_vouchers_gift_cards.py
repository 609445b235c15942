"""Vouchers and gift cards inside POST /purchases: one bad voucher or card
refuses the whole sale; discounts lower the points; replays use and charge once;
returns put gift-card money back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.models import ApiScope
from members.models import Member, PointsAccount, PointsEntry
from purchases.models import Purchase, PurchaseGiftCard
from purchases.returns import ReturnItem, purchase_return
from rewards.gift_cards import gift_card_issue
from rewards.models import GiftCard, GiftCardEntry, RewardKind, Voucher, VoucherStatus
from rewards.services import redemption_create
from rewards.voucher_codes import new_gift_card_code, new_voucher_code
from tests.conftest import api_client_for
from tests.factories import MemberFactory, StoreFactory
from tests.purchases.conftest import sale
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db


def _voucher(member: Member, **reward_fields: object) -> Voucher:
    fund(member, 500)
    reward = make_reward(**reward_fields)
    redemption = redemption_create(member=member, reward=reward, actor=Actor.system())
    return redemption.vouchers.get()


def _card(amount: str) -> GiftCard:
    return gift_card_issue(actor=Actor.system(), amount=Decimal(amount))


def _balance(member: Member) -> int:
    return PointsAccount.objects.get(member=member).balance


def _refused_writes_nothing(pos_api, shopper: Member, body: dict, code: str) -> None:
    balance = _balance(shopper)
    entries = PointsEntry.objects.count()
    response = pos_api.post("/api/v1/purchases", body, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["code"] == code
    assert not Purchase.objects.exists()
    assert _balance(shopper) == balance and PointsEntry.objects.count() == entries


def test_another_members_voucher_refuses_the_sale(pos_api, shopper):
    other = MemberFactory()
    voucher = _voucher(other)
    body = sale("R1", ("TEA", 1, "50.00"), member=shopper, vouchers=[voucher.code])
    _refused_writes_nothing(pos_api, shopper, body, "voucher_not_usable")
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.ISSUED


def test_an_expired_voucher_refuses_the_sale(pos_api, shopper):
    voucher = _voucher(shopper)
    Voucher.objects.filter(pk=voucher.pk).update(expires_at=timezone.now() - timedelta(days=1))
    body = sale("R1", ("TEA", 1, "50.00"), member=shopper, vouchers=[voucher.code])
    _refused_writes_nothing(pos_api, shopper, body, "voucher_not_usable")
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.ISSUED and voucher.used_at is None


def test_a_used_voucher_refuses_the_sale_and_the_cards_stay_whole(pos_api, shopper):
    voucher = _voucher(shopper)
    card = _card("30.00")
    first = sale("R1", ("TEA", 1, "50.00"), member=shopper, vouchers=[voucher.code])
    assert pos_api.post("/api/v1/purchases", first, format="json").status_code == 201
    Purchase.objects.all().delete()  # only to check the second sale writes nothing
    body = sale(
        "R2",
        ("TEA", 1, "50.00"),
        member=shopper,
        vouchers=[voucher.code],
        gift_cards=[{"code": card.code, "amount": "10.00"}],
    )
    _refused_writes_nothing(pos_api, shopper, body, "voucher_not_usable")
    card.refresh_from_db()
    assert card.balance == Decimal("30.00") and card.entries.count() == 1


def test_a_fixed_voucher_lowers_the_points_and_is_used_with_the_receipt(pos_api, shopper):
    voucher = _voucher(shopper)  # RM10 off
    before = _balance(shopper)
    code = voucher.code.replace("-", "").lower()
    body = sale("R1", ("TEA", 2, "25.00"), member=shopper, vouchers=[code])
    response = pos_api.post("/api/v1/purchases", body, format="json")
    assert response.status_code == 201, response.content
    receipt = response.json()
    assert (receipt["total"], receipt["eligible_amount"], receipt["points_earned"]) == (
        "40.00",
        "40.00",
        40,
    )
    assert receipt["vouchers"] == [
        {"code": voucher.code, "kind": "discount_fixed", "discount": "10.00"}
    ]
    assert _balance(shopper) == before + 40
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.USED
    assert (voucher.used_reference, voucher.used_purchase_id, voucher.used_amount) == (
        "R1",
        receipt["id"],
        Decimal("10.00"),
    )


def test_a_percent_voucher_lowers_the_points(pos_api, shopper):
    voucher = _voucher(shopper, kind=RewardKind.DISCOUNT_PERCENT, value="20.00", name="20%")
    body = sale("R1", ("TEA", 1, "100.00"), member=shopper, vouchers=[voucher.code])
    receipt = pos_api.post("/api/v1/purchases", body, format="json").json()
    assert (receipt["total"], receipt["points_earned"]) == ("80.00", 80)
    assert Purchase.objects.get().discount_total == Decimal("20.00")


def test_preview_prices_the_voucher_without_using_it(pos_api, shopper):
    voucher = _voucher(shopper)
    body = sale("R1", ("TEA", 1, "30.00"), member=shopper, vouchers=[voucher.code])
    response = pos_api.post("/api/v1/purchases/preview", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["points_earned"] == 20
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.ISSUED and not Purchase.objects.exists()


def test_two_cards_pay_a_sale_and_a_replay_charges_once(pos_api, shopper):
    first, second = _card("100.00"), _card("100.00")
    body = sale(
        "R1",
        ("TV", 1, "250.00"),
        member=shopper,
        gift_cards=[
            {"code": first.code, "amount": "100.00"},
            {"code": second.code.lower(), "amount": "100.00"},
        ],
    )
    response = pos_api.post("/api/v1/purchases", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["gift_cards"] == [
        {"code": first.code, "charged": "100.00", "balance": "0.00"},
        {"code": second.code, "charged": "100.00", "balance": "0.00"},
    ]
    again = pos_api.post("/api/v1/purchases", body, format="json")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == response.json()
    assert GiftCardEntry.objects.filter(kind="charge").count() == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.balance == second.balance == Decimal("0.00")
    assert Purchase.objects.count() == 1


def test_a_card_short_of_the_amount_refuses_the_sale(pos_api, shopper):
    voucher = _voucher(shopper)
    full, short = _card("100.00"), _card("20.00")
    body = sale(
        "R1",
        ("TV", 1, "250.00"),
        member=shopper,
        vouchers=[voucher.code],
        gift_cards=[
            {"code": full.code, "amount": "100.00"},
            {"code": short.code, "amount": "50.00"},
        ],
    )
    _refused_writes_nothing(pos_api, shopper, body, "gift_card_insufficient_balance")
    full.refresh_from_db()
    voucher.refresh_from_db()
    assert full.balance == Decimal("100.00") and voucher.status == VoucherStatus.ISSUED


def test_cards_cannot_pay_more_than_the_sale(pos_api, shopper):
    card = _card("100.00")
    body = sale("R1", ("TEA", 1, "40.00"), gift_cards=[{"code": card.code, "amount": "50.00"}])
    response = pos_api.post("/api/v1/purchases", body, format="json")
    assert response.status_code == 400 and "gift_cards" in response.json()["fields"]
    assert not Purchase.objects.exists()


def test_returns_put_the_card_money_back_in_proportion(pos_api, shopper):
    card = _card("100.00")
    body = sale(
        "R1",
        ("SHOE", 2, "50.00"),
        member=shopper,
        gift_cards=[{"code": card.code, "amount": "60.00"}],
    )
    bought = pos_api.post("/api/v1/purchases", body, format="json").json()
    url = f"/api/v1/purchases/{bought['id']}/returns"
    half = pos_api.post(
        url, {"reference": "RET1", "items": [{"sku": "SHOE", "quantity": 1}]}, format="json"
    )
    assert half.status_code == 201, half.content
    assert half.json()["gift_cards_refunded"] == [
        {"code": card.code, "amount": "30.00", "balance": "70.00"}
    ]
    rest = pos_api.post(url, {"reference": "RET2", "amount": "50.00"}, format="json").json()
    assert rest["gift_cards_refunded"] == [
        {"code": card.code, "amount": "30.00", "balance": "100.00"}
    ]
    card.refresh_from_db()
    assert card.balance == Decimal("100.00")


def test_an_unknown_gift_card_is_400_invalid_naming_the_gift_cards_field(pos_api, shopper):
    body = sale(
        "R1",
        ("TEA", 1, "40.00"),
        member=shopper,
        gift_cards=[{"code": new_gift_card_code(), "amount": "10.00"}],
    )
    for url in ("/api/v1/purchases", "/api/v1/purchases/preview"):
        response = pos_api.post(url, body, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "invalid" and "gift_cards" in response.json()["fields"]
    assert not Purchase.objects.exists()


def test_a_card_short_of_the_amount_does_not_tell_its_balance(pos_api, shopper):
    card = _card("23.45")
    body = sale("R1", ("TEA", 1, "40.00"), gift_cards=[{"code": card.code, "amount": "30.00"}])
    response = pos_api.post("/api/v1/purchases", body, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "gift_card_insufficient_balance"
    assert "23.45" not in response.content.decode()


def test_an_unknown_voucher_and_another_members_read_the_same(pos_api, shopper):
    other = MemberFactory()
    theirs = _voucher(other)
    unknown = new_voucher_code()
    details = []
    for code in (theirs.code, unknown):
        body = sale("R1", ("TEA", 1, "50.00"), member=shopper, vouchers=[code])
        response = pos_api.post("/api/v1/purchases", body, format="json")
        assert response.status_code == 422 and response.json()["code"] == "voucher_not_usable"
        details.append(response.json()["detail"].replace(code, "<code>"))
    assert details[0] == details[1] == "The voucher <code> cannot be used on this sale."


def test_store_b_sale_pays_with_a_card_store_a_charged_under_the_same_receipt_number(shopper):
    """Inside a sale a charge belongs to the sale's store: store A's charge
    "0001" does not refuse store B's sale "0001" (it was a 409), and each sale
    keeps its charge as a PurchaseGiftCard row."""
    card = _card("100.00")
    till_a = api_client_for(ApiScope.POS, store=StoreFactory(code="a"))
    till_b = api_client_for(ApiScope.POS, store=StoreFactory(code="b"))
    charged = till_a.post(
        f"/api/v1/gift-cards/{card.code}/charges",
        {"amount": "10.00", "reference": "0001"},
        format="json",
    )
    assert charged.status_code == 201
    paying = [{"code": card.code, "amount": "20.00"}]
    in_a = till_a.post(
        "/api/v1/purchases", sale("0002", ("TEA", 1, "40.00"), gift_cards=paying), format="json"
    )
    in_b = till_b.post(
        "/api/v1/purchases", sale("0001", ("TEA", 1, "40.00"), gift_cards=paying), format="json"
    )

    assert in_a.status_code == in_b.status_code == 201, in_b.content
    assert in_b.json()["gift_cards"] == [
        {"code": card.code, "charged": "20.00", "balance": "50.00"}
    ]
    card.refresh_from_db()
    assert card.balance == Decimal("50.00")
    links = PurchaseGiftCard.objects.order_by("pk")
    assert [(link.purchase.store.code, link.amount, link.charge.store.code) for link in links] == [
        ("a", Decimal("20.00"), "a"),
        ("b", Decimal("20.00"), "b"),
    ]
    assert all(link.charge.gift_card_id == card.pk for link in links)


def test_a_sale_whose_store_charged_the_card_under_its_receipt_outside_it_is_refused(shopper):
    """The same store's own charge under the same receipt number is not the
    sale's: the sale does not hide behind it (409) and writes nothing."""
    card = _card("100.00")
    till = api_client_for(ApiScope.POS, store=StoreFactory(code="a"))
    till.post(
        f"/api/v1/gift-cards/{card.code}/charges",
        {"amount": "20.00", "reference": "0001"},
        format="json",
    )
    body = sale("0001", ("TEA", 1, "40.00"), gift_cards=[{"code": card.code, "amount": "20.00"}])
    refused = till.post("/api/v1/purchases", body, format="json")
    assert refused.status_code == 409, refused.content
    assert not Purchase.objects.exists() and not PurchaseGiftCard.objects.exists()


def test_a_return_refunds_an_expired_card_at_the_till_and_says_so(pos_api, shopper):
    """An expired card takes no refund (the money would be stranded): the
    return names its share in `refund_to_till`, and the usable card is refunded."""
    now = timezone.now()
    usable = _card("100.00")
    expiring = gift_card_issue(
        actor=Actor.system(), amount=Decimal("100.00"), expires_at=now + timedelta(days=1)
    )
    body = sale(
        "R1",
        ("SHOE", 2, "50.00"),
        member=shopper,
        gift_cards=[
            {"code": usable.code, "amount": "40.00"},
            {"code": expiring.code, "amount": "30.00"},
        ],
    )
    bought = pos_api.post("/api/v1/purchases", body, format="json").json()
    purchase = Purchase.objects.get(pk=bought["id"])

    first = purchase_return(
        purchase=purchase,
        reference="RET1",
        items=[ReturnItem("SHOE", 1)],
        actor=Actor.system(),
        now=now + timedelta(days=2),
    ).receipt
    assert first["gift_cards_refunded"] == [
        {"code": usable.code, "amount": "20.00", "balance": "80.00"}
    ]
    assert first["refund_to_till"] == [
        {"code": expiring.code, "amount": "15.00", "reason": "card_expired"}
    ]
    rest = purchase_return(
        purchase=purchase,
        reference="RET2",
        amount=Decimal("50.00"),
        actor=Actor.system(),
        now=now + timedelta(days=2),
    ).receipt
    assert rest["gift_cards_refunded"] == [
        {"code": usable.code, "amount": "20.00", "balance": "100.00"}
    ]
    assert rest["refund_to_till"] == [
        {"code": expiring.code, "amount": "15.00", "reason": "card_expired"}
    ]
    expiring.refresh_from_db()
    assert expiring.balance == Decimal("70.00")
    assert not expiring.entries.filter(kind="refund").exists()
    assert list(purchase.gift_card_charges.values_list("refunded", flat=True)) == [
        Decimal("40.00"),
        Decimal("30.00"),
    ]


def test_return_shares_floor_to_the_cent_and_the_last_return_brings_back_the_rest(pos_api, shopper):
    """Three returns of a third each: 3.33, 3.33, then 3.34 back on the card."""
    card = _card("100.00")
    body = sale("R1", ("TEA", 3, "10.00"), gift_cards=[{"code": card.code, "amount": "10.00"}])
    bought = pos_api.post("/api/v1/purchases", body, format="json").json()
    url = f"/api/v1/purchases/{bought['id']}/returns"
    amounts = [
        pos_api.post(url, {"reference": f"RET{i}", "amount": "10.00"}, format="json").json()[
            "gift_cards_refunded"
        ][0]["amount"]
        for i in range(3)
    ]
    assert amounts == ["3.33", "3.33", "3.34"]
    card.refresh_from_db()
    assert card.balance == Decimal("100.00")
