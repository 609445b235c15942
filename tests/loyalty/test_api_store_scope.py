"""The store scope over EVERY endpoint a `pos` key may call (API.md, Conventions).

`POS_ENDPOINTS` names each one with the case it is: `STORE_OWNED` endpoints
act on a store's own data (a sale is at a store, a purchase belongs to one),
so a key tied to another store is refused; `EVERY_STORE` endpoints act on
data that belongs to the member or the program, usable in every store
(members, the catalogue, redemptions, vouchers, gift cards: a charge or a
voucher use records the key's store, but a card is good in any store).
`test_every_pos_endpoint_has_a_scope_case` walks the URLconf, so an endpoint
added without a case here fails the suite.

Each endpoint is called by a key tied to the other store, a `pos` key
without a store, and an `admin` key tied to the other store (admin keys act
for every store)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from loyalty.actors import Actor
from loyalty.models import ApiScope
from loyalty.services import api_key_create
from purchases.models import Purchase
from rewards.gift_cards import gift_card_issue
from rewards.models import Voucher
from rewards.services import redemption_create
from tests.conftest import api_client_for
from tests.factories import StoreFactory
from tests.purchases.conftest import sale
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db

STORE_OWNED = "store_owned"
EVERY_STORE = "every_store"


@dataclass
class World:
    """Penang's data, reached from KLCC."""

    shopper: Any
    purchase: Purchase
    reward: Any
    redemption: Any
    voucher: Voucher
    card: Any


@dataclass(frozen=True)
class Endpoint:
    case: str
    call: Callable[[World], tuple[str, str, dict | None]]
    # The answer to a key tied to another store: its own refusal for
    # store-owned data, the success for data usable in every store.
    refused: int | None = None


def _joinable():
    """An opt-in challenge open to every member."""
    from tests.campaigns.challenge_helpers import make_challenge

    return make_challenge("purchase_count", "3")


def _sale_body(world: World, reference: str) -> dict:
    return sale(reference, ("TEA", 1, "10.00"), member=world.shopper, store="penang")


POS_ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("purchase_list", "POST"): Endpoint(
        STORE_OWNED, lambda w: ("post", "/api/v1/purchases", _sale_body(w, "S2")), 403
    ),
    ("purchase_preview", "POST"): Endpoint(
        STORE_OWNED, lambda w: ("post", "/api/v1/purchases/preview", _sale_body(w, "S2")), 403
    ),
    ("purchase_detail", "GET"): Endpoint(
        STORE_OWNED, lambda w: ("get", f"/api/v1/purchases/{w.purchase.pk}", None), 404
    ),
    ("purchase_returns", "POST"): Endpoint(
        STORE_OWNED,
        lambda w: (
            "post",
            f"/api/v1/purchases/{w.purchase.pk}/returns",
            {"reference": "RET1", "amount": "5.00"},
        ),
        404,
    ),
    ("member_list", "GET"): Endpoint(
        EVERY_STORE,
        lambda w: ("get", f"/api/v1/members?card_number={w.shopper.card_number}", None),
    ),
    ("member_list", "POST"): Endpoint(
        EVERY_STORE, lambda w: ("post", "/api/v1/members", {"email": "new@example.com"})
    ),
    ("member_detail", "GET"): Endpoint(
        EVERY_STORE, lambda w: ("get", f"/api/v1/members/{w.shopper.public_id}", None)
    ),
    ("member_ledger", "GET"): Endpoint(
        EVERY_STORE, lambda w: ("get", f"/api/v1/members/{w.shopper.public_id}/ledger", None)
    ),
    # A member's referrals are the member's, like the ledger: read from every store.
    ("member_referrals", "GET"): Endpoint(
        EVERY_STORE, lambda w: ("get", f"/api/v1/members/{w.shopper.public_id}/referrals", None)
    ),
    # A member's challenges and badges are the member's: joined and read from every store.
    ("member_challenges", "GET"): Endpoint(
        EVERY_STORE, lambda w: ("get", f"/api/v1/members/{w.shopper.public_id}/challenges", None)
    ),
    ("member_challenge_join", "POST"): Endpoint(
        EVERY_STORE,
        lambda w: (
            "post",
            f"/api/v1/members/{w.shopper.public_id}/challenges/{_joinable().pk}/join",
            {},
        ),
    ),
    ("member_badges", "GET"): Endpoint(
        EVERY_STORE, lambda w: ("get", f"/api/v1/members/{w.shopper.public_id}/badges", None)
    ),
    ("reward_list", "GET"): Endpoint(EVERY_STORE, lambda w: ("get", "/api/v1/rewards", None)),
    ("reward_detail", "GET"): Endpoint(
        EVERY_STORE, lambda w: ("get", f"/api/v1/rewards/{w.reward.pk}", None)
    ),
    ("member_redemptions", "POST"): Endpoint(
        EVERY_STORE,
        lambda w: (
            "post",
            f"/api/v1/members/{w.shopper.public_id}/redemptions",
            {"reward": w.reward.pk},
        ),
    ),
    ("redemption_cancel", "POST"): Endpoint(
        EVERY_STORE, lambda w: ("post", f"/api/v1/redemptions/{w.redemption.pk}/cancel", {})
    ),
    ("voucher_detail", "GET"): Endpoint(
        EVERY_STORE, lambda w: ("get", f"/api/v1/vouchers/{w.voucher.code}", None)
    ),
    ("voucher_use", "POST"): Endpoint(
        EVERY_STORE, lambda w: ("post", f"/api/v1/vouchers/{w.voucher.code}/use", {})
    ),
    ("gift_card_list", "POST"): Endpoint(
        EVERY_STORE, lambda w: ("post", "/api/v1/gift-cards", {"amount": "20.00"})
    ),
    ("gift_card_detail", "GET"): Endpoint(
        EVERY_STORE, lambda w: ("get", f"/api/v1/gift-cards/{w.card.code}", None)
    ),
    # A member's event is theirs in every store; the key's store is recorded on it.
    ("event_list", "POST"): Endpoint(
        EVERY_STORE,
        lambda w: ("post", "/api/v1/events", {"member_id": w.shopper.public_id, "name": "review"}),
    ),
    # Feedback about a purchase is about the store's own sale; feedback about
    # none (anonymous, or a member's) is taken everywhere (tests/analytics).
    ("feedback", "POST"): Endpoint(
        STORE_OWNED,
        lambda w: (
            "post",
            "/api/v1/feedback",
            {
                "member_id": w.shopper.public_id,
                "kind": "csat",
                "score": 4,
                "purchase_id": w.purchase.pk,
            },
        ),
        404,
    ),
    ("gift_card_charges", "POST"): Endpoint(
        EVERY_STORE,
        lambda w: (
            "post",
            f"/api/v1/gift-cards/{w.card.code}/charges",
            {"amount": "5.00", "reference": "P1"},
        ),
    ),
}


