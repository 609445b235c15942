"""Every error under /api/ carries the envelope of API.md."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_validation_error_is_400_invalid_with_fields(admin_api):
    response = admin_api.post("/api/v1/stores", {"code": "has spaces", "name": ""}, format="json")
    body = assert_envelope(response, 400, "invalid")
    assert set(body["fields"]) == {"code", "name"}


def test_malformed_json_is_400_invalid(admin_api):
    response = admin_api.generic(
        "POST", "/api/v1/stores", "{not json", content_type="application/json"
    )
    body = assert_envelope(response, 400, "invalid")
    assert "fields" not in body


def test_missing_key_is_401_not_authenticated():
    response = APIClient().get("/api/v1/program")
    assert_envelope(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


def test_unknown_key_is_401_not_authenticated():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key setia_deadbeef_not-a-real-key")
    assert_envelope(client.get("/api/v1/program"), 401, "not_authenticated")


def test_pos_key_on_admin_endpoint_is_403_permission_denied(pos_api):
    assert_envelope(pos_api.get("/api/v1/program"), 403, "permission_denied")


def test_unknown_store_is_404_not_found(admin_api):
    assert_envelope(admin_api.get("/api/v1/stores/nowhere"), 404, "not_found")


def test_unknown_endpoint_is_404_not_found_in_json(admin_api):
    response = admin_api.get("/api/v1/no-such-thing")
    assert_envelope(response, 404, "not_found")
    assert response["Content-Type"] == "application/json"


def test_wrong_method_is_405(admin_api):
    assert_envelope(admin_api.delete("/api/v1/program"), 405, "method_not_allowed")


def test_too_many_requests_is_429_rate_limited(settings, db):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "2/min"},
    }
    client = api_client_for("admin")
    assert client.get("/api/v1/program").status_code == 200
    assert client.get("/api/v1/program").status_code == 200
    response = client.get("/api/v1/program")
    assert_envelope(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    # Another key has its own allowance.
    assert api_client_for("admin").get("/api/v1/program").status_code == 200


def test_revoked_key_is_401(admin_api):
    from loyalty.actors import Actor
    from loyalty.services import api_key_revoke

    api_key_revoke(actor=Actor.system(), api_key=admin_api.api_key)
    assert_envelope(admin_api.get("/api/v1/program"), 401, "not_authenticated")


def test_the_rate_limit_counts_in_fixed_windows_and_opens_again(settings, db, monkeypatch):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "1/min"},
    }
    clock = [time.time() // 60 * 60 + 1]  # one second into a window
    monkeypatch.setattr("loyalty.api.throttling.time", SimpleNamespace(time=lambda: clock[0]))
    client = api_client_for("admin")
    assert client.get("/api/v1/program").status_code == 200
    refused = client.get("/api/v1/program")
    assert refused.status_code == 429 and int(refused["Retry-After"]) == 59
    clock[0] += 60  # the next window
    assert client.get("/api/v1/program").status_code == 200


def test_an_unexpected_exception_is_500_server_error_in_json(admin_api, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("loyalty.api.views.ProgramApi.get", explode)
    admin_api.raise_request_exception = False
    response = admin_api.get("/api/v1/program")
    assert_envelope(response, 500, "server_error")
    assert "boom" not in response.content.decode()


@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "big-1"}])
def test_a_body_over_the_upload_limit_is_400_invalid(admin_api, settings, headers):
    """Whether the view or the idempotency fingerprint reads the body first."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = admin_api.post(
        "/api/v1/stores", {"code": "big", "name": "x" * 500}, format="json", **headers
    )
    body = assert_envelope(response, 400, "invalid")
    assert "too large" in body["detail"]


def test_a_bad_host_header_is_400_invalid_in_json(admin_api):
    response = admin_api.get("/api/v1/program", HTTP_HOST="evil.example")
    assert_envelope(response, 400, "invalid")
    assert response["Content-Type"] == "application/json"


def test_a_bad_host_header_on_a_page_is_still_the_plain_400(client):
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_django_permission_denied_is_403_in_json_under_api_only(rf):
    from django.core.exceptions import PermissionDenied

    from loyalty.views import permission_denied

    api = permission_denied(rf.get("/api/v1/anything"), PermissionDenied())
    assert api.status_code == 403 and api["Content-Type"] == "application/json"
    assert api.content.startswith(b'{"code": "permission_denied"')
    page = permission_denied(rf.get("/staff/"), PermissionDenied())
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_endpoint_is_json_404_also_with_debug(settings, method):
    """With DEBUG Django would show its technical HTML 404 page instead of handler404;
    a POST without a CSRF token is a 404 too, not a CSRF failure."""
    settings.DEBUG = True
    client = APIClient(enforce_csrf_checks=True)
    response = getattr(client, method)("/api/v1/no-such-thing")
    assert_envelope(response, 404, "not_found")
    assert response["Content-Type"] == "application/json"


def test_unknown_pages_outside_the_api_keep_the_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
