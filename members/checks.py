"""Verification of every ledger invariant (DESIGN.md §4), for `manage.py
ledger_check` and the property tests.

The points ledger's own rules are checked here (`points_problems`). Rules
that span apps — a sale's returns against its points, a gift card against its
entries — are checked by the app that owns them, registered with
`ledger_check_register` from its AppConfig.ready, so this layer needs no
import of the apps above it; `ledger_problems` runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import Case, F, Q, QuerySet, Sum, Value, When, Window

from members.models import EntryKind, EntryStatus, PointsAccount, PointsEntry

LedgerCheck = Callable[..., list[str]]
SHOWN_PER_KIND = 100

_checks: list[LedgerCheck] = []


def ledger_check_register(check: LedgerCheck) -> None:
    """Add an app's check to `ledger_problems`: a callable taking
    `member_ids` (None: everyone) and returning one sentence per problem."""
    if check not in _checks:
        _checks.append(check)


def ledger_problems(*, member_ids: Iterable[int] | None = None) -> list[str]:
    """Every broken invariant, of the points ledger and of the registered
    checks, one sentence each naming the member (or the card); empty when sound."""
    ids = list(member_ids) if member_ids is not None else None
    problems = points_problems(member_ids=ids)
    for check in _checks:
        problems += check(member_ids=ids)
    return problems


def _sum(field: str, **condition: object) -> Sum:
    return Sum(field, filter=Q(**condition))


def points_problems(*, member_ids: Iterable[int] | None = None) -> list[str]:
    """One sentence per broken invariant of the points ledger, naming the member.

    - balance ≥ 0, pending ≥ 0;
    - balance == Σ available entries == Σ what is left of available lots;
    - pending == Σ what is left of pending lots == Σ pending entries - Σ releases;
    - lifetime_earned == Σ earn and bonus entries less what reversals took
      (reverse entries, clawbacks paid and still owed);
    - redeemed == Σ redeem entries less the refunds of points paid;
    - expired == Σ expire entries;
    - each entry's balance_after is the running total of the available
      entries before it and itself, in history order (created_at, then id);
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
            available=_sum("points", status=EntryStatus.AVAILABLE),
            available_left=_sum("remaining", status=EntryStatus.AVAILABLE),
            pending_left=_sum("remaining", status=EntryStatus.PENDING),
            pending=_sum("points", status=EntryStatus.PENDING),
            released=_sum("points", kind=EntryKind.RELEASE),
            earned=_sum("points", kind__in=[EntryKind.EARN, EntryKind.BONUS]),
            reversed=_sum("points", kind=EntryKind.REVERSE),
            clawed_back=_sum("points", kind=EntryKind.CLAWBACK),
            redeemed=_sum("points", kind=EntryKind.REDEEM),
            refunded=_sum("points", kind=EntryKind.REFUND),
            expired=_sum("points", kind=EntryKind.EXPIRE),
        )
    }
    problems = []
    for account in accounts.iterator(chunk_size=1000):
        row = {key: value or 0 for key, value in sums.get(account.member_id, {}).items()}
        name = account.member.public_id
        facts = {
            "balance": account.balance,
            "available entries": row.get("available", 0),
            "points left in lots": row.get("available_left", 0),
        }
        pending_facts = {
            "pending": account.pending,
            "points left in pending lots": row.get("pending_left", 0),
            "pending entries minus releases": row.get("pending", 0) - row.get("released", 0),
        }
        counters = {
            "lifetime_earned": (
                account.lifetime_earned,
                row.get("earned", 0)
                + row.get("reversed", 0)
                + row.get("clawed_back", 0)
                - account.clawback_owed,
            ),
            "redeemed": (account.redeemed, -row.get("redeemed", 0) - row.get("refunded", 0)),
            "expired": (account.expired, -row.get("expired", 0)),
        }
        if account.balance < 0:
            problems.append(f"{name}: balance {account.balance} is negative")
        if account.pending < 0:
            problems.append(f"{name}: pending {account.pending} is negative")
        for facts_of in (facts, pending_facts):
            if len(set(facts_of.values())) > 1:
                told = ", ".join(f"{label} {value}" for label, value in facts_of.items())
                problems.append(f"{name}: {told} disagree")
        for counter, (held, from_entries) in counters.items():
            if held != from_entries:
                problems.append(f"{name}: {counter} {held} but the entries say {from_entries}")
    impossible = entries.filter(
        Q(remaining__lt=0)
        | Q(points__lte=0, remaining__gt=0)
        | Q(points__gt=0, remaining__gt=F("points"))
    ).select_related("member")
    for entry in impossible[:SHOWN_PER_KIND]:
        problems.append(
            f"{entry.member.public_id}: entry {entry.pk} ({entry.kind} {entry.points:+d}) "
            f"keeps {entry.remaining}"
        )
    return problems + _running_balance_problems(entries)


def _running_balance_problems(entries: QuerySet[PointsEntry]) -> list[str]:
    """Entries whose balance_after is not the running total of the member's
    available entries in history order (one window query)."""
    running = Window(
        Sum(Case(When(status=EntryStatus.AVAILABLE, then=F("points")), default=Value(0))),
        partition_by=[F("member_id")],
        order_by=[F("created_at").asc(), F("id").asc()],
    )
    wrong = (
        entries.annotate(running=running)
        .exclude(balance_after=F("running"))
        .values("id", "member__public_id", "kind", "balance_after", "running")
        .order_by("member_id", "created_at", "id")
    )
    return [
        f"{row['member__public_id']}: entry {row['id']} ({row['kind']}) says balance "
        f"{row['balance_after']} after it, the history adds up to {row['running']}"
        for row in wrong[:SHOWN_PER_KIND]
    ]
