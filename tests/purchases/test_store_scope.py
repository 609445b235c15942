"""Tills kept to their store (API.md, Conventions): a `pos` key tied to a store
sells at that store only and reads and returns only its store's purchases; a
`pos` key without a store, and an `admin` key, act for every store."""

from __future__ import annotations

import pytest

from loyalty.models import ApiScope
from purchases.errors import PurchaseNotFound
from purchases.models import Purchase, Return
from purchases.selectors import purchase_get
from tests.conftest import api_client_for
from tests.factories import StoreFactory
from tests.purchases.conftest import sale

pytestmark = pytest.mark.django_db


@pytest.fixture
def stores(program):
    return {"klcc": program.main_store, "penang": StoreFactory(code="penang", name="Penang")}


@pytest.fixture
def klcc_till(stores):
    return api_client_for(ApiScope.POS, store=stores["klcc"])


@pytest.fixture
def penang_till(stores):
    return api_client_for(ApiScope.POS, store=stores["penang"])


@pytest.fixture
def penang_sale(penang_till, shopper) -> dict:
    response = penang_till.post(
        "/api/v1/purchases", sale("P1", ("TEA", 1, "100.00"), member=shopper), format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def _return(client, purchase_id: int):
    return client.post(
        f"/api/v1/purchases/{purchase_id}/returns",
        {"reference": "RET1", "amount": "10.00"},
        format="json",
    )


@pytest.mark.parametrize("path", ["/api/v1/purchases", "/api/v1/purchases/preview"])
def test_a_store_till_naming_another_store_is_refused(path, klcc_till, shopper):
    body = sale("K1", ("TEA", 1, "10.00"), member=shopper, store="penang")
    response = klcc_till.post(path, body, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"
    assert not Purchase.objects.exists()


def test_a_store_till_naming_an_unknown_store_is_refused_too(klcc_till, shopper):
    """Same answer as for a real store: a till cannot probe store codes."""
    body = sale("K1", ("TEA", 1, "10.00"), member=shopper, store="nowhere")
    assert klcc_till.post("/api/v1/purchases", body, format="json").status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/purchases", "/api/v1/purchases/preview"])
def test_a_store_till_may_name_its_own_store(path, klcc_till, shopper):
    body = sale("K1", ("TEA", 1, "10.00"), member=shopper, store="klcc")
    response = klcc_till.post(path, body, format="json")
    assert response.status_code in (200, 201), response.content
    assert response.json()["store"] == "klcc"


def test_a_store_till_sells_at_its_store_by_default(penang_sale):
    assert penang_sale["store"] == "penang"
    assert Purchase.objects.get().store.code == "penang"


def test_a_store_till_cannot_read_another_stores_purchase(klcc_till, penang_sale):
    response = klcc_till.get(f"/api/v1/purchases/{penang_sale['id']}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_store_till_cannot_return_another_stores_purchase(klcc_till, penang_sale):
    response = klcc_till.post(
        f"/api/v1/purchases/{penang_sale['id']}/returns",
        {"reference": "RET1", "amount": "10.00"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Return.objects.exists()


def test_a_store_till_reads_and_returns_its_own_purchase(penang_till, penang_sale):
    url = f"/api/v1/purchases/{penang_sale['id']}"
    assert penang_till.get(url).json()["reference"] == "P1"
    response = _return(penang_till, penang_sale["id"])
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("scopes", [[ApiScope.POS], [ApiScope.ADMIN]])
def test_a_key_without_store_acts_for_every_store(scopes, stores, penang_sale, shopper):
    client = api_client_for(*scopes)
    url = f"/api/v1/purchases/{penang_sale['id']}"
    assert client.get(url).status_code == 200
    assert _return(client, penang_sale["id"]).status_code == 201
    body = sale("X1", ("TEA", 1, "10.00"), member=shopper, store="penang")
    assert client.post("/api/v1/purchases", body, format="json").json()["store"] == "penang"


def test_an_admin_key_tied_to_a_store_acts_for_every_store(stores, penang_sale, shopper):
    """Its store is only the default of its sales."""
    client = api_client_for(ApiScope.ADMIN, ApiScope.POS, store=stores["klcc"])
    url = f"/api/v1/purchases/{penang_sale['id']}"
    assert client.get(url).status_code == 200
    assert _return(client, penang_sale["id"]).status_code == 201
    body = sale("X1", ("TEA", 1, "10.00"), member=shopper, store="penang")
    assert client.post("/api/v1/purchases", body, format="json").json()["store"] == "penang"
    body = sale("X2", ("TEA", 1, "10.00"), member=shopper)
    assert client.post("/api/v1/purchases", body, format="json").json()["store"] == "klcc"


def test_purchase_get_finds_only_the_given_stores_purchase(stores, penang_sale):
    assert purchase_get(pk=penang_sale["id"], store=None).store == stores["penang"]
    assert purchase_get(pk=penang_sale["id"], store=stores["penang"]).pk == penang_sale["id"]
    with pytest.raises(PurchaseNotFound):
        purchase_get(pk=penang_sale["id"], store=stores["klcc"])
