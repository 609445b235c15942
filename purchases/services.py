"""The sale flow: turn a receipt into points, voucher uses and gift-card
charges, all or nothing (returns are in purchases.returns).

`purchase_record` runs in phases, each its own function:

1. validate: what the input alone shows wrong (purchases.inputs, pure);
2. claim the receipt: insert its purchase row; a replay stops here, before
   any lock, so a voucher is used and a card charged once;
3. lock: every row the sale touches, at once, in the global order
   (purchases.locks; the order is written in rewards.locks);
4. check: under the locks, everything that could refuse the sale;
5. quote: the amounts and awards (purchases.quote, pure; campaigns plug in
   there);
6. write: vouchers, points, gift cards, lines, activity and tier;
7. receipt: the answer, stored with the purchase.

`sale_preview` runs validate, check (on rows read without locks) and quote,
and writes nothing.

A sale is unique per (store, reference). The same receipt again with the same
content returns the first receipt (`replayed`); with other content it is
refused with DuplicateReference. Two tills sending one receipt at the same
moment meet on the unique index: the second waits for the first to commit,
then replays it.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from campaigns.awarding import campaign_awarded_emit
from campaigns.challenge_engine import SaleLine
from campaigns.challenges import challenges_sale_recorded
from campaigns.engine import CampaignSnapshot
from campaigns.models import SALE_KINDS
from campaigns.referrals import referral_sale_recorded
from campaigns.selectors import campaigns_active
from campaigns.services import campaign_awards_reserve, campaign_holdouts_record
from loyalty.actors import Actor
from loyalty.config import config_cached
from loyalty.db import Lookup, atomic_whole, insert_many, insert_unless_taken, update
from loyalty.models import ProgramSettings, WebhookEventType
from loyalty.notifications import notify_on_commit
from loyalty.selectors import program_settings_get
from loyalty.services import audit_record
from loyalty.webhooks import webhook_emit
from members.history import Text
from members.ledger import Source
from members.models import EntryKind, EntryStatus, PointsAccount
from members.points import Credit, points_account_writes, points_earn_many, points_pay
from members.segments import member_in_segments
from members.selectors import points_spendable
from members.tiers import member_record_activity, member_tier_review
from purchases.checks import sale_check
from purchases.earning import Award
from purchases.errors import DuplicateReference
from purchases.inputs import (
    Recorded,
    SaleInput,
    sale_fingerprint,
    sale_gift_card_amounts,
    sale_validate,
    sale_voucher_codes,
)
from purchases.locks import SaleRows, sale_lock
from purchases.models import Purchase, PurchaseGiftCard, PurchaseLine
from purchases.quote import (
    SaleQuote,
    quote_awards,
    quote_not_matched,
    quote_vouchers,
    sale_quote,
    sale_receipt,
)
from rewards.errors import (
    DuplicateChargeReference,
)
from rewards.gift_cards import gift_card_charge_locked
from rewards.models import GiftCard, Voucher
from rewards.services import voucher_mark_used

# What the receipt's close writes on its purchase row.
CLOSED_FIELDS = (
    "subtotal",
    "discount_total",
    "total",
    "eligible_amount",
    "points_earned",
    "points_redeemed",
    "points_status",
    "tier_code",
    "response",
    "challenges",
)


@dataclass(frozen=True)
class _Written:
    """What the write phase tells the receipt."""

    points_status: str
    gift_cards: list[dict[str, str]]
    balance: int | None
    # Base and tier awards, then the campaigns' as their budgets and caps left them.
    awards: list[Award]
    # What the sale added to the member's challenges (Purchase.challenges).
    challenges: dict[str, Any]

    @property
    def points_earned(self) -> int:
        return sum(award.points for award in self.awards)


@atomic_whole
def purchase_record(
    *,
    sale: SaleInput,
    actor: Actor,
    now: datetime | None = None,
    recorded_at: datetime | None = None,
) -> Recorded:
    """Record a sale: use its vouchers, pay with points and gift cards, earn,
    count towards tiers — all or nothing, in the phases of this module's
    docstring.

    A sale by a staff user writes an AuditEvent (the purchase, its receipt as
    `after`) in the same transaction.

    Raises ValidationFailed, MemberInactive, InsufficientPoints,
    VoucherNotUsable, GiftCardNotUsable, GiftCardInsufficientBalance,
    DuplicateChargeReference (this store charged the card under this receipt
    number outside the sale) or DuplicateReference; then nothing is written.

    `now` is the moment the sale is played at: an imported history
    (purchases.imports) plays each sale at its `occurred_at`, so its points,
    pending wait and tier review are as they were then, and gives the real
    time as `recorded_at` (default: `now`).
    """
    now = now or timezone.now()
    sale_validate(sale=sale, now=now)
    fingerprint = sale_fingerprint(sale)
    purchase = _purchase_claim(sale, fingerprint=fingerprint, actor=actor, now=recorded_at or now)
    if purchase is None:
        return _purchase_replay(sale, fingerprint)
    rows = sale_lock(
        member_id=sale.member.pk if sale.member else None,
        voucher_codes=sale_voucher_codes(sale),
        gift_card_codes=sale_gift_card_amounts(sale),
    )
    # Under the lock the account's balance is the most the ledger can let the
    # sale spend (it expires due lots first, and checks again when it debits).
    vouchers = sale_check(
        sale=sale, rows=rows, spendable=rows.account.balance if rows.account else None, now=now
    )
    # Read once per sale: the quote, the earn and the tier review all need it.
    program = program_settings_get()
    quote = _sale_quote(sale, program=program, vouchers=vouchers, purchase=purchase)
    written = _sale_write(
        purchase,
        sale=sale,
        rows=rows,
        vouchers=vouchers,
        quote=quote,
        program=program,
        actor=actor,
        now=now,
    )
    # An imported history tells nobody: no messages, no webhooks (docs/import-export.md).
    member = None if sale.imported else sale.member
    if member is not None and member.notify_points_earned and written.points_earned:
        _points_earned_notify(purchase, sale=sale, quote=quote, written=written)
    receipt = _sale_receipt(purchase, sale=sale, vouchers=vouchers, quote=quote, written=written)
    _purchase_close(purchase, sale=sale, quote=quote, written=written, receipt=receipt, actor=actor)
    return Recorded(receipt=receipt, replayed=False, record_id=purchase.pk)


def _purchase_claim(
    sale: SaleInput, *, fingerprint: str, actor: Actor, now: datetime
) -> Purchase | None:
    """Insert the sale's purchase row, claiming its (store, reference); None
    when a receipt holds them already (the caller replays it). A till sending
    one receipt twice at once waits here, on the unique index, holding no
    other lock."""
    purchase = Purchase(
        store=sale.store,
        reference=sale.reference,
        member=sale.member,
        occurred_at=sale.occurred_at,
        recorded_at=now,
        subtotal=0,
        total=0,
        eligible_amount=0,
        fingerprint=fingerprint,
        recorded_by=actor.user,
    )
    return purchase if insert_unless_taken(purchase, unique=("store", "reference")) else None


_RECEIPT = Lookup(Purchase, "store_id", "reference")


def _purchase_replay(sale: SaleInput, fingerprint: str) -> Recorded:
    existing = _RECEIPT.get(sale.store.pk, sale.reference)
    if existing is None:
        # The receipt that held the reference rolled back meanwhile.
        raise DuplicateReference()
    if existing.fingerprint != fingerprint:
        raise DuplicateReference()
    return Recorded(receipt=json.loads(existing.response), replayed=True, record_id=existing.pk)


def _points_earned_notify(
    purchase: Purchase, *, sale: SaleInput, quote: SaleQuote, written: _Written
) -> None:
    """Tell the member, who asked for it (Member.notify_points_earned, read
    from the row the sale has), of the points the sale earned: the inbox entry
    and the sending are written by a task after the commit, so the sale's
    transaction gets no statement and a sale that rolls back tells nothing.
    The purchase is the event: a retried task writes one message."""
    assert sale.member is not None
    notify_on_commit(
        member_id=sale.member.pk,
        kind="points_earned",
        context={
            "points": written.points_earned,
            "store": sale.store.name,
            "reference": sale.reference,
            # A plain decimal: each channel writes it for the member (Kind.amounts).
            "total": str(quote.total),
            "balance": written.balance,
        },
        event_key=f"purchase:{purchase.pk}",
        at=sale.occurred_at,
    )


# --- Write ------------------------------------------------------------------------------------


def _sale_write(
    purchase: Purchase,
    *,
    sale: SaleInput,
    rows: SaleRows,
    vouchers: list[Voucher],
    quote: SaleQuote,
    program: ProgramSettings,
    actor: Actor,
    now: datetime,
) -> _Written:
    """Write what the checked sale does, on its locked rows: vouchers used,
    points paid and earned, gift cards charged (each with its PurchaseGiftCard
    row), the lines, the member's activity and tier. The account's totals are
    saved once, at the end (members.points.points_account_writes)."""
    writes = points_account_writes(rows.account) if rows.account is not None else nullcontext()
    with writes:
        return _sale_write_rows(
            purchase,
            sale=sale,
            rows=rows,
            vouchers=vouchers,
            quote=quote,
            program=program,
            actor=actor,
            now=now,
        )


def _sale_write_rows(
    purchase: Purchase,
    *,
    sale: SaleInput,
    rows: SaleRows,
    vouchers: list[Voucher],
    quote: SaleQuote,
    program: ProgramSettings,
    actor: Actor,
    now: datetime,
) -> _Written:
    for voucher, amount in zip(vouchers, quote.voucher_amounts, strict=True):
        voucher_mark_used(
            voucher,
            actor=actor,
            purchase_reference=sale.reference,
            purchase_id=purchase.pk,
            amount=amount,
            store=sale.store,
            now=now,
        )
    points_status, awards = "available", list(quote.awards)
    challenges: dict[str, Any] = {}
    if rows.account is not None:
        assert sale.member is not None
        # A referred friend's first qualifying sale qualifies the referral (its
        # row locked here, after the sale's other rows and before campaign
        # budgets; both members are paid after the commit). Nothing to read
        # for a member with no pending referral.
        # Not for an imported history: it qualifies no referral.
        if not sale.imported:
            referral_sale_recorded(
                member=sale.member,
                purchase_id=purchase.pk,
                store_id=sale.store.pk,
                eligible_amount=quote.eligible_amount,
                occurred_at=sale.occurred_at,
                now=now,
            )
        points_status, awards = _points_write(
            purchase, sale=sale, account=rows.account, quote=quote, program=program, now=now
        )
        # Challenge progress rides on the sale's transaction and account lock
        # (campaigns.challenges: no statement for a member no live challenge
        # admits; an imported history moves none).
        if not sale.imported:
            challenges = challenges_sale_recorded(
                member=sale.member,
                account=rows.account,
                purchase_id=purchase.pk,
                store_id=sale.store.pk,
                total=quote.total,
                lines=[
                    SaleLine(
                        sku=item.sku,
                        category=item.category,
                        net=item.unit_price * item.quantity - share,
                    )
                    for item, share in zip(sale.items, quote.discount_shares, strict=True)
                ],
                occurred_at=sale.occurred_at,
                now=now,
                program=program,
            )
    gift_cards = _gift_cards_write(purchase, sale=sale, cards=rows.gift_cards, actor=actor, now=now)
    insert_many(
        [
            PurchaseLine(
                purchase=purchase,
                sku=item.sku,
                name=item.name,
                category=item.category,
                quantity=item.quantity,
                unit_price=item.unit_price,
                earns=item.earns,
                discount_share=share,
            )
            for item, share in zip(sale.items, quote.discount_shares, strict=True)
        ]
    )
    if sale.member is not None:
        member_record_activity(
            member=sale.member,
            occurred_at=sale.occurred_at,
            spend=quote.total,
            points=sum(award.points for award in awards),
            source=Source("purchase", str(purchase.pk)),
            account=rows.account,
        )
        member_tier_review(
            member=sale.member,
            now=now,
            allow_downgrade=False,
            program=program,
            account=rows.account,
        )
    return _Written(
        points_status=points_status,
        gift_cards=gift_cards,
        balance=rows.account.balance if rows.account is not None else None,
        awards=awards,
        challenges=challenges,
    )


def _points_write(
    purchase: Purchase,
    *,
    sale: SaleInput,
    account: PointsAccount,
    quote: SaleQuote,
    program: ProgramSettings,
    now: datetime,
) -> tuple[str, list[Award]]:
    """Pay with the sale's points, then earn its awards, on the locked account
    (kept up to date): base and tier, then its campaigns' as their budgets and
    the member's caps leave them (reserved here, the budget rows locked last
    of the sale's locks). Each award is its own entry, with the sale as its
    source, so a return takes back its share of every one; its key and the
    receipt name the campaign. Returns the receipt's `points_status` and the
    awards. Raises InsufficientPoints."""
    member = sale.member
    assert member is not None
    source = Source("purchase", str(purchase.pk))
    awards = list(quote.awards)
    if quote.campaigns is not None:
        evaluation = campaign_awards_reserve(
            member_id=member.pk,
            evaluation=quote.campaigns,
            campaigns=_sale_campaigns(),
            at=timezone.localtime(sale.occurred_at),
        )
        campaign_holdouts_record(member_id=member.pk, campaign_ids=evaluation.holdouts)
        awards += [
            Award(award.source, award.points, award.label, EntryKind.BONUS)
            for award in evaluation.awards
        ]
        for award in evaluation.awards:
            campaign_awarded_emit(
                member=member,
                campaign_id=award.campaign_id,
                points=award.points,
                label=award.label,
                occurred_at=sale.occurred_at,
                now=now,
                purchase_id=purchase.pk,
            )
    # Each reader gets the lines in their own language (members/history.py).
    paid = Text("sale.paid", store=sale.store.name, reference=sale.reference)
    descriptions = [
        Text("sale.award", award=award.label, store=sale.store.name, reference=sale.reference)
        for award in awards
    ]
    if sale.points_to_redeem:
        points_pay(
            member=member,
            points=sale.points_to_redeem,
            description=paid,
            source=source,
            now=now,
            account=account,
        )
    entries = points_earn_many(
        member=member,
        awards=[
            Credit(
                points=award.points,
                kind=EntryKind(award.kind),
                description=description,
                # The purchase row is this transaction's own: no entry has its key.
                key=f"purchase:{purchase.pk}:{award.source}",
            )
            for award, description in zip(awards, descriptions, strict=True)
        ],
        source=source,
        occurred_at=sale.occurred_at,
        now=now,
        program=program,
        account=account,
    )
    pending = any(entry.status == EntryStatus.PENDING for entry in entries)
    return ("pending" if pending else "available"), awards


def _sale_campaigns() -> list[CampaignSnapshot]:
    """The live sale campaigns (multiplier, category and spend bonus), from the
    configuration cache: no query per sale."""
    return config_cached(
        "campaigns:sale", lambda: campaigns_active(now=timezone.now(), kinds=SALE_KINDS)
    )


def _sale_quote(
    sale: SaleInput, *, program: ProgramSettings, vouchers: list[Voucher], purchase: Purchase | None
) -> SaleQuote:
    """The quote with the sale's campaigns. Reads the member's segments only
    when a live campaign targets one, and whether this is their first purchase
    only when a live campaign pays for that: none of it otherwise."""
    # An imported history earns base and tier points only (docs/import-export.md).
    campaigns = _sale_campaigns() if sale.member is not None and not sale.imported else []
    segment_ids: frozenset[int] = frozenset()
    first_purchase = False
    if campaigns and sale.member is not None:
        wanted = {c.segment_id for c in campaigns if c.segment_id is not None}
        if wanted:
            segment_ids = frozenset(
                member_in_segments(member=sale.member, segment_ids=wanted, now=sale.occurred_at)
            )
        if any(getattr(c.params, "first_purchase_only", False) for c in campaigns):
            earlier = Purchase.objects.filter(member=sale.member)
            if purchase is not None:
                earlier = earlier.exclude(pk=purchase.pk)
            first_purchase = not earlier.exists()
    return sale_quote(
        sale=sale,
        program=program,
        vouchers=vouchers,
        campaigns=campaigns,
        segment_ids=segment_ids,
        first_purchase=first_purchase,
        at=sale.occurred_at,
    )


def _gift_cards_write(
    purchase: Purchase,
    *,
    sale: SaleInput,
    cards: dict[str, GiftCard],
    actor: Actor,
    now: datetime,
) -> list[dict[str, str]]:
    """Charge the sale's locked gift cards at its store under its reference (a
    card listed twice is charged once for the sum), each charge with its
    PurchaseGiftCard row. Returns the receipt's `gift_cards`. Raises
    DuplicateChargeReference."""
    charges, links = [], []
    for code, amount in sale_gift_card_amounts(sale).items():
        card = cards[code]
        charge = gift_card_charge_locked(
            card, amount=amount, reference=sale.reference, store=sale.store, actor=actor, now=now
        )
        if charge.replayed:
            # This store charged the card under this receipt number outside
            # the sale (POST /gift-cards/{code}/charges): the sale's own
            # charge must not hide behind it.
            raise DuplicateChargeReference()
        links.append(
            PurchaseGiftCard(
                purchase=purchase, gift_card=card, charge=charge.entry, amount=charge.charged
            )
        )
        charges.append(
            {"code": code, "charged": str(charge.charged), "balance": str(charge.balance)}
        )
    PurchaseGiftCard.objects.bulk_create(links)
    return charges


# --- Receipt ----------------------------------------------------------------------------------


def _sale_receipt(
    purchase: Purchase,
    *,
    sale: SaleInput,
    vouchers: list[Voucher],
    quote: SaleQuote,
    written: _Written,
) -> dict[str, Any]:
    """The API's answer to the sale (API.md, POST /purchases)."""
    return sale_receipt(
        purchase.pk,
        sale=sale,
        quote=quote,
        points_earned=written.points_earned,
        points_status=written.points_status,
        awards=written.awards,
        balance=written.balance,
        tier=quote.tier_code,
        vouchers=quote_vouchers(vouchers, quote),
        gift_cards=written.gift_cards,
    )


