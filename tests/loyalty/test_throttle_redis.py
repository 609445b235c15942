"""The API throttle on Redis, the production cache: one INCR per request, the
counter's window set by the request that made it."""

from __future__ import annotations

import os

import pytest
from django.core.cache import caches

from loyalty.api import throttling
from tests.conftest import api_client_for, need

pytestmark = [pytest.mark.django_db, pytest.mark.broker]


@pytest.fixture
def redis_cache(settings):
    """The cache on the Redis server CI gives Celery (another database number)."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        need("a Redis server (CELERY_BROKER_URL=redis://...)")
    location = url.rsplit("/", 1)[0] + "/13"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}
    }
    throttling._redis_clients.clear()
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()
    throttling._redis_clients.clear()


def test_the_third_request_in_a_window_of_two_is_refused_and_the_counter_expires(
    redis_cache, settings
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "api_key": "2/min",
        },
    }
    from tests.factories import MemberFactory

    member = MemberFactory(user=None, email="throttled@example.com")
    client = api_client_for("pos")
    statuses = [client.get(f"/api/v1/members/{member.public_id}").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    client_of_redis = throttling._redis_client(redis_cache)
    [key] = client_of_redis.keys("*throttle:api_key:*")
    assert int(client_of_redis.get(key)) == 3
    assert 0 < client_of_redis.ttl(key) <= 61
