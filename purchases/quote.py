"""What a sale comes to and what it earns: the quote phase of
purchases.services.purchase_record, pure (no database). The campaigns engine
(campaigns.engine) evaluates the sale's campaigns here; their budgets and caps
are applied when the sale is written, under the locks (campaign awards
reserve), so the quote carries the engine's evaluation before those limits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import engine
from loyalty.errors import ValidationFailed
from loyalty.models import ProgramSettings
from loyalty.money import CENT
from purchases.earning import Award, floor_points, sale_awards, split_discount
from purchases.inputs import SaleInput
from rewards.models import Voucher
from rewards.pricing import SaleLine, voucher_discounts


@dataclass(frozen=True)
class SaleQuote:
    """The amounts and awards of a sale, computed without writing anything."""

    subtotal: Decimal
    discount_total: Decimal
    total: Decimal
    discount_shares: list[Decimal]
    eligible_amount: Decimal
    points_value: Decimal
    awards: list[Any]
    tier_code: str | None
    # What each of the sale's vouchers took off, in the till's order.
    voucher_amounts: tuple[Decimal, ...] = ()
    # The campaigns' evaluation of the sale (before budgets and caps), or None.
    campaigns: engine.Evaluation | None = None

    @property
    def points_earned(self) -> int:
        """Base and tier points, and the campaigns' before budgets and caps."""
        extra = self.campaigns.points if self.campaigns is not None else 0
        return sum(award.points for award in self.awards) + extra


def _voucher_shares(
    sale: SaleInput, gross: list[Decimal], till_shares: list[Decimal], vouchers: list[Voucher]
) -> tuple[list[Decimal], list[Decimal]]:
    """(each line's share of the till's and the vouchers' discounts, each
    voucher's amount). A free product's discount sits on its line (as far as
    the line has room); the rest is shared in proportion to what is left.
    Without vouchers that is the till's shares as they are (nothing to share)."""
    if not vouchers:
        return list(till_shares), []
    discounts = voucher_discounts(
        vouchers=[(v.kind, v.value, v.sku) for v in vouchers],
        lines=[SaleLine(i.sku, i.quantity, i.unit_price) for i in sale.items],
        total_before=sum(gross, Decimal("0.00")) - sale.discount_total,
    )
    shares = list(till_shares)
    shared = Decimal("0.00")
    for discount in discounts:
        if discount.line is None:
            shared += discount.amount
            continue
        take = min(discount.amount, gross[discount.line] - shares[discount.line])
        shares[discount.line] += take
        shared += discount.amount - take
    rooms = [g - s for g, s in zip(gross, shares, strict=True)]
    shares = [s + x for s, x in zip(shares, split_discount(rooms, shared), strict=True)]
    return shares, [d.amount for d in discounts]


def sale_quote(
    *,
    sale: SaleInput,
    program: ProgramSettings,
    vouchers: list[Voucher] | None = None,
    campaigns: list[engine.CampaignSnapshot] | None = None,
    segment_ids: frozenset[int] = frozenset(),
    first_purchase: bool = False,
    at: datetime | None = None,
) -> SaleQuote:
    """The amounts and awards of a sale that passed `sale_validate`.

    `vouchers` are the sale's vouchers, already checked usable: their discounts
    lower the total and the eligible amount before points are computed. The
    tier is the one the member holds now. `campaigns`: the live sale
    campaigns (campaigns.selectors), evaluated for a member's sale at `at`
    (the sale's local time) with the member's `segment_ids` and whether it is
    their `first_purchase`. Raises ValidationFailed when points or gift cards
    would pay more than the sale's total."""
    gross = [item.unit_price * item.quantity for item in sale.items]
    subtotal = sum(gross, Decimal("0.00"))
    till_shares = (
        list(sale.line_discounts)
        if sale.line_discounts
        else split_discount(gross, sale.discount_total)
    )
    shares, voucher_amounts = _voucher_shares(sale, gross, till_shares, vouchers or [])
    discount_total = sale.discount_total + sum(voucher_amounts, Decimal("0.00"))
    total = subtotal - discount_total
    points_value = (Decimal(sale.points_to_redeem) * program.point_value).quantize(CENT)
    errors: dict[str, list[str]] = {}
    if points_value > total:
        errors["points_to_redeem"] = [_("Points would pay more than the sale's total.")]
    gift_total = sum((card.amount for card in sale.gift_cards), Decimal("0.00"))
    if gift_total and points_value + gift_total > total:
        errors["gift_cards"] = [_("Gift cards would pay more than is left of the sale's total.")]
    if errors:
        raise ValidationFailed(fields=errors)
    earning_net = sum(
        (g - s for g, s, item in zip(gross, shares, sale.items, strict=True) if item.earns),
        Decimal("0.00"),
    )
    eligible = max(Decimal("0.00"), earning_net - points_value)
    tier = sale.member.tier if sale.member else None
    awards = (
        sale_awards(
            eligible_amount=eligible,
            earn_points=program.earn_points,
            earn_per_amount=program.earn_per_amount,
            tier_name=tier.name if tier else None,
            tier_multiplier=tier.multiplier if tier else Decimal("1"),
        )
        if sale.member
        else []
    )
    evaluation = None
    if sale.member is not None and campaigns:
        member = sale.member
        evaluation = engine.sale_evaluate(
            campaign_context(
                lines=[
                    ContextLine(item.sku, item.category, item.quantity, g - s, item.earns)
                    for item, g, s in zip(sale.items, gross, shares, strict=True)
                ],
                member_id=member.pk,
                tier_code=tier.code if tier else None,
                tier_multiplier=tier.multiplier if tier else Decimal("1"),
                earn_points=program.earn_points,
                earn_per_amount=program.earn_per_amount,
                eligible=eligible,
                earning_net=earning_net,
                points=sum(award.points for award in awards),
                segment_ids=segment_ids,
                first_purchase=first_purchase,
                at=at or sale.occurred_at,
                store_code=sale.store.code,
            ),
            campaigns,
        )
    return SaleQuote(
        subtotal=subtotal,
        discount_total=discount_total,
        total=total,
        discount_shares=shares,
        eligible_amount=eligible,
        points_value=points_value,
        awards=awards,
        tier_code=tier.code if tier else None,
        voucher_amounts=tuple(voucher_amounts),
        campaigns=evaluation,
    )