def _purchase_close(
    purchase: Purchase,
    *,
    sale: SaleInput,
    quote: SaleQuote,
    written: _Written,
    receipt: dict[str, Any],
    actor: Actor,
) -> None:
    """Store the sale's amounts and receipt on its purchase row (a replay
    answers it), and audit a sale typed in by staff."""
    purchase.subtotal = quote.subtotal
    purchase.discount_total = quote.discount_total
    purchase.total = quote.total
    purchase.eligible_amount = quote.eligible_amount
    purchase.points_earned = written.points_earned
    purchase.points_redeemed = sale.points_to_redeem
    purchase.points_status = written.points_status
    purchase.tier_code = quote.tier_code or ""
    purchase.response = json.dumps(receipt)
    purchase.challenges = json.dumps(written.challenges) if written.challenges else ""
    update(purchase, CLOSED_FIELDS)
    # The receipt is the event's data: one INSERT, and only with a subscriber.
    if not sale.imported:
        webhook_emit(WebhookEventType.PURCHASE_RECORDED, receipt, now=purchase.recorded_at)
    if actor.user is not None:
        # A sale typed in by staff is a staff write (DESIGN.md §7). A till's
        # sales (API keys) are the hot path and get no audit row each, like the
        # voucher uses and gift-card charges inside them: the purchase row with
        # its store and receipt number is their record.
        audit_record(actor=actor, action="purchase.record", obj=purchase, after=receipt)


