"""The member's rewards pages: the catalogue, a reward and its redemption, the
member's vouchers and gift cards. Every query is scoped to `self.member`
(MemberRequiredMixin): no URL here names a member, and a voucher's code only
opens a page when the voucher is the signed-in member's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.db import transaction
from django.db.models import Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.generic import TemplateView

from loyalty.actors import Actor
from loyalty.errors import DomainError
from members.access import MemberRequiredMixin
from members.codes import qr_svg
from members.errors import InsufficientPoints
from members.models import Member
from members.selectors import points_spendable
from rewards import locks
from rewards.errors import LimitReached, RewardNotFound
from rewards.models import (
    GiftCard,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardKind,
    Voucher,
    VoucherStatus,
)
from rewards.portal_forms import RedeemConfirmForm, RewardFilterForm
from rewards.selectors import reward_get, reward_list_available, voucher_status
from rewards.services import redemption_create, reward_unavailable_reason

# A confirmation left open longer than this is shown again with today's numbers.
REDEEM_TOKEN_MAX_AGE = 60 * 60
REDEEM_SIGNING_NAMESPACE = "rewards.portal.redeem"
PAST_VOUCHERS_SHOWN = 50


def reward_value_label(*, kind: str, value: Decimal | None, cause: str = "") -> str:
    """What a reward (or a voucher of it) is worth, in words a member reads at a glance."""
    currency = settings.LOYALTY_CURRENCY
    money = floatformat(value, 2) if value is not None else ""
    if kind == RewardKind.DISCOUNT_FIXED and value is not None:
        return _("%(currency)s %(amount)s off") % {"currency": currency, "amount": money}
    if kind == RewardKind.DISCOUNT_PERCENT and value is not None:
        return _("%(percent)s%% off") % {"percent": floatformat(value, -2)}
    if kind == RewardKind.FREE_PRODUCT:
        return _("A free product")
    if kind == RewardKind.GIFT_CARD and value is not None:
        return _("Gift card of %(currency)s %(amount)s") % {"currency": currency, "amount": money}
    if kind == RewardKind.EXPERIENCE:
        return _("An experience")
    if kind == RewardKind.DONATION:
        return _("A donation to %(cause)s") % {"cause": cause} if cause else _("A donation")
    return str(RewardKind(kind).label)


@dataclass(frozen=True)
class RewardOffer:
    """A reward as the member sees it: what it is worth, what is left for them,
    and why they cannot redeem it now (None: they can)."""

    reward: Reward
    value_label: str
    reason: str | None
    short_by: int
    redeemed: int
    left_for_member: int | None

    @property
    def can_redeem(self) -> bool:
        return self.reason is None


def _redeemed_counts(member: Member, reward_ids: list[int]) -> dict[int, int]:
    """Units of each reward the member holds from redemptions not cancelled
    (what the per-member limit counts), in one query."""
    rows = (
        Redemption.objects.filter(
            member=member, reward_id__in=reward_ids, status=RedemptionStatus.COMPLETED
        )
        .values("reward_id")
        .annotate(units=Sum("quantity"))
    )
    return {row["reward_id"]: row["units"] for row in rows}


def reward_offers(
    *, member: Member, rewards: list[Reward], balance: int, now: datetime
) -> list[RewardOffer]:
    """Each reward with the member's standing on it: first the reasons the
    service would refuse it (reward_unavailable_reason), then the limit, then
    the points, so the message is the one that matters most."""
    counts = _redeemed_counts(member, [reward.pk for reward in rewards])
    offers = []
    for reward in rewards:
        redeemed = counts.get(reward.pk, 0)
        left = (
            None if reward.per_member_limit is None else max(reward.per_member_limit - redeemed, 0)
        )
        short_by = max(reward.points_cost - balance, 0)
        reason = reward_unavailable_reason(reward=reward, member=member, now=now)
        if reason is None and left == 0:
            reason = str(LimitReached.default_message)
        if reason is None and short_by:
            reason = ngettext(
                "You need %(points)s more point.", "You need %(points)s more points.", short_by
            ) % {"points": short_by}
        offers.append(
            RewardOffer(
                reward=reward,
                value_label=reward_value_label(
                    kind=reward.kind, value=reward.value, cause=reward.cause
                ),
                reason=reason,
                short_by=short_by,
                redeemed=redeemed,
                left_for_member=left,
            )
        )
    return offers


def _balance(member: Member) -> int:
    """What the member can spend now (lots past their expiry left out)."""
    return points_spendable(member=member, now=timezone.now())


def _latest_redemption_id(member: Member) -> int:
    return (
        Redemption.objects.filter(member=member)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
        or 0
    )


def redeem_token(*, member: Member, reward: Reward) -> str:
    """A signed one-time token for the confirmation form. It records the
    member's latest redemption when the page was drawn: once any redemption
    follows, the token is spent, so a second click, a resent form or a reload
    of the POST cannot redeem again. The check runs under the member's points
    lock, the row redemption_create locks too, so two requests cannot both
    pass it."""
    payload = {"m": member.pk, "r": reward.pk, "after": _latest_redemption_id(member)}
    return signing.dumps(payload, salt=REDEEM_SIGNING_NAMESPACE)


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
            initial={"token": redeem_token(member=self.member, reward=self.reward)}
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
        payload = self._token_payload(form)
        if payload is None:
            messages.error(request, _("This confirmation has expired. Please confirm again."))
            return redirect("portal:reward_redeem", reward_id=self.reward.pk)
        try:
            with transaction.atomic():
                locks.member_points_lock(member_id=self.member.pk)
                latest = (
                    Redemption.objects.filter(member=self.member, pk__gt=payload["after"])
                    .select_related("reward")
                    .order_by("pk")
                    .first()
                )
                if latest is None:
                    redemption = redemption_create(
                        member=self.member, reward=self.reward, actor=Actor.from_request(request)
                    )
        except DomainError as error:
            messages.error(request, _friendly_message(error))
            return redirect("portal:reward", reward_id=self.reward.pk)
        if latest is not None:
            if latest.reward_id == self.reward.pk:
                messages.info(request, _("You have already redeemed this reward."))
                return redirect(_redemption_result_url(latest))
            messages.warning(
                request, _("Your points have changed since this page opened. Please confirm again.")
            )
            return redirect("portal:reward_redeem", reward_id=self.reward.pk)
        messages.success(
            request,
            _("You redeemed %(reward)s for %(points)s points.")
            % {"reward": self.reward.name, "points": redemption.points},
        )
        return redirect(_redemption_result_url(redemption))

    def _token_payload(self, form: RedeemConfirmForm) -> dict[str, int] | None:
        """The token's payload if it is valid, recent, and for this member and reward."""
        if not form.is_valid():
            return None
        try:
            payload = signing.loads(
                form.cleaned_data["token"],
                salt=REDEEM_SIGNING_NAMESPACE,
                max_age=REDEEM_TOKEN_MAX_AGE,
            )
        except signing.BadSignature:
            return None
        if payload.get("m") != self.member.pk or payload.get("r") != self.reward.pk:
            return None
        return payload


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
