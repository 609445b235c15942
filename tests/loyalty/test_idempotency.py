"""`Idempotency-Key` on POSTs, as API.md says: replay, 409 on another body, one effect."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from loyalty.jobs import job_run
from loyalty.models import AuditEvent, IdempotencyRecord, Store
from tests.conftest import api_client_for

STORE = {"code": "klcc", "name": "KLCC", "address": "Suria KLCC"}


@pytest.mark.django_db
def test_replay_returns_the_identical_response_with_the_header(admin_api):
    first = admin_api.post("/api/v1/stores", STORE, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = admin_api.post("/api/v1/stores", STORE, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Store.objects.filter(code="klcc").count() == 1
    assert AuditEvent.objects.filter(action="store.create").count() == 1


@pytest.mark.django_db
def test_same_body_in_another_key_order_still_replays(admin_api):
    admin_api.post("/api/v1/stores", STORE, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    reordered = dict(reversed(list(STORE.items())))
    again = admin_api.post("/api/v1/stores", reordered, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_same_key_with_a_different_body_is_409_and_changes_nothing(admin_api):
    admin_api.post("/api/v1/stores", STORE, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    other = {**STORE, "code": "pavilion", "name": "Pavilion"}
    response = admin_api.post("/api/v1/stores", other, format="json", HTTP_IDEMPOTENCY_KEY="k-3")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Store.objects.filter(code="pavilion").exists()


@pytest.mark.django_db
def test_keys_are_scoped_to_the_api_key(admin_api):
    admin_api.post("/api/v1/stores", STORE, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    other_integrator = api_client_for("admin")
    response = other_integrator.post(
        "/api/v1/stores",
        {"code": "ioi", "name": "IOI City"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="shared",
    )
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response


@pytest.mark.django_db
def test_an_error_answer_is_stored_and_replayed_and_writes_nothing(admin_api):
    bad = {"code": "bad code", "name": "X"}
    first = admin_api.post("/api/v1/stores", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    again = admin_api.post("/api/v1/stores", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Store.objects.count() == 0


@pytest.mark.django_db
def test_without_the_header_a_repeat_is_a_new_request(admin_api):
    admin_api.post("/api/v1/stores", STORE, format="json")
    response = admin_api.post("/api/v1/stores", STORE, format="json")
    assert response.status_code == 400  # the code is taken: it ran again
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.django_db
def test_a_key_longer_than_255_characters_is_invalid(admin_api):
    response = admin_api.post(
        "/api/v1/stores", STORE, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert Store.objects.count() == 0


@pytest.mark.django_db
def test_records_are_kept_seven_days_then_purged(admin_api):
    admin_api.post("/api/v1/stores", STORE, format="json", HTTP_IDEMPOTENCY_KEY="old")
    now = timezone.now()
    job_run("purge_idempotency_keys", as_of=now + timedelta(days=6, hours=23))
    assert IdempotencyRecord.objects.filter(key="old").exists()
    job_run("purge_idempotency_keys", as_of=now + timedelta(days=7, minutes=1))
    assert not IdempotencyRecord.objects.filter(key="old").exists()


def test_every_post_endpoint_is_idempotent():
    """A POST view without @idempotent would silently ignore the header."""
    from django.urls import get_resolver
    from rest_framework.views import APIView

    def views(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from views(pattern.url_patterns)
            else:
                yield getattr(pattern.callback, "cls", None)

    post_views = [
        view
        for view in views(get_resolver().url_patterns)
        if view is not None
        and issubclass(view, APIView)
        and hasattr(view, "post")
        and view.__module__.split(".")[0]
        in {"loyalty", "members", "rewards", "campaigns", "purchases", "analytics"}
    ]
    assert post_views
    for view in post_views:
        assert getattr(view.post, "idempotent", False), f"{view.__name__}.post is not @idempotent"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_with_one_key_have_one_effect():
    client_key = api_client_for("admin")._credentials["HTTP_AUTHORIZATION"]
    barrier = threading.Barrier(20)
    responses = []
    lock = threading.Lock()

    def post() -> None:
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=client_key)
        barrier.wait()
        try:
            response = client.post(
                "/api/v1/stores", STORE, format="json", HTTP_IDEMPOTENCY_KEY="race"
            )
            with lock:
                responses.append(response)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(responses) == 20
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert sum(1 for r in responses if r.get("Idempotent-Replayed") == "true") == 19
    assert Store.objects.filter(code="klcc").count() == 1
    assert AuditEvent.objects.filter(action="store.create").count() == 1