@dataclass(frozen=True)
class ContextLine:
    """A sale line as `campaign_context` takes it: `net` is what the line
    comes to after its share of the till's and the vouchers' discounts."""

    sku: str
    category: str
    quantity: int
    net: Decimal
    earns: bool


def campaign_context(
    *,
    lines: Iterable[ContextLine],
    member_id: int,
    tier_code: str | None,
    tier_multiplier: Decimal,
    earn_points: int,
    earn_per_amount: Decimal,
    eligible: Decimal,
    earning_net: Decimal,
    points: int,
    segment_ids: frozenset[int],
    first_purchase: bool,
    at: datetime,
    store_code: str,
) -> engine.SaleContext:
    """The sale as the campaigns engine reads it, from plain values: the one
    implementation of the live sale flow (`sale_quote`) and of the back-test
    over recorded purchases (purchases.backtest), so both award alike.

    `eligible` is what the sale earns on (earning lines' net less what points
    paid), `earning_net` the earning lines' net, `points` the sale's base and
    tier points. A line's points are its share of the eligible amount at the
    program's rate, floored, then times the tier's multiplier, floored (a
    multiplier on some lines multiplies those)."""
    # What of each earning line is left to earn once points paid their part.
    ratio = eligible / earning_net if earning_net > 0 else Decimal("0")
    context_lines = []
    for line in lines:
        line_points = 0
        if line.earns and line.net > 0:
            base = floor_points(line.net * ratio * earn_points / earn_per_amount)
            line_points = floor_points(base * tier_multiplier)
        context_lines.append(
            engine.SaleLine(
                sku=line.sku,
                category=line.category,
                quantity=line.quantity,
                net_amount=line.net if line.earns else Decimal("0.00"),
                earns=line.earns,
                points=line_points,
            )
        )
    return engine.SaleContext(
        member=engine.Audience(member_id=member_id, tier_code=tier_code, segment_ids=segment_ids),
        store_code=store_code,
        at=timezone.localtime(at),
        lines=tuple(context_lines),
        eligible_amount=eligible,
        points=points,
        first_purchase=first_purchase,
    )


def sale_receipt(
    pk: int,
    *,
    sale: SaleInput,
    quote: SaleQuote,
    points_earned: int,
    points_status: str,
    awards: list[Award],
    balance: int | None,
    tier: str | None,
    vouchers: list[dict[str, Any]] | None = None,
    gift_cards: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The API's answer to a recorded sale (API.md, POST /purchases), which
    its purchase row keeps for a replay: the sale flow's
    (purchases.services) and an imported sale's (purchases.import_points)."""
    return {
        "id": pk,
        "reference": sale.reference,
        "store": sale.store.code,
        "member_id": sale.member.public_id if sale.member else None,
        "occurred_at": sale.occurred_at.isoformat(),
        "total": str(quote.total),
        "eligible_amount": str(quote.eligible_amount),
        "points_earned": points_earned,
        "points_status": points_status,
        "awards": awards_receipt(awards),
        "points_redeemed": sale.points_to_redeem,
        "balance": balance,
        "tier": tier,
        "vouchers": vouchers or [],
        "gift_cards": gift_cards or [],
    }


def awards_receipt(awards: list[Award]) -> list[dict[str, Any]]:
    """A receipt's `awards`."""
    return [{"source": a.source, "points": a.points, "label": str(a.label)} for a in awards]


def quote_awards(quote: SaleQuote) -> list[dict[str, Any]]:
    """A preview's `awards`: base and tier, then the campaigns' (a preview
    reserves nothing, so before their budgets and caps)."""
    campaign = quote.campaigns.awards if quote.campaigns is not None else ()
    return awards_receipt(
        [*quote.awards, *(Award(a.source, a.points, a.label, "bonus") for a in campaign)]
    )


def quote_not_matched(quote: SaleQuote) -> list[dict[str, Any]]:
    """A preview's `not_matched`: each live campaign that gives the sale
    nothing and why (campaigns.engine's reason codes)."""
    if quote.campaigns is None:
        return []
    return [{"campaign": n.campaign_id, "reason": n.reason} for n in quote.campaigns.not_matched]


def quote_vouchers(vouchers: list[Voucher], quote: SaleQuote) -> list[dict[str, str]]:
    """The receipt's `vouchers`: each one's code, kind and what it took off."""
    return [
        {"code": v.code, "kind": v.kind, "discount": str(amount)}
        for v, amount in zip(vouchers, quote.voucher_amounts, strict=True)
    ]
