"""The member's rewards pages: the catalogue, a reward and its redemption, the
member's vouchers and gift cards. Every query is scoped to `self.member`
(MemberRequiredMixin): no URL here names a member, and a voucher's code only
opens a page when the voucher is the signed-in member's."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from loyalty.actors import Actor
from loyalty.errors import DomainError
from members.access import MemberRequiredMixin
from members.card_images import qr_svg
from members.errors import InsufficientPoints
from members.models import Member
from members.selectors import points_spendable
from rewards.errors import (
    LimitReached,
    RedeemConfirmationExpired,
    RedeemConfirmationStale,
    RewardNotFound,
)
from rewards.models import GiftCard, Redemption, Reward, RewardKind, Voucher, VoucherStatus
from rewards.portal_forms import RedeemConfirmForm, RewardFilterForm
from rewards.selectors import (
    RewardOffer,
    redemption_token_get,
    reward_get,
    reward_list_available,
    reward_offers,
    reward_value_label,
    voucher_status,
)
from rewards.services import redemption_confirm

PAST_VOUCHERS_SHOWN = 50


def _balance(member: Member) -> int:
    """What the member can spend now (lots past their expiry left out)."""
    return points_spendable(member=member, now=timezone.now())


def _friendly_message(error: DomainError) -> str:
    """The service's sentences speak to staff ("the member ..."); the member
    reads the ones that concern them in the second person."""
    if isinstance(error, InsufficientPoints):
        return _("You do not have enough points for this reward.")
    if isinstance(error, LimitReached):
        return _("You have already redeemed this reward as often as allowed.")
    return str(error)


def _redemption_result_url(redemption: Redemption) -> str:
    """Where a redemption's member sees what they got: the voucher, the gift
    cards, or (a donation) the catalogue."""
    voucher = redemption.vouchers.order_by("pk").first()
    if voucher is not None:
        return reverse("portal:voucher", kwargs={"code": voucher.code})
    if redemption.reward.kind == RewardKind.GIFT_CARD:
        return reverse("portal:gift_cards")
    return reverse("portal:rewards")


class _RewardMixin(MemberRequiredMixin):
    """Loads the reward of the URL; a reward that is not offered any more still
    shows (with why it cannot be redeemed) unless archived."""

    reward: Reward

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            self.reward = reward_get(reward_id=kwargs["reward_id"])
        except RewardNotFound as error:
            raise Http404(str(error)) from error
        if self.reward.is_archived:
            raise Http404(_("No such reward."))
        return super().dispatch(request, *args, **kwargs)

    def offer(self) -> RewardOffer:
        return reward_offers(
            member=self.member,
            rewards=[self.reward],
            balance=_balance(self.member),
            now=timezone.now(),
        )[0]


class RewardCatalogueView(MemberRequiredMixin, TemplateView):
    """Rewards on offer now, featured first, then by category; filtered by
    category and by what the member's balance covers."""

    template_name = "portal/rewards/catalogue.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        now = timezone.now()
        balance = _balance(self.member)
        rewards = reward_list_available(now=now).order_by(
            "-featured", "category__position", "category__name", "position", "pk"
        )
        form = RewardFilterForm(self.request.GET or None)
        filtered = False
        if form.is_valid():
            if form.cleaned_data["category"] is not None:
                rewards = rewards.filter(category=form.cleaned_data["category"])
                filtered = True
            if form.cleaned_data["affordable"]:
                rewards = rewards.filter(points_cost__lte=balance)
                filtered = True
        offers = reward_offers(member=self.member, rewards=list(rewards), balance=balance, now=now)
        return super().get_context_data(
            member=self.member,
            balance=balance,
            form=form,
            filtered=filtered,
            offers=offers,
            featured=[offer for offer in offers if offer.reward.featured],
            others=[offer for offer in offers if not offer.reward.featured],
            **kwargs,
        )


class RewardDetailView(_RewardMixin, TemplateView):
    """One reward: what it is, its terms, and the way to redeem it."""

    template_name = "portal/rewards/reward.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            member=self.member,
            balance=_balance(self.member),
            offer=self.offer(),
            **kwargs,
        )


