"""Ledger invariants of returns (DESIGN.md §4), registered with
`members.checks` so `manage.py ledger_check` runs them.

For every sale with returns, against the points entries of its source
("purchase", id):

- its returns settle no more than it earned (Σ earn and bonus entries), and
  what they took back (reversed or owed) together with what of its lots
  expired is no more than it earned either: a return never takes points
  from elsewhere for points of the sale that had expired;
- its reverse and refund entries are what its returns say they reversed and
  refunded, and the refunds are no more than the points paid;
- returned in full, it nets to exactly zero: its returns settled all it
  earned and refunded all the points paid with it;
- each return counts in the tier window of the sale (its activity is dated
  at the sale).

For every member: the clawback owed is the returns' clawbacks less the
clawback entries that paid them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from members.ledger import EARNED_LOT_KINDS
from members.models import EntryKind, MemberActivity, PointsAccount, PointsEntry
from purchases.models import Purchase, Return


def _entry_sums(member_ids: list[int] | None, purchase_ids: list[str]) -> dict[str, dict]:
    """What each sale's source did in the points ledger, by purchase id."""
    entries = PointsEntry.objects.filter(source_type="purchase", source_id__in=purchase_ids)
    if member_ids is not None:
        entries = entries.filter(member_id__in=member_ids)
    rows = entries.values("source_id").annotate(
        earned=Sum("points", filter=Q(kind__in=[EntryKind.EARN, EntryKind.BONUS])),
        paid=Sum("points", filter=Q(kind=EntryKind.REDEEM)),
        refunded=Sum("points", filter=Q(kind=EntryKind.REFUND)),
        reversed=Sum("points", filter=Q(kind=EntryKind.REVERSE)),
        lots_expired=Sum("points", filter=Q(kind=EntryKind.EXPIRE, lot__kind__in=EARNED_LOT_KINDS)),
    )
    return {row["source_id"]: {k: v or 0 for k, v in row.items()} for row in rows}


def return_problems(*, member_ids: Iterable[int] | None = None) -> list[str]:
    """One sentence per broken invariant of returns, naming the member and the
    sale (see the module docstring)."""
    ids = list(member_ids) if member_ids is not None else None
    zero = Decimal("0.00")
    sales = Purchase.objects.filter(member__isnull=False, returns__isnull=False)
    if ids is not None:
        sales = sales.filter(member_id__in=ids)
    rows = list(
        sales.values("id", "reference", "total", "member__public_id").annotate(
            amount=Coalesce(Sum("returns__amount"), zero),
            reversed=Coalesce(Sum("returns__points_reversed"), 0),
            clawback=Coalesce(Sum("returns__clawback"), 0),
            expired=Coalesce(Sum("returns__points_expired"), 0),
            refunded=Coalesce(Sum("returns__points_refunded"), 0),
        )
    )
    ledger = _entry_sums(ids, [str(row["id"]) for row in rows])
    problems = []
    for row in rows:
        points = ledger.get(str(row["id"]), defaultdict(int))
        earned, paid, lots_expired = points["earned"], -points["paid"], -points["lots_expired"]
        taken = row["reversed"] + row["clawback"]
        settled = taken + row["expired"]
        sale = f"{row['member__public_id']}: sale {row['id']} ({row['reference']})"
        if settled > earned:
            problems.append(f"{sale}: its returns settled {settled} points, it earned {earned}")
        if taken + lots_expired > earned:
            problems.append(
                f"{sale}: its returns took back {taken} points and {lots_expired} of its "
                f"{earned} expired: points taken from elsewhere"
            )
        if row["expired"] > lots_expired:
            problems.append(
                f"{sale}: its returns count {row['expired']} points as expired, {lots_expired} did"
            )
        if -points["reversed"] != row["reversed"]:
            problems.append(
                f"{sale}: its returns reversed {row['reversed']} points, "
                f"its reverse entries {-points['reversed']}"
            )
        if points["refunded"] != row["refunded"] or row["refunded"] > paid:
            problems.append(
                f"{sale}: its returns refunded {row['refunded']} points, its refund entries "
                f"{points['refunded']}, of {paid} paid"
            )
        if round(row["amount"], 2) >= row["total"] and (settled, row["refunded"]) != (earned, paid):
            problems.append(
                f"{sale}: returned in full but nets {earned - settled:+d} points earned "
                f"and {row['refunded'] - paid:+d} paid"
            )
    return problems + _activity_problems(ids) + _clawback_problems(ids)


def _activity_problems(member_ids: list[int] | None) -> list[str]:
    """Returns whose tier activity is not dated at the sale they return."""
    returns = Return.objects.filter(purchase__member__isnull=False)
    if member_ids is not None:
        returns = returns.filter(purchase__member_id__in=member_ids)
    sale_times = dict(returns.values_list("id", "purchase__occurred_at"))
    activity = MemberActivity.objects.filter(
        source_type="return", source_id__in=[str(pk) for pk in sale_times]
    ).values_list("source_id", "occurred_at", "member__public_id")
    return [
        f"{member}: return {source_id} counts at {occurred_at:%Y-%m-%d %H:%M}, "
        f"not at its sale ({sale_times[int(source_id)]:%Y-%m-%d %H:%M})"
        for source_id, occurred_at, member in activity
        if occurred_at != sale_times[int(source_id)]
    ]


def _clawback_problems(member_ids: list[int] | None) -> list[str]:
    """Members whose clawback owed is not what their returns left owed."""
    owed = Return.objects.filter(purchase__member__isnull=False)
    paid = PointsEntry.objects.filter(kind=EntryKind.CLAWBACK)
    accounts = PointsAccount.objects.all()
    if member_ids is not None:
        owed = owed.filter(purchase__member_id__in=member_ids)
        paid = paid.filter(member_id__in=member_ids)
        accounts = accounts.filter(member_id__in=member_ids)
    by_returns = dict(
        owed.values("purchase__member_id")
        .annotate(total=Sum("clawback"))
        .values_list("purchase__member_id", "total")
    )
    paid_by = dict(
        paid.values("member_id").annotate(total=Sum("points")).values_list("member_id", "total")
    )
    problems = []
    for member_id, public_id, held in accounts.values_list(
        "member_id", "member__public_id", "clawback_owed"
    ).iterator(chunk_size=1000):
        expected = (by_returns.get(member_id) or 0) + (paid_by.get(member_id) or 0)
        if held != expected:
            problems.append(
                f"{public_id}: clawback owed {held}, its returns less the clawbacks paid "
                f"say {expected}"
            )
    return problems
