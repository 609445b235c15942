"""Rate limits per API key (the shared cache holds the counters).

DRF's SimpleRateThrottle keeps a list of every request time in one cache value
and rewrites it on each request: at a till's rate (thousands a minute) that is
a growing blob read, unpickled, pickled and written per request, and every
request of a key queues on the same cache row. We count in fixed windows
instead: one small counter per key and window, whatever the rate.

`FailureRateThrottle` counts in the same windows, but only what its view
reports as failed (an unknown voucher or gift-card code, say): guessing is
limited without slowing those who only ever send what exists.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

if TYPE_CHECKING:
    from rest_framework.views import APIView

from loyalty.models import ApiKey

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'12000/min' -> (12000, 60): requests allowed and the window in seconds."""
    count, period = rate.split("/")
    return int(count), PERIODS[period.strip()[0]]


def current_window(rate: str) -> tuple[int, int, int]:
    """(allowed, window seconds, start of the current window) for `rate`."""
    allowed, window = parse_rate(rate)
    return allowed, window, int(time.time() // window) * window


_redis_clients: dict[int, Any] = {}


def _redis_client(backend: RedisCache) -> Any:
    """The Redis client of the cache's primary, made once per process: Django
    makes a new client per call, and redis-py's client copies its table of
    response callbacks (~170 entries) each time it is made. The client is
    thread-safe; connections come from the cache's own pool."""
    client = _redis_clients.get(id(backend))
    if client is None:
        client = _redis_clients[id(backend)] = backend._cache.get_client(None, write=True)
    return client


class ApiKeyRateThrottle(BaseThrottle):
    """At most N requests per window per API key (or signed-in user, or IP)."""

    scope = "api_key"

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def get_rate(self) -> str | None:
        # Read at request time (DRF binds the rates at import), so a changed
        # LOYALTY_API_RATE or a test's override applies without a restart.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def ident_of(self, request: Request | HttpRequest) -> str:
        # A page's HttpRequest has no `auth`: its user is who is counted.
        if isinstance(getattr(request, "auth", None), ApiKey):
            return f"key-{request.auth.pk}"
        if request.user.is_authenticated:
            return f"user-{request.user.pk}"
        return f"ip-{self.get_ident(request)}"

    def idents(self, request: Request | HttpRequest) -> list[str]:
        """Who is counted: each ident has its own allowance."""
        return [self.ident_of(request)]

    def key_of(self, ident: str, window: int, start: int) -> str:
        return f"throttle:{self.scope}:{ident}:{window}:{start}"

    def allow_request(self, request: Request, view: APIView) -> bool:
        rate = self.get_rate()
        if not rate:
            return True
        allowed, window, start = current_window(rate)
        counts = [self.count(ident, window, start) for ident in self.idents(request)]
        if all(used <= allowed for used in counts):
            return True
        self.wait_seconds = max(start + window - time.time(), 1)
        return False

    def count(self, ident: str, window: int, start: int, by: int = 1) -> int:
        """The count of `ident` in the window once `by` is added. On Redis (the
        production cache) one round trip: INCR, which creates the counter; the
        request that created it gives it its window with EXPIRE (Django's cache
        `incr` would first ask whether the key EXISTS). On other caches one `incr`;
        the first request of a window creates the counter with `add`, and a
        request that lost that race counts with `incr` after all. The database
        cache's incr is a read and a write, so a burst may undercount a little:
        fine for a rate limit."""
        key = self.key_of(ident, window, start)
        backend = caches["default"]  # `cache` is a proxy to it
        if isinstance(backend, RedisCache):
            name = backend.make_and_validate_key(key)
            client = _redis_client(backend)
            used = int(client.incr(name, by))
            if used == by:
                client.expire(name, window + 1)
            return used
        try:
            return cache.incr(key, by)
        except ValueError:
            return by if cache.add(key, by, timeout=window + 1) else cache.incr(key, by)

    def wait(self) -> float | None:
        return self.wait_seconds


class FailureRateThrottle(ApiKeyRateThrottle):
    """Refuses a request once its key (or user) or its address has had the
    scope's rate of failures in the current window; counts nothing by itself.

    The view reports failures with `failures_record`, after its answer is
    decided and outside any transaction it rolls back (the database cache
    writes through the same connection). Checking costs one cache read; a
    request that fails nothing costs nothing more. A request naming several
    failures is answered before they are counted, so a window may see a few
    more failures than the rate: no more than one request's worth.
    """

    def applies(self, request: Request | HttpRequest) -> bool:
        """Whether `request` is one this throttle may refuse (all, unless a subclass narrows it)."""
        return True

    def idents(self, request: Request | HttpRequest) -> list[str]:
        # Per key (or user) *and* per address: neither many keys from one
        # address nor one key from many addresses get more than the rate.
        return list(dict.fromkeys([self.ident_of(request), f"ip-{self.get_ident(request)}"]))

    def allow_request(self, request: Request | HttpRequest, view: APIView | None) -> bool:
        if not self.applies(request):
            return True
        rate = self.get_rate()
        if not rate:
            return True
        allowed, window, start = current_window(rate)
        keys = [self.key_of(ident, window, start) for ident in self.idents(request)]
        if all(used < allowed for used in cache.get_many(keys).values()):
            return True
        self.wait_seconds = max(start + window - time.time(), 1)
        return False

    def failures_record(self, request: Request | HttpRequest, *, count: int = 1) -> None:
        """Add `count` failures to the window of each of the request's idents."""
        rate = self.get_rate()
        if count < 1 or not rate:
            return
        _allowed, window, start = current_window(rate)
        for ident in self.idents(request):
            self.count(ident, window, start, by=count)
