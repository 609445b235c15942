"""The address an actor acts from: REMOTE_ADDR, or the hop our own proxy added."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from loyalty.actors import client_ip
from loyalty.models import AuditEvent

FORGED = "6.6.6.6"


def request_from(remote_addr: str, forwarded_for: str | None = None):
    headers = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **headers)


def test_without_a_proxy_a_forwarded_for_header_is_ignored(settings):
    settings.LOYALTY_TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("198.51.100.4", FORGED)) == "198.51.100.4"


def test_behind_one_proxy_the_hop_it_appended_is_the_client(settings):
    settings.LOYALTY_TRUSTED_PROXY_COUNT = 1
    # The client wrote the first hop itself; our proxy appended the real address.
    request = request_from("10.0.0.2", f"{FORGED}, 203.0.113.7")
    assert client_ip(request) == "203.0.113.7"


def test_behind_two_proxies_the_outer_ones_hop_is_the_client(settings):
    settings.LOYALTY_TRUSTED_PROXY_COUNT = 2
    request = request_from("10.0.0.3", f"{FORGED}, 203.0.113.7, 10.0.0.2")
    assert client_ip(request) == "203.0.113.7"


def test_behind_a_proxy_a_request_without_the_header_uses_remote_addr(settings):
    settings.LOYALTY_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from("10.0.0.2")) == "10.0.0.2"


def test_behind_a_proxy_a_hop_that_is_no_address_falls_back_to_remote_addr(settings):
    settings.LOYALTY_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from("10.0.0.2", "not-an-ip")) == "10.0.0.2"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "recorded"),
    [(0, FORGED, "198.51.100.4"), (1, f"{FORGED}, 203.0.113.7", "203.0.113.7")],
)
def test_a_spoofed_forwarded_for_does_not_change_the_audited_address(
    settings, admin_api, proxies, forwarded_for, recorded
):
    settings.LOYALTY_TRUSTED_PROXY_COUNT = proxies
    response = admin_api.post(
        "/api/v1/stores",
        {"code": "ipoh", "name": "Ipoh"},
        format="json",
        HTTP_X_FORWARDED_FOR=forwarded_for,
        REMOTE_ADDR="198.51.100.4",
    )
    assert response.status_code == 201, response.content
    assert AuditEvent.objects.get(action="store.create").ip == recorded
