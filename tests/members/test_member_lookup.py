"""Member look-up (API.md, Conventions and Members): a `pos` key finds members
only by an exact card_number, email, phone or external_id; the free-text
`search`, and a list of the member base, need scope `admin`. `external_id` is
the merchant's own customer id: optional, unique, matched exactly."""

from __future__ import annotations

import pytest

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from members.errors import MemberExists
from members.models import Member
from members.services import member_enrol, member_update
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(shopper) -> Member:
    shopper.external_id = "CRM-0042"
    shopper.save(update_fields=["external_id"])
    return shopper


@pytest.mark.parametrize(
    "query",
    [
        "search=a",
        "search=Shopper",
        "",
        "page=2",
        "email=",
        "card_number=%20",
        "email=shopper@example.com&search=a",
    ],
)
def test_a_pos_key_cannot_search_or_list_members(pos_api, customer, query):
    response = pos_api.get(f"/api/v1/members?{query}")
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "permission_denied"
    assert "external_id" in body["detail"] and "results" not in body


def test_an_admin_key_searches_and_lists_members(admin_api, customer):
    # Names of their own: a generated first name could be part of another's.
    Member.objects.filter(pk=customer.pk).update(first_name="Aminah")
    customer.first_name = "Aminah"
    MemberFactory(first_name="Zed", email="zed@example.com")
    found = admin_api.get(f"/api/v1/members?search={customer.first_name}").json()["results"]
    assert [r["id"] for r in found] == [customer.public_id]
    assert admin_api.get("/api/v1/members").json()["count"] == 2
    found = admin_api.get("/api/v1/members?search=CRM-0042").json()["results"]
    assert [r["id"] for r in found] == [customer.public_id]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("external_id=CRM-0042", True),
        ("external_id=%20CRM-0042%20", True),
        ("external_id=crm-0042", False),
        ("external_id=CRM-004", False),
        ("email=%20Shopper@Example.com", True),
        ("email=shopper@example", False),
        ("phone=0123456789", True),
        ("phone=012345678", False),
        ("phone=not-a-phone", False),
    ],
)
def test_a_pos_key_looks_up_by_exact_values(pos_api, customer, query, found):
    response = pos_api.get(f"/api/v1/members?{query}")
    assert response.status_code == 200, response.content
    ids = [r["id"] for r in response.json()["results"]]
    assert ids == ([customer.public_id] if found else [])


def test_enrol_takes_an_external_id_and_the_status_shows_it(pos_api, program, tiers):
    response = pos_api.post(
        "/api/v1/members",
        {"email": "nur@example.com", "external_id": "  CRM-7  "},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["external_id"] == "CRM-7"
    assert pos_api.get(f"/api/v1/members/{body['id']}").json()["external_id"] == "CRM-7"
    other = pos_api.post("/api/v1/members", {"email": "x@example.com"}, format="json").json()
    assert other["external_id"] is None


def test_enrol_refuses_a_taken_external_id(pos_api, customer):
    response = pos_api.post(
        "/api/v1/members", {"email": "new@example.com", "external_id": "CRM-0042"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["external_id"]
    assert Member.objects.count() == 1


def test_members_without_external_id_do_not_clash(program, tiers):
    for email in ("a@example.com", "b@example.com"):
        member = member_enrol(actor=Actor.system(), email=email, external_id=" ")
        assert member.external_id is None


def test_update_sets_and_clears_the_external_id_uniquely(customer):
    other = MemberFactory(email="other@example.com")
    with pytest.raises(MemberExists) as refused:
        member_update(actor=Actor.system(), member=other, external_id="CRM-0042")
    assert list(refused.value.fields) == ["external_id"]
    assert member_update(actor=Actor.system(), member=other, external_id=" E1 ").external_id == "E1"
    assert member_update(actor=Actor.system(), member=other, external_id="").external_id is None


def test_an_external_id_longer_than_its_column_is_refused(program):
    with pytest.raises(ValidationFailed) as refused:
        member_enrol(actor=Actor.system(), email="long@example.com", external_id="X" * 65)
    assert list(refused.value.fields) == ["external_id"]
