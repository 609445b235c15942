"""Verification of every ledger invariant (DESIGN.md §4), for `manage.py
ledger_check` and the property tests."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Q, Sum

from members.models import EntryKind, EntryStatus, PointsAccount, PointsEntry


def ledger_problems(*, member_ids: Iterable[int] | None = None) -> list[str]:
    """One sentence per broken invariant, naming the member; empty when sound.

    - balance ≥ 0, pending ≥ 0;
    - balance == Σ available entries == Σ what is left of available lots;
    - pending == Σ what is left of pending lots == Σ pending entries - Σ releases;
    - a lot keeps between 0 and the points it added; debits keep nothing.
    (Each idempotency key posting once is a unique index.)
    """
    entries = PointsEntry.objects.all()
    accounts = PointsAccount.objects.select_related("member")
    if member_ids is not None:
        member_ids = list(member_ids)
        entries = entries.filter(member_id__in=member_ids)
        accounts = accounts.filter(member_id__in=member_ids)
    sums = {
        row["member_id"]: row
        for row in entries.values("member_id").annotate(
            available=Sum("points", filter=Q(status=EntryStatus.AVAILABLE)),
            available_left=Sum("remaining", filter=Q(status=EntryStatus.AVAILABLE)),
            pending_left=Sum("remaining", filter=Q(status=EntryStatus.PENDING)),
            pending=Sum("points", filter=Q(status=EntryStatus.PENDING)),
            released=Sum("points", filter=Q(kind=EntryKind.RELEASE)),
        )
    }
    problems = []
    for account in accounts.iterator(chunk_size=1000):
        row = sums.get(account.member_id, {})
        name = account.member.public_id
        facts = {
            "balance": account.balance,
            "available entries": row.get("available") or 0,
            "points left in lots": row.get("available_left") or 0,
        }
        pending_facts = {
            "pending": account.pending,
            "points left in pending lots": row.get("pending_left") or 0,
            "pending entries minus releases": (row.get("pending") or 0)
            - (row.get("released") or 0),
        }
        if account.balance < 0:
            problems.append(f"{name}: balance {account.balance} is negative")
        if account.pending < 0:
            problems.append(f"{name}: pending {account.pending} is negative")
        for facts_of in (facts, pending_facts):
            if len(set(facts_of.values())) > 1:
                told = ", ".join(f"{label} {value}" for label, value in facts_of.items())
                problems.append(f"{name}: {told} disagree")
    impossible = entries.filter(
        Q(remaining__lt=0)
        | Q(points__lte=0, remaining__gt=0)
        | Q(points__gt=0, remaining__gt=F("points"))
    ).select_related("member")
    for entry in impossible[:100]:
        problems.append(
            f"{entry.member.public_id}: entry {entry.pk} ({entry.kind} {entry.points:+d}) "
            f"keeps {entry.remaining}"
        )
    return problems
