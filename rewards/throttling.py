"""Rate limit on voucher and gift-card codes.

A code is worth money to whoever holds it, so guessing codes must be slow: the
look-ups and uses of codes are counted per API key (or signed-in user) *and*
per client address, so neither many keys from one address nor one leaked key
from many addresses can sweep the code space. Counted in fixed windows, like
the general API limit (loyalty.api.throttling).
"""

from __future__ import annotations

from rest_framework.request import Request

from loyalty.api.throttling import ApiKeyRateThrottle


class CodeLookupThrottle(ApiKeyRateThrottle):
    """At most the `code_lookup` rate per window, per key and per address."""

    scope = "code_lookup"

    def idents(self, request: Request) -> list[str]:
        return list(dict.fromkeys([self.ident_of(request), f"ip-{self.get_ident(request)}"]))