class RewardRedeemView(_RewardMixin, TemplateView):
    """GET: the confirmation (cost, balance now and after). POST: redeem once.

    A domain refusal (points, limit, stock) is a message on the reward's page
    and changes nothing. A spent token (double click, resent form) leads to
    what the first submission got, without redeeming again."""

    template_name = "portal/rewards/redeem.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        balance = _balance(self.member)
        offer = self.offer()
        form = RedeemConfirmForm(
            initial={"token": redemption_token_get(member=self.member, reward=self.reward)}
        )
        return super().get_context_data(
            member=self.member,
            offer=offer,
            balance=balance,
            balance_after=balance - self.reward.points_cost,
            form=form,
            **kwargs,
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        offer = self.offer()
        if not offer.can_redeem:
            messages.error(request, offer.reason)
            return redirect("portal:reward", reward_id=self.reward.pk)
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = RedeemConfirmForm(request.POST)
        try:
            confirmed = redemption_confirm(
                member=self.member,
                reward=self.reward,
                token=form.cleaned_data["token"] if form.is_valid() else "",
                actor=Actor.from_request(request),
            )
        except RedeemConfirmationExpired as error:
            messages.error(request, str(error))
            return redirect("portal:reward_redeem", reward_id=self.reward.pk)
        except RedeemConfirmationStale as error:
            messages.warning(request, str(error))
            return redirect("portal:reward_redeem", reward_id=self.reward.pk)
        except DomainError as error:
            messages.error(request, _friendly_message(error))
            return redirect("portal:reward", reward_id=self.reward.pk)
        if confirmed.replayed:
            messages.info(request, _("You have already redeemed this reward."))
        else:
            messages.success(
                request,
                _("You redeemed %(reward)s for %(points)s points.")
                % {"reward": self.reward.name, "points": confirmed.redemption.points},
            )
        return redirect(_redemption_result_url(confirmed.redemption))


def _voucher_card(voucher: Voucher, *, status: str) -> dict[str, Any]:
    card: dict[str, Any] = {
        "voucher": voucher,
        "status": status,
        "value_label": reward_value_label(kind=voucher.kind, value=voucher.value),
    }
    if status == VoucherStatus.ISSUED:
        card["qr"] = qr_svg(voucher.code, label=_("Voucher code %(code)s") % {"code": voucher.code})
    return card


class VoucherListView(MemberRequiredMixin, TemplateView):
    """The member's vouchers, newest first: ready to use (with the code's QR
    for the counter), then used, then expired or cancelled."""

    template_name = "portal/rewards/vouchers.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        now = timezone.now()
        vouchers = Voucher.objects.filter(member=self.member).select_related("reward")
        ready, past = [], []
        for voucher in vouchers.filter(status=VoucherStatus.ISSUED):
            status = voucher_status(voucher=voucher, now=now)
            (ready if status == VoucherStatus.ISSUED else past).append(
                _voucher_card(voucher, status=status)
            )
        done = vouchers.exclude(status=VoucherStatus.ISSUED)[:PAST_VOUCHERS_SHOWN]
        used = [
            _voucher_card(voucher, status=voucher.status)
            for voucher in done
            if voucher.status == VoucherStatus.USED
        ]
        past += [
            _voucher_card(voucher, status=voucher.status)
            for voucher in done
            if voucher.status != VoucherStatus.USED
        ]
        past.sort(key=lambda card: (card["voucher"].issued_at, card["voucher"].pk), reverse=True)
        return super().get_context_data(
            member=self.member, ready=ready, used=used, past=past, **kwargs
        )


class VoucherDetailView(MemberRequiredMixin, TemplateView):
    """One voucher of the member, big enough to scan at the counter."""

    template_name = "portal/rewards/voucher.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        voucher = (
            Voucher.objects.filter(member=self.member, code=self.kwargs["code"])
            .select_related("reward", "used_store")
            .first()
        )
        if voucher is None:
            raise Http404(_("No such voucher."))
        status = voucher_status(voucher=voucher, now=timezone.now())
        return super().get_context_data(
            member=self.member, card=_voucher_card(voucher, status=status), **kwargs
        )


class GiftCardListView(MemberRequiredMixin, TemplateView):
    """The member's gift cards, each in its design (or the default look), with
    its balance and a QR of its code."""

    template_name = "portal/rewards/gift_cards.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        now = timezone.now()
        cards = [
            {
                "card": card,
                "usable": card.is_usable(now),
                "qr": qr_svg(card.code, label=_("Gift card code %(code)s") % {"code": card.code}),
            }
            for card in GiftCard.objects.filter(member=self.member).select_related("design")
        ]
        return super().get_context_data(member=self.member, cards=cards, **kwargs)
