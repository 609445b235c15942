"""`POST /api/v1/feedback` (API.md): an answer from a till or kiosk, by a
member found by id or card number or anonymous, about that member's
purchase of the key's store; scores bounded per kind (0 is one); the error
envelope; Idempotency-Key replays; `follow_up` tells the queue."""

from __future__ import annotations

import pytest

from analytics.models import Feedback, FollowUp
from loyalty.models import ApiScope
from tests.analytics.factories import bought
from tests.conftest import api_client_for
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/feedback"


def test_a_member_answers_by_card_number_and_a_detractor_lands_in_the_queue(pos_api, program):
    member = MemberFactory()
    response = pos_api.post(
        URL,
        {"card_number": member.card_number, "kind": "nps", "score": 0, "comment": "Rude"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["follow_up"] is True and body["score"] == 0 and body["kind"] == "nps"
    assert body["member_id"] == member.public_id and body["source"] == "till"
    feedback = Feedback.objects.get(pk=body["id"])
    assert feedback.score == 0 and feedback.member == member
    assert FollowUp.objects.filter(feedback=feedback).exists()


def test_an_anonymous_answer_is_taken_with_no_follow_up_at_the_keys_store(program):
    kiosk = api_client_for(ApiScope.POS, store=program.main_store)
    response = kiosk.post(URL, {"kind": "csat", "score": 1}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["follow_up"], body["member_id"], body["store"]) == (
        False,
        None,
        program.main_store.code,
    )


def test_an_answer_about_a_purchase_is_at_its_store(pos_api, program):
    member = MemberFactory()
    purchase = bought(member, program.main_store)
    response = pos_api.post(
        URL,
        {"member_id": member.public_id, "kind": "csat", "score": 5, "purchase_id": purchase.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["purchase_id"] == purchase.pk
    assert response.json()["store"] == program.main_store.code


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "nps", "score": 11}, "score"),
        ({"kind": "nps", "score": -1}, "score"),
        ({"kind": "csat", "score": 0}, "score"),
        ({"kind": "csat", "score": 6}, "score"),
        ({"kind": "csat", "score": "four"}, "score"),
        ({"kind": "csat", "score": True}, "score"),
        ({"kind": "ces", "score": 3}, "kind"),
        ({"kind": "csat"}, "score"),
        ({"kind": "csat", "score": 4, "comment": "x" * 1001}, "comment"),
        ({"kind": "csat", "score": 4, "comment": "bad\u0000"}, "comment"),
        ({"kind": "csat", "score": 4, "member_id": "MNOSUCHMEMBER0000"}, "member_id"),
        ({"kind": "csat", "score": 4, "card_number": "0000"}, "card_number"),
        ({"kind": "csat", "score": 4, "purchase_id": 0}, "purchase_id"),
        ({"kind": "csat", "score": 4, "purchase_id": 2**63}, "purchase_id"),
    ],
)
def test_invalid_answers_are_refused_with_the_envelope_and_nothing_is_kept(
    pos_api, program, body, field
):
    response = pos_api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    envelope = response.json()
    assert envelope["code"] == "invalid" and envelope["detail"]
    assert field in envelope["fields"]
    assert not Feedback.objects.exists()


def test_member_id_and_card_number_together_are_refused(pos_api, program):
    member = MemberFactory()
    body = {"member_id": member.public_id, "card_number": member.card_number}
    response = pos_api.post(URL, {**body, "kind": "nps", "score": 9}, format="json")
    assert response.status_code == 400 and "member_id" in response.json()["fields"]


def test_a_purchase_of_another_member_is_refused(pos_api, program):
    owner, other = MemberFactory(), MemberFactory()
    purchase = bought(owner, program.main_store)
    response = pos_api.post(
        URL,
        {"member_id": other.public_id, "kind": "nps", "score": 9, "purchase_id": purchase.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "purchase_id" in response.json()["fields"]
    anonymous = pos_api.post(
        URL, {"kind": "nps", "score": 9, "purchase_id": purchase.pk}, format="json"
    )
    assert anonymous.status_code == 400


def test_a_till_of_one_store_cannot_name_another_stores_purchase(program):
    member = MemberFactory()
    penang = StoreFactory(code="penang")
    purchase = bought(member, penang)
    klcc_till = api_client_for(ApiScope.POS, store=program.main_store)
    body = {"member_id": member.public_id, "kind": "csat", "score": 2, "purchase_id": purchase.pk}
    response = klcc_till.post(URL, body, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    made_up = klcc_till.post(URL, {**body, "purchase_id": purchase.pk + 1000}, format="json")
    assert made_up.status_code == 404 and made_up.json() == response.json()
    penang_till = api_client_for(ApiScope.POS, store=penang)
    assert penang_till.post(URL, body, format="json").status_code == 201


def test_a_key_without_the_scope_or_no_key_is_refused(client, program):
    anonymous = client.post(URL, {"kind": "nps", "score": 9}, content_type="application/json")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"


def test_the_same_idempotency_key_replays_and_another_body_is_a_conflict(pos_api, program):
    member = MemberFactory()
    body = {"member_id": member.public_id, "kind": "nps", "score": 4}
    first = pos_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="fb-1")
    again = pos_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="fb-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Feedback.objects.count() == 1 and FollowUp.objects.count() == 1
    other = pos_api.post(URL, {**body, "score": 9}, format="json", HTTP_IDEMPOTENCY_KEY="fb-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"


def test_the_same_answer_about_a_purchase_replays_without_a_key_another_is_refused(
    pos_api, program
):
    member = MemberFactory()
    purchase = bought(member, program.main_store)
    body = {"member_id": member.public_id, "kind": "csat", "score": 2, "purchase_id": purchase.pk}
    first = pos_api.post(URL, body, format="json")
    again = pos_api.post(URL, body, format="json")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["follow_up"] is True
    changed = pos_api.post(URL, {**body, "score": 5}, format="json")
    assert changed.status_code == 400 and "purchase_id" in changed.json()["fields"]
    assert Feedback.objects.count() == 1


def test_a_deleted_member_is_member_inactive(pos_api, program):
    member = MemberFactory()
    member.status = "deleted"
    member.save(update_fields=["status"])
    response = pos_api.post(
        URL, {"member_id": member.public_id, "kind": "nps", "score": 9}, format="json"
    )
    assert response.status_code == 422 and response.json()["code"] == "member_inactive"
