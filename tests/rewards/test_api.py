"""Rewards, redemptions, vouchers and gift cards through the API (API.md)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.models import AuditEvent
from members.models import PointsAccount
from members.segments import segment_create
from rewards.gift_cards import gift_card_issue
from rewards.models import GiftCard, Reward
from rewards.services import redemption_create
from tests.rewards.conftest import make_reward

pytestmark = pytest.mark.django_db


def redeem(api, member, reward, headers=None, **extra):
    return api.post(
        f"/api/v1/members/{member.public_id}/redemptions",
        {"reward": reward.pk, **extra},
        format="json",
        headers=headers,
    )


def test_admin_keys_create_and_change_rewards_and_pos_keys_only_read_them(
    admin_api, pos_api, tiers
):
    body = {
        "name": "Free coffee",
        "kind": "free_product",
        "points_cost": 300,
        "sku": "COFFEE-1",
        "stock": 20,
        "tiers": ["silver", "gold"],
    }
    assert pos_api.post("/api/v1/rewards", body, format="json").status_code == 403

    created = admin_api.post("/api/v1/rewards", body, format="json")
    assert created.status_code == 201, created.content
    reward = created.json()
    assert reward["tiers"] == ["silver", "gold"] and reward["stock"] == 20
    assert reward["value"] is None and reward["active"] is True

    changed = admin_api.patch(
        f"/api/v1/rewards/{reward['id']}", {"points_cost": 250, "tiers": []}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["points_cost"] == 250 and changed.json()["tiers"] == []
    assert pos_api.patch(f"/api/v1/rewards/{reward['id']}", {"stock": 1}).status_code == 403

    listed = pos_api.get("/api/v1/rewards").json()
    assert listed["count"] == 1 and listed["results"][0]["sku"] == "COFFEE-1"
    assert pos_api.get(f"/api/v1/rewards/{reward['id']}").json()["points_cost"] == 250
    assert AuditEvent.objects.filter(action__in=["reward.create", "reward.update"]).count() == 2


def test_invalid_rewards_are_400_with_fields(admin_api):
    response = admin_api.post(
        "/api/v1/rewards",
        {"name": "Half off", "kind": "discount_percent", "points_cost": 100, "value": "150.00"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "value" in response.json()["fields"]
    assert not Reward.objects.exists()


def test_redeeming_returns_the_vouchers_and_the_new_balance(pos_api, rich_shopper):
    reward = make_reward(voucher_valid_days=7)
    response = redeem(pos_api, rich_shopper, reward, quantity=2)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["points"] == 1000 and body["balance"] == 1000 and body["reward"] == reward.pk
    assert len(body["vouchers"]) == 2
    voucher = body["vouchers"][0]
    assert voucher["status"] == "issued" and voucher["value"] == "10.00"
    assert voucher["member_id"] == rich_shopper.public_id and voucher["expires_at"]


def test_redemption_errors_carry_the_codes_of_the_contract(pos_api, rich_shopper, tiers):
    limited = make_reward(per_member_limit=1, points_cost=100)
    assert redeem(pos_api, rich_shopper, limited).status_code == 201
    second = redeem(pos_api, rich_shopper, limited)
    assert (second.status_code, second.json()["code"]) == (422, "limit_reached")

    gold = make_reward(tiers=[tiers["gold"]])
    refused = redeem(pos_api, rich_shopper, gold)
    assert (refused.status_code, refused.json()["code"]) == (422, "reward_unavailable")

    empty = make_reward(stock=0)
    refused = redeem(pos_api, rich_shopper, empty)
    assert (refused.status_code, refused.json()["code"]) == (422, "reward_unavailable")

    dear = make_reward(points_cost=5000)
    refused = redeem(pos_api, rich_shopper, dear)
    assert (refused.status_code, refused.json()["code"]) == (422, "insufficient_points")
    assert PointsAccount.objects.get(member=rich_shopper).balance == 1900

    unknown = pos_api.post(
        "/api/v1/members/M-NOPE/redemptions", {"reward": limited.pk}, format="json"
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize("window", ["before", "after"])
def test_a_reward_outside_its_window_is_422_reward_unavailable(pos_api, rich_shopper, window):
    now = timezone.now()
    if window == "before":
        reward = make_reward(available_from=now + timedelta(days=1))
    else:
        reward = make_reward(available_until=now - timedelta(days=1))
    refused = redeem(pos_api, rich_shopper, reward)
    assert (refused.status_code, refused.json()["code"]) == (422, "reward_unavailable")
    assert PointsAccount.objects.get(member=rich_shopper).balance == 2000
    assert not reward.redemptions.exists()


def test_a_patch_that_does_not_name_the_stock_never_writes_it(admin_api, rich_shopper):
    reward = make_reward(stock=5, points_cost=100)
    redemption_create(member=rich_shopper, reward=reward, quantity=2, actor=Actor.system())
    with CaptureQueriesContext(connection) as queries:
        changed = admin_api.patch(f"/api/v1/rewards/{reward.pk}", {"name": "New"}, format="json")
    assert changed.status_code == 200 and changed.json()["stock"] == 3
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "rewards_reward"')]
    assert len(updates) == 1 and '"stock"' not in updates[0].split("WHERE")[0]


def test_a_patch_naming_the_stock_sets_it_as_given(admin_api, rich_shopper):
    reward = make_reward(stock=5, points_cost=100)
    redemption_create(member=rich_shopper, reward=reward, quantity=2, actor=Actor.system())
    changed = admin_api.patch(f"/api/v1/rewards/{reward.pk}", {"stock": 10}, format="json")
    assert changed.status_code == 200 and changed.json()["stock"] == 10
    event = AuditEvent.objects.get(action="reward.update")
    assert (event.before["stock"], event.after["stock"]) == (3, 10)


def test_a_gift_card_past_its_expiry_reads_expired_and_a_void_one_void(pos_api):
    card = gift_card_issue(actor=Actor.system(), amount=Decimal("20.00"))
    GiftCard.objects.filter(pk=card.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert pos_api.get(f"/api/v1/gift-cards/{card.code}").json()["status"] == "expired"
    GiftCard.objects.filter(pk=card.pk).update(status="void")
    assert pos_api.get(f"/api/v1/gift-cards/{card.code}").json()["status"] == "void"


def test_a_redemption_with_an_idempotency_key_is_made_once(pos_api, rich_shopper):
    reward = make_reward()
    first = redeem(pos_api, rich_shopper, reward, headers={"Idempotency-Key": "k-1"})
    again = redeem(pos_api, rich_shopper, reward, headers={"Idempotency-Key": "k-1"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert PointsAccount.objects.get(member=rich_shopper).balance == 1500


def test_cancel_refunds_and_a_used_voucher_blocks_the_cancel(pos_api, rich_shopper):
    reward = make_reward(stock=4)
    first = redeem(pos_api, rich_shopper, reward).json()
    cancelled = pos_api.post(f"/api/v1/redemptions/{first['id']}/cancel", {}, format="json")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["balance"] == 2000
    assert cancelled.json()["vouchers"][0]["status"] == "cancelled"

    second = redeem(pos_api, rich_shopper, reward).json()
    code = second["vouchers"][0]["code"]
    assert pos_api.post(f"/api/v1/vouchers/{code}/use", {}, format="json").status_code == 200
    refused = pos_api.post(f"/api/v1/redemptions/{second['id']}/cancel", {}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (422, "voucher_not_usable")
    assert pos_api.post("/api/v1/redemptions/999999/cancel", {}, format="json").status_code == 404


def test_a_voucher_is_looked_up_by_code_and_used_once(pos_api, rich_shopper):
    reward = make_reward(sku="")
    code = redeem(pos_api, rich_shopper, reward).json()["vouchers"][0]["code"]
    typed = code.lower().replace("-", "")

    looked_up = pos_api.get(f"/api/v1/vouchers/{typed}")
    assert looked_up.status_code == 200
    assert looked_up.json()["code"] == code and looked_up.json()["kind"] == "discount_fixed"
    assert looked_up.json()["reward"] == reward.pk

    used = pos_api.post(
        f"/api/v1/vouchers/{typed}/use", {"purchase_reference": "R-9"}, format="json"
    )
    assert used.status_code == 200 and used.json()["status"] == "used"
    again = pos_api.post(f"/api/v1/vouchers/{code}/use", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (422, "voucher_not_usable")
    assert pos_api.get("/api/v1/vouchers/0000-0000-0000").status_code == 404


def test_gift_cards_are_sold_read_and_charged(pos_api, shopper):
    sold = pos_api.post(
        "/api/v1/gift-cards", {"amount": "100.00", "member_id": shopper.public_id}, format="json"
    )
    assert sold.status_code == 201, sold.content
    code = sold.json()["code"]
    assert sold.json()["balance"] == "100.00"

    card = pos_api.get(f"/api/v1/gift-cards/{code}").json()
    assert card["initial_amount"] == "100.00" and card["member_id"] == shopper.public_id
    assert card["status"] == "active"

    url = f"/api/v1/gift-cards/{code}/charges"
    charged = pos_api.post(url, {"amount": "5.75", "reference": "R1"}, format="json")
    assert charged.status_code == 201, charged.content
    assert charged.json()["charged"] == "5.75" and charged.json()["balance"] == "94.25"

    over = pos_api.post(url, {"amount": "115.00", "reference": "R2"}, format="json")
    assert (over.status_code, over.json()["code"]) == (422, "gift_card_insufficient_balance")
    partial = pos_api.post(
        url, {"amount": "115.00", "reference": "R2", "allow_partial": True}, format="json"
    )
    assert partial.json()["charged"] == "94.25" and partial.json()["balance"] == "0.00"

    bad = pos_api.post(url, {"amount": "-1.00", "reference": "R3"}, format="json")
    assert bad.status_code == 400 and "amount" in bad.json()["fields"]
    assert pos_api.get("/api/v1/gift-cards/0000-0000-0000-0000").status_code == 404


def test_code_lookups_are_rate_limited_per_key_and_per_address(settings, pos_api, admin_api):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "code_lookup": "3/min",
        },
    }
    statuses = [pos_api.get("/api/v1/vouchers/0000-0000-0000").status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    limited = pos_api.get("/api/v1/gift-cards/0000-0000-0000-0000")
    assert limited.json()["code"] == "rate_limited" and "Retry-After" in limited.headers

    # Another key from the same address is limited too; other endpoints are not.
    assert admin_api.get("/api/v1/vouchers/0000-0000-0000").status_code == 429
    assert pos_api.get("/api/v1/rewards").status_code == 200


def test_rewards_carry_every_field_of_the_contract_and_segment_is_a_segment_id(admin_api):
    reward = make_reward(name="Free coffee", points_cost=300)
    body = admin_api.get(f"/api/v1/rewards/{reward.pk}").json()
    contract = {
        "id", "name", "description", "kind", "points_cost", "value", "sku", "stock",
        "per_member_limit", "tiers", "segment", "available_from", "available_until",
        "voucher_valid_days", "category", "active",
    }  # fmt: skip
    assert contract <= set(body) and body["segment"] is None

    refused = admin_api.patch(f"/api/v1/rewards/{reward.pk}", {"segment": 999}, format="json")
    assert refused.status_code == 400 and "segment" in refused.json()["fields"]
    segment = segment_create(
        actor=Actor.system(),
        name="Consenting",
        rules={"all": [{"field": "marketing_consent", "op": "eq", "value": True}]},
    )
    accepted = admin_api.patch(
        f"/api/v1/rewards/{reward.pk}", {"segment": segment.pk}, format="json"
    )
    assert accepted.status_code == 200 and accepted.json()["segment"] == segment.pk
    cleared = admin_api.patch(f"/api/v1/rewards/{reward.pk}", {"segment": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["segment"] is None


def test_two_stores_charging_one_card_with_the_same_receipt_number_both_charge_it(program):
    """A charge belongs to its store: store B's receipt "0001" is not store A's."""
    from loyalty.models import ApiScope
    from rewards.models import GiftCardEntry
    from tests.conftest import api_client_for
    from tests.factories import StoreFactory

    card = gift_card_issue(actor=Actor.system(), amount=Decimal("100.00"))
    url = f"/api/v1/gift-cards/{card.code}/charges"
    till_a = api_client_for(ApiScope.POS, store=StoreFactory(code="a"))
    till_b = api_client_for(ApiScope.POS, store=StoreFactory(code="b"))
    body = {"amount": "30.00", "reference": "0001"}

    first = till_a.post(url, body, format="json")
    second = till_b.post(url, body, format="json")

    assert first.status_code == second.status_code == 201, second.content
    assert first.json()["replayed"] is False and second.json()["replayed"] is False
    assert second.json()["balance"] == "40.00"
    again = till_b.post(url, body, format="json")
    assert again.json()["replayed"] is True and again.json()["balance"] == "40.00"
    charges = GiftCardEntry.objects.filter(gift_card=card, kind="charge")
    assert sorted(charges.values_list("store__code", flat=True)) == ["a", "b"]


def test_a_charge_by_a_key_without_a_store_is_made_at_the_main_store(program, pos_api):
    """No charge escapes the (card, store, reference) index with a NULL store."""
    from rewards.models import GiftCardEntry

    card = gift_card_issue(actor=Actor.system(), amount=Decimal("100.00"))
    url = f"/api/v1/gift-cards/{card.code}/charges"
    pos_api.post(url, {"amount": "30.00", "reference": "0001"}, format="json")
    again = pos_api.post(url, {"amount": "30.00", "reference": "0001"}, format="json")

    assert again.json()["replayed"] is True and again.json()["balance"] == "70.00"
    charge = GiftCardEntry.objects.get(gift_card=card, kind="charge")
    assert charge.store == program.main_store
