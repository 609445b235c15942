"""Text no column can store and JSON no field can use are a 400 on the field,
never a 500 (issue 8): NUL bytes and lone surrogates in bodies, paths, query
strings and forms; non-finite numbers; JSON nested too deep."""

from __future__ import annotations

import pytest

from tests.loyalty.test_bad_input import assert_invalid
from tests.purchases.conftest import sale

pytestmark = pytest.mark.django_db


def test_an_id_of_1e309_is_a_400(pos_api, shopper):
    response = pos_api.post(
        f"/api/v1/members/{shopper.public_id}/redemptions",
        b'{"reward": 1e309}',
        content_type="application/json",
    )
    assert_invalid(response, "reward")


def test_nan_where_a_number_is_expected_is_a_400(pos_api, shopper):
    response = pos_api.post(
        "/api/v1/purchases",
        b'{"reference": "R1", "items": [{"sku": "A", "quantity": NaN, "unit_price": "1"}]}',
        content_type="application/json",
    )
    assert_invalid(response)


# --- Text the database cannot store ----------------------------------------------------------


@pytest.mark.parametrize("field", ["reference", "store", "card_number", "member_id", "vouchers[0]"])
def test_a_nul_byte_in_a_string_field_is_a_400_on_that_field(pos_api, shopper, field):
    body = sale("R1", ("TEA", 1, "10.00"))
    if field == "vouchers[0]":
        body["vouchers"] = ["AB\x00CD"]
    else:
        body[field] = "x\x00y"
    assert_invalid(pos_api.post("/api/v1/purchases", body, format="json"), field)


def test_a_nul_byte_in_a_nested_field_names_its_path(pos_api, shopper):
    body = sale("R1", ("TEA", 1, "10.00"))
    body["items"][0]["name"] = "\x00"
    assert_invalid(pos_api.post("/api/v1/purchases", body, format="json"), "items[0].name")


def test_a_lone_surrogate_in_a_choice_field_is_a_400(pos_api, program):
    response = pos_api.post(
        "/api/v1/members",
        b'{"email": "a@example.com", "language": "\\ud800"}',
        content_type="application/json",
    )
    assert_invalid(response, "language")


def test_a_surrogate_pair_is_text_like_any_other(pos_api, program):
    response = pos_api.post(
        "/api/v1/members",
        b'{"email": "a@example.com", "first_name": "Siti \\ud83d\\ude00"}',
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["first_name"] == "Siti \U0001f600"


def test_a_nul_byte_in_a_path_is_a_400(pos_api, program):
    assert_invalid(pos_api.get("/api/v1/members/abc%00def"))
    assert_invalid(pos_api.get("/api/v1/tiers/abc%00def"))


def test_a_nul_byte_in_a_query_parameter_is_a_400_on_it(pos_api, program):
    assert_invalid(pos_api.get("/api/v1/members?email=a%00b"), "email")
    assert_invalid(pos_api.get("/api/v1/members?page=%00"), "page")


def test_a_nul_byte_on_a_page_is_a_friendly_400(client, manager):
    client.force_login(manager)
    response = client.get("/staff/members/?q=a%00b")
    assert response.status_code == 400
    assert b"<html" in response.content.lower()
    response = client.post("/staff/stores/new/", {"code": "x", "name": "a\x00b"})
    assert response.status_code == 400


@pytest.mark.parametrize("with_key", [False, True])
def test_json_nested_5000_deep_is_a_400(pos_api, program, with_key):
    headers = {"HTTP_IDEMPOTENCY_KEY": "deep"} if with_key else {}
    body = b"[" * 5000 + b"]" * 5000
    response = pos_api.post("/api/v1/purchases", body, content_type="application/json", **headers)
    assert_invalid(response)


def test_an_id_past_64_bits_is_a_400_or_a_404(pos_api, shopper):
    response = pos_api.post(
        f"/api/v1/members/{shopper.public_id}/redemptions", {"reward": 10**30}, format="json"
    )
    assert_invalid(response, "reward")
    assert pos_api.get(f"/api/v1/rewards/{10**30}").status_code == 404
    assert pos_api.get(f"/api/v1/purchases/{10**30}").status_code == 404


def test_a_nul_byte_in_a_key_or_the_idempotency_key_is_a_400(pos_api, shopper):
    body = sale("R1", ("TEA", 1, "10.00")) | {"x\x00": 1}
    assert_invalid(pos_api.post("/api/v1/purchases", body, format="json"))
    response = pos_api.post(
        "/api/v1/purchases",
        sale("R2", ("TEA", 1, "10.00")),
        format="json",
        HTTP_IDEMPOTENCY_KEY="a\x00b",
    )
    assert_invalid(response, "Idempotency-Key")
