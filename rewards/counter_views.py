"""The counter's voucher and gift-card desk (SERVE_COUNTER): look a voucher up
and use it, look a gift card up with its history, sell a new gift card.

Codes travel in the query string (`?code=`) so a scanner that types the code
and Enter lands on the answer; using a voucher is a POST after a confirmation
page, never a link a prefetcher could follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import DomainError, NotFound
from loyalty.forms import form_errors_from
from loyalty.roles import SERVE_COUNTER
from loyalty.selectors import program_settings_get
from rewards.errors import CodeLookupsExceeded
from rewards.forms import CodeForm, GiftCardSellForm, VoucherUseForm
from rewards.gift_cards import gift_card_issue
from rewards.models import GiftCard, Voucher
from rewards.selectors import gift_card_get, voucher_get, voucher_status
from rewards.services import voucher_use
from rewards.throttling import CodeLookupThrottle

HISTORY_LIMIT = 50
Found = TypeVar("Found")


def _look_up(request: HttpRequest, find: Callable[..., Found], code: str) -> Found:
    """`find(code=code)`, counted against guessing with the API's own counters
    (per user and per address, rewards.throttling). Raises CodeLookupsExceeded
    once too many unknown codes were tried, and what `find` raises (an
    unknown code is counted)."""
    throttle = CodeLookupThrottle()
    if not throttle.allow_request(request, None):
        raise CodeLookupsExceeded()
    try:
        return find(code=code)
    except NotFound:
        throttle.failures_record(request)
        raise


def _voucher_url(code: str) -> str:
    return f"{reverse('staff:counter_voucher')}?{urlencode({'code': code})}"


def _voucher_context(voucher: Voucher) -> dict[str, Any]:
    status = voucher_status(voucher=voucher, now=timezone.now())
    return {"voucher": voucher, "status": status, "usable": status == "issued"}


class CounterVoucherView(StaffRequiredMixin, View):
    """Type or scan a voucher code, see what it is worth and whose it is."""

    permission_required = SERVE_COUNTER
    template_name = "staff/rewards/voucher_lookup.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        context: dict[str, Any] = {}
        status = 200
        if "code" in request.GET:
            form = CodeForm(request.GET)
            if form.is_valid():
                try:
                    voucher = _look_up(request, voucher_get, form.cleaned_data["code"])
                except CodeLookupsExceeded as error:
                    form.add_error("code", error.message)
                    status = error.status
                except NotFound as error:
                    form.add_error("code", error.message)
                else:
                    context.update(_voucher_context(voucher))
        else:
            form = CodeForm()
        context["form"] = form
        return render(request, self.template_name, context, status=status)


class CounterVoucherUseView(StaffRequiredMixin, View):
    """Confirm, then use the voucher once (voucher_use's conditional UPDATE)."""

    permission_required = SERVE_COUNTER
    template_name = "staff/rewards/voucher_confirm_use.html"

    def _voucher(self, code: str) -> Voucher | None:
        try:
            return _look_up(self.request, voucher_get, code)
        except DomainError as error:
            messages.error(self.request, error.message)
            return None

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        voucher = self._voucher(code)
        if voucher is None:
            return redirect("staff:counter_voucher")
        context = {**_voucher_context(voucher), "form": VoucherUseForm()}
        return render(request, self.template_name, context)

    def post(self, request: HttpRequest, code: str) -> HttpResponse:
        voucher = self._voucher(code)
        if voucher is None:
            return redirect("staff:counter_voucher")
        form = VoucherUseForm(request.POST)
        if not form.is_valid():
            context = {**_voucher_context(voucher), "form": form}
            return render(request, self.template_name, context, status=400)
        try:
            voucher_use(
                code=voucher.code,
                actor=Actor.from_request(request),
                purchase_reference=form.cleaned_data["purchase_reference"],
                store=program_settings_get().main_store,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Voucher %(code)s used: give the customer their reward.")
                % {"code": voucher.code},
            )
        return redirect(_voucher_url(voucher.code))


class CounterGiftCardView(StaffRequiredMixin, View):
    """Look a gift card up: balance, status and the latest entries of its ledger."""

    permission_required = SERVE_COUNTER
    template_name = "staff/rewards/giftcard_lookup.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        context: dict[str, Any] = {}
        status = 200
        if "code" in request.GET:
            form = CodeForm(request.GET)
            if form.is_valid():
                try:
                    card = _look_up(request, gift_card_get, form.cleaned_data["code"])
                except CodeLookupsExceeded as error:
                    form.add_error("code", error.message)
                    status = error.status
                except NotFound as error:
                    form.add_error("code", error.message)
                else:
                    context.update(
                        card=card,
                        usable=card.is_usable(timezone.now()),
                        entries=card.entries.select_related("store")[:HISTORY_LIMIT],
                        history_limit=HISTORY_LIMIT,
                    )
        else:
            form = CodeForm()
        context["form"] = form
        return render(request, self.template_name, context, status=status)


@method_decorator(never_cache, name="dispatch")
class CounterGiftCardSellView(StaffRequiredMixin, View):
    """Sell a new card: its code is shown once, on the answer to the POST
    (never in a URL or a message that could be shown again)."""

    permission_required = SERVE_COUNTER
    template_name = "staff/rewards/giftcard_sell.html"
    issued_template_name = "staff/rewards/giftcard_issued.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": GiftCardSellForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = GiftCardSellForm(request.POST)
        if form.is_valid():
            try:
                card: GiftCard = gift_card_issue(
                    actor=Actor.from_request(request),
                    amount=form.cleaned_data["amount"],
                    member=form.cleaned_data["member"],
                    design=form.cleaned_data["design"],
                )
            except DomainError as error:
                form_errors_from(form, error)
            else:
                return render(request, self.issued_template_name, {"card": card})
        return render(request, self.template_name, {"form": form}, status=400)