# --- Preview ----------------------------------------------------------------------------------


def sale_preview(*, sale: SaleInput, now: datetime | None = None) -> dict[str, Any]:
    """What `purchase_record` would answer, without writing anything: its
    validate, check and quote phases on rows read without locks.

    Raises what `purchase_record` raises for the same sale, InsufficientPoints
    included when `points_to_redeem` is above what the member can spend (lots
    past their expiry do not count). The `balance` shown is after paying,
    earning (when not pending, nor already past its expiry) and paying off a
    clawback owed out of the points earned."""
    now = now or timezone.now()
    sale_validate(sale=sale, now=now)
    rows = SaleRows(
        vouchers={v.code: v for v in Voucher.objects.filter(code__in=sale_voucher_codes(sale))},
        gift_cards={
            card.code: card
            for card in GiftCard.objects.filter(code__in=list(sale_gift_card_amounts(sale)))
        },
    )
    balance = points_spendable(member=sale.member, now=now) if sale.member else None
    vouchers = sale_check(sale=sale, rows=rows, spendable=balance, now=now)
    program = program_settings_get()
    quote = _sale_quote(sale, program=program, vouchers=vouchers, purchase=None)
    earned = quote.points_earned
    available_at = sale.occurred_at + timedelta(days=program.pending_days)
    pending = available_at > now
    expired = (
        program.expiry_days is not None
        and available_at + timedelta(days=program.expiry_days) <= now
    )
    if balance is not None and sale.member is not None:
        balance -= sale.points_to_redeem
        if not pending and not expired:
            balance += earned - min(sale.member.account.clawback_owed, earned)
    asked = sale_gift_card_amounts(sale)
    return {
        "reference": sale.reference,
        "store": sale.store.code,
        "member_id": sale.member.public_id if sale.member else None,
        "total": str(quote.total),
        "eligible_amount": str(quote.eligible_amount),
        "points_earned": earned,
        "points_status": "pending" if pending else "available",
        "awards": quote_awards(quote),
        "not_matched": quote_not_matched(quote),
        "points_redeemed": sale.points_to_redeem,
        "balance": balance,
        "tier": quote.tier_code,
        "vouchers": quote_vouchers(vouchers, quote),
        "gift_cards": [
            {
                "code": code,
                "charged": str(amount),
                "balance": str(rows.gift_cards[code].balance - amount),
            }
            for code, amount in asked.items()
        ],
    }
