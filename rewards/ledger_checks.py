"""Ledger invariants of gift cards, registered with `members.checks` so
`manage.py ledger_check` runs them: every card's balance is the sum of its own
entries, and each entry's balance_after is the running total of the card's
entries in the order they were written (by id: every write of a card holds
its row lock, so ids follow that order even when two sales that read the
clock in one order took the card in the other)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import F, Sum, Window
from django.db.models.functions import Coalesce

from rewards.models import GiftCard, GiftCardEntry

SHOWN = 100


def gift_card_problems(*, member_ids: Iterable[int] | None = None) -> list[str]:
    """One sentence per card that breaks an invariant, naming it by id (a code
    is a bearer secret and is not printed). With `member_ids`, the cards of
    those members only."""
    cards = GiftCard.objects.all()
    entries = GiftCardEntry.objects.all()
    if member_ids is not None:
        member_ids = list(member_ids)
        cards = cards.filter(member_id__in=member_ids)
        entries = entries.filter(gift_card__member_id__in=member_ids)
    # Compared here, to the cent, not in SQL: SQLite sums decimals as floats.
    totals = cards.annotate(entries_total=Coalesce(Sum("entries__amount"), Decimal("0.00")))
    problems = [
        f"gift card {card_id}: balance {balance}, its entries add up to {round(total, 2)}"
        for card_id, balance, total in totals.values_list(
            "id", "balance", "entries_total"
        ).iterator(chunk_size=1000)
        if balance != round(total, 2)
    ][:SHOWN]
    running = Window(
        Sum("amount"),
        partition_by=[F("gift_card_id")],
        order_by=[F("id").asc()],
    )
    history = (
        entries.annotate(running=running)
        .values_list("gift_card_id", "id", "balance_after", "running")
        .order_by("gift_card_id", "id")
    )
    problems += [
        f"gift card {card_id}: entry {entry_id} says balance {after} after it, "
        f"its entries add up to {round(total, 2)}"
        for card_id, entry_id, after, total in history.iterator(chunk_size=1000)
        if after != round(total, 2)
    ][:SHOWN]
    return problems
