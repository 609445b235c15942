"""Rate limit on guessing voucher and gift-card codes.

A code is worth money to whoever holds it, so guessing codes must be
hopeless: every look-up of a code that matches nothing is counted per API key
(or signed-in user) *and* per client address, and once either has had the
`code_lookup` rate of such failures in the window, every request that names a
code is refused (`429 rate_limited`; a friendly error on the counter's pages)
until the window ends. Look-ups of codes that exist count nothing, so a busy
till using real vouchers is never slowed; a guesser's tries are nearly all
failures, so they are what is limited. The API's code endpoints, the sale and
its preview (codes in the body) and the counter's desk share the same counters
(loyalty.api.throttling.FailureRateThrottle).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.throttling import ApiKeyRateThrottle, FailureRateThrottle
from loyalty.errors import DomainError
from rewards.errors import GiftCardNotFound, VoucherNotFound
from rewards.selectors import codes_unknown_count
from rewards.voucher_codes import normalise_code


class CodeLookupThrottle(FailureRateThrottle):
    """Refuses once the `code_lookup` rate of failed look-ups is reached (key and address)."""

    scope = "code_lookup"


class SaleCodesThrottle(CodeLookupThrottle):
    """CodeLookupThrottle for a sale or its preview: only a body that names
    vouchers or gift cards is refused; a sale without codes guesses nothing."""

    def applies(self, request: Request | HttpRequest) -> bool:
        data = getattr(request, "data", None)
        return isinstance(data, dict) and bool(data.get("vouchers") or data.get("gift_cards"))


class CodeLookupApi(APIView):
    """An API view with a code in its URL (a voucher's, a gift card's): refused
    once too many look-ups failed, and counting its own unknown code."""

    throttle_classes = [ApiKeyRateThrottle, CodeLookupThrottle]
    code_failures = 0

    def unknown_codes(self, exc: DomainError) -> int:
        """How many unknown codes the refused request named."""
        return 1 if isinstance(exc, (VoucherNotFound, GiftCardNotFound)) else 0

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DomainError):
            self.code_failures = self.unknown_codes(exc)
        return super().handle_exception(exc)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # Counted here, once the answer is final: inside the idempotency
        # wrapper's savepoint, a database cache's write would roll back with it.
        if self.code_failures:
            CodeLookupThrottle().failures_record(request, count=self.code_failures)
        return super().finalize_response(request, response, *args, **kwargs)


class SaleCodeLookupApi(CodeLookupApi):
    """A sale or its preview (API.md's `vouchers` and `gift_cards`): when the
    sale is refused, each code of its body that matches nothing is a failure.
    A sale that goes through named only codes that exist, so it costs no query."""

    throttle_classes = [ApiKeyRateThrottle, SaleCodesThrottle]

    def unknown_codes(self, exc: DomainError) -> int:
        data = self.request.data if isinstance(self.request.data, dict) else {}
        vouchers = data.get("vouchers") if isinstance(data.get("vouchers"), list) else []
        cards = data.get("gift_cards") if isinstance(data.get("gift_cards"), list) else []
        return codes_unknown_count(
            voucher_codes=_codes(vouchers),
            gift_card_codes=_codes([c.get("code") for c in cards if isinstance(c, dict)]),
        )


def _codes(values: list[Any]) -> set[str]:
    """The well-formed codes among `values`, normalised (others are a 400, never looked up)."""
    codes = (normalise_code(value) for value in values if isinstance(value, str))
    return {code for code in codes if code}
