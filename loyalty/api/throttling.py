"""Rate limits per API key (the shared cache holds the counters).

DRF's SimpleRateThrottle keeps a list of every request time in one cache value
and rewrites it on each request: at a till's rate (thousands a minute) that is
a growing blob read, unpickled, pickled and written per request, and every
request of a key queues on the same cache row. We count in fixed windows
instead: one small counter per key and window, whatever the rate.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.core.cache import cache
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


class ApiKeyRateThrottle(BaseThrottle):
    """At most N requests per window per API key (or signed-in user, or IP)."""

    scope = "api_key"

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def get_rate(self) -> str | None:
        # Read at request time (DRF binds the rates at import), so a changed
        # LOYALTY_API_RATE or a test's override applies without a restart.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def ident_of(self, request: Request) -> str:
        if isinstance(request.auth, ApiKey):
            return f"key-{request.auth.pk}"
        if request.user.is_authenticated:
            return f"user-{request.user.pk}"
        return f"ip-{self.get_ident(request)}"

    def idents(self, request: Request) -> list[str]:
        """Who is counted: each ident has its own allowance."""
        return [self.ident_of(request)]

    def allow_request(self, request: Request, view: APIView) -> bool:
        rate = self.get_rate()
        if not rate:
            return True
        allowed, window = parse_rate(rate)
        now = time.time()
        start = int(now // window) * window
        counts = [self.count(ident, window, start) for ident in self.idents(request)]
        if all(used <= allowed for used in counts):
            return True
        self.wait_seconds = max(start + window - now, 1)
        return False

    def count(self, ident: str, window: int, start: int) -> int:
        """This request's number in the window of `ident`. The common path is
        one `incr` (atomic in Redis, the production cache); the first request
        of a window creates the counter with `add`, and a request that lost that
        race counts with `incr` after all. The database cache's incr is a read
        and a write, so a burst may undercount a little: fine for a rate limit."""
        key = f"throttle:{self.scope}:{ident}:{window}:{start}"
        try:
            return cache.incr(key)
        except ValueError:
            return 1 if cache.add(key, 1, timeout=window + 1) else cache.incr(key)

    def wait(self) -> float | None:
        return self.wait_seconds