def _api_views() -> list[tuple[str, type]]:
    """(URL name, view class) of every DRF view under the `api` namespace."""
    found: list[tuple[str, type]] = []

    def walk(patterns: list, namespace: str | None) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace == "api":
                view_class = getattr(pattern.callback, "view_class", None)
                if view_class is not None:
                    found.append((pattern.name, view_class))

    walk(get_resolver().url_patterns, None)
    return found


def _pos_methods(view_class: type, pos_key: Any) -> list[str]:
    """The HTTP methods of `view_class` that a key with scope `pos` only may call."""
    factory = APIRequestFactory()
    allowed = []
    for method in ("get", "post", "put", "patch", "delete"):
        if not hasattr(view_class, method):
            continue
        request = Request(getattr(factory, method)("/"))
        request.user, request.auth = AnonymousUser(), pos_key
        view = view_class()
        if all(p().has_permission(request, view) for p in view_class.permission_classes):
            allowed.append(method.upper())
    return allowed


def test_every_pos_endpoint_has_a_scope_case(db):
    pos_key = api_key_create(actor=Actor.system(), name="walk", scopes=[ApiScope.POS]).api_key
    walked = {
        (name, method)
        for name, view_class in _api_views()
        for method in _pos_methods(view_class, pos_key)
    }
    assert walked == set(POS_ENDPOINTS), (
        "Give each pos endpoint its store-scope case in POS_ENDPOINTS: "
        f"missing {sorted(walked - set(POS_ENDPOINTS))}, gone {sorted(set(POS_ENDPOINTS) - walked)}"
    )


@pytest.fixture
def world(program, shopper) -> World:
    penang = StoreFactory(code="penang", name="Penang")
    penang_till = api_client_for(ApiScope.POS, store=penang)
    bought = penang_till.post(
        "/api/v1/purchases", sale("P1", ("TEA", 1, "100.00"), member=shopper), format="json"
    )
    assert bought.status_code == 201, bought.content
    fund(shopper, 5000)
    reward = make_reward()
    redemption = redemption_create(member=shopper, reward=reward, actor=Actor.system())
    return World(
        shopper=shopper,
        purchase=Purchase.objects.get(pk=bought.json()["id"]),
        reward=reward,
        redemption=redemption,
        voucher=redemption.vouchers.get(),
        card=gift_card_issue(actor=Actor.system(), amount=Decimal("50.00")),
    )


KEYS = {
    "klcc_till": lambda program: api_client_for(ApiScope.POS, store=program.main_store),
    "till_without_store": lambda program: api_client_for(ApiScope.POS),
    "klcc_admin": lambda program: api_client_for(ApiScope.ADMIN, store=program.main_store),
}


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("endpoint", POS_ENDPOINTS, ids="{0[0]} {0[1]}".format)
def test_each_pos_endpoint_keeps_a_store_till_to_its_store(endpoint, key, world, program):
    """A till tied to KLCC is refused Penang's sales and purchases; a till
    without a store and an admin key act for every store; data usable in
    every store answers every key."""
    client = KEYS[key](program)
    case = POS_ENDPOINTS[endpoint]
    method, path, body = case.call(world)
    response = getattr(client, method)(path, body, format="json")
    if case.case == STORE_OWNED and key == "klcc_till":
        assert response.status_code == case.refused, response.content
        expected = "permission_denied" if case.refused == 403 else "not_found"
        assert response.json()["code"] == expected
    else:
        assert response.status_code in (200, 201), response.content


def test_a_signed_in_session_is_not_a_key(client, manager, world):
    """The API answers API keys only (docs/integration.md): a manager's session
    reads no purchase, of any store."""
    client.force_login(manager)
    response = client.get(f"/api/v1/purchases/{world.purchase.pk}")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
