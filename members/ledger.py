"""The points ledger: every write to a member's points (DESIGN.md §4).

Rules kept here and checked by `ledger_check`:

- entries are append-only; only `remaining` (lot bookkeeping) changes;
- `account.balance` == Σ points of available entries, and == Σ `remaining` of
  available lots; `account.pending` == Σ `remaining` of pending lots; both ≥ 0;
- every debit locks the account row first (`locks.account_lock`), so two
  debits of one member run one after the other, and the CHECK constraint on
  the balance is the last guard;
- a release moves a pending lot's rest into a new available lot, which expires
  `expiry_days` after it became spendable;
- a lot whose expiry has come is never spent: under the account lock, a debit
  first writes the `expire` entries of the member's lots due by then (the same
  code as the nightly job, so each lot expires once, key `expire:<lot>`), and a
  lot that arrives already expired (a sale backdated beyond the expiry) gets
  its `expire` entry at once;
- debits consume available lots oldest expiry first (FIFO);
- a reversal (a return) settles its points out of what is still alive of its
  source's own lots (pending first, then spendable); what of them expired
  stays expired and nothing is taken for it; only what the member spent comes
  off the balance, and past it is a clawback owed (`points_reverse`). The
  share each return settles is the caller's: purchases.returns derives it
  from the cumulative amount returned, so a sale returned in full nets to
  exactly zero;
- a clawback owed is collected only from new earnings (earn and bonus credits,
  releases of pending points), never from refunds or manual adjustments;
- the counters follow the entries: `lifetime_earned` is the earn and bonus
  entries less what reversals took or left owed; `redeemed` the redeem
  entries less the refunds of points paid (a cancelled redemption, a returned
  sale paid with points); `expired` the expire entries;
- entries are dated when they are written, under the account lock and never
  before the member's latest entry (`account.last_entry_at`, kept with the
  totals): history read by `created_at` (then id)
  adds up to each entry's `balance_after` (a running total the check
  follows), also when requests queue for the lock. The jobs date their entries at
  their `as_of`, never before the member's latest entry; the due time stays on
  the entry (`expires_at` of an expiry, `available_at` of a release);
- an idempotency key posts once: a second call with it returns the first entry.

Functions here take and return plain values and model instances; they do not
write audit events (the calling service does, with its actor).

The account row is written once per operation: the functions change the
totals in memory and `account_writes` saves what changed when the outermost
block ends. A caller holding the lock for several operations (a sale pays,
earns and counts its spend) opens the block itself, so they cost one UPDATE.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from operator import attrgetter
from typing import Any

from django.db import router, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.base import ModelState
from django.utils import timezone

from loyalty.db import Lookup, ids_reserve, insert, insert_many, rows_copy, rows_update, update
from members.errors import InsufficientPoints
from members.history import Text
from members.history import described as _history_described
from members.locks import account_lock, accounts_lock
from members.models import EntryKind, EntryStatus, PointsAccount, PointsEntry


def _described(description: str | Text) -> dict[str, object]:
    """An entry's `description` (in the active language: members.points
    writes in the member's) and `message` (its source, for other readers)."""
    text, message = _history_described(description)
    return {"description": text, "message": message}


# Each column's default for `_entry_new` (a callable one is called per entry).
_ENTRY_CALLED = [
    f for f in PointsEntry._meta.concrete_fields if f.has_default() and callable(f.default)
]
_ENTRY_DEFAULTS = {
    f.attname: f.get_default() for f in PointsEntry._meta.concrete_fields if f not in _ENTRY_CALLED
}
_ENTRY_DEFAULT_CALLS = [(f.attname, f.default) for f in _ENTRY_CALLED]
_ENTRY_NAMES = frozenset(_ENTRY_DEFAULTS) | {name for name, _call in _ENTRY_DEFAULT_CALLS}


def _entry_new(*, lot: PointsEntry | None = None, **values: Any) -> PointsEntry:
    """`PointsEntry(lot=lot, **values)`, `values` by attname (`member_id`, not
    `member`), built without Model.__init__'s work for each field and its
    signals: a sale builds one or two entries, the import and the nightly
    jobs hundreds of thousands, where Model.__init__ was a tenth of the CPU.
    tests/members/test_ledger_entries.py holds the two equal."""
    assert _ENTRY_NAMES.issuperset(values), set(values) - _ENTRY_NAMES
    entry = PointsEntry.__new__(PointsEntry)
    fields = entry.__dict__
    fields.update(_ENTRY_DEFAULTS)
    for name, call in _ENTRY_DEFAULT_CALLS:
        if name not in values:
            fields[name] = call()
    fields.update(values)
    entry._state = ModelState()
    if lot is not None:
        fields["lot_id"] = lot.pk
        entry._state.fields_cache["lot"] = lot
        # As the relation's descriptor does: both in the lot's database.
        entry._state.db = router.db_for_write(PointsEntry, instance=lot)
        if lot._state.db is None:
            lot._state.db = router.db_for_write(PointsEntry, instance=entry)
    return entry


CREDIT_KINDS = {EntryKind.EARN, EntryKind.BONUS, EntryKind.REFUND, EntryKind.ADJUST}
# Credits that are earnings: what a member owes from a return is taken out of these.
EARNING_KINDS = {EntryKind.EARN, EntryKind.BONUS}
# The lots holding what a source earned: its earnings and their releases.
EARNED_LOT_KINDS = [EntryKind.EARN, EntryKind.BONUS, EntryKind.RELEASE]
DEBIT_KINDS = {
    EntryKind.REDEEM,
    EntryKind.ADJUST,
    EntryKind.EXPIRE,
    EntryKind.REVERSE,
    EntryKind.CLAWBACK,
}


@dataclass(frozen=True)
class Source:
    """What an entry comes from, e.g. Source("purchase", "123")."""

    type: str = ""
    id: str = ""


_BY_KEY = Lookup(PointsEntry, "idempotency_key")


def _existing(idempotency_key: str | None) -> PointsEntry | None:
    return None if idempotency_key is None else _BY_KEY.get(idempotency_key)


def _insert(account: PointsAccount, entry: PointsEntry) -> PointsEntry:
    """Insert an entry of the locked account. Callers have checked its
    idempotency key under the account lock, so a clash here is a bug: the
    unique index raises and the whole transaction rolls back."""
    insert(entry)
    _dated(account, entry)
    return entry


def _dated(account: PointsAccount, entry: PointsEntry) -> None:
    """The account's latest entry is `entry` if it is dated later."""
    if account.last_entry_at is None or entry.created_at > account.last_entry_at:
        account.last_entry_at = entry.created_at
        _save_account(account, "last_entry_at")


def _save_account(account: PointsAccount, *fields: str) -> None:
    """Note that `fields` of the account changed: `account_writes` saves them."""
    unsaved: set[str] | None = getattr(account, "_unsaved", None)
    if unsaved is None:
        update(account, [*fields, "updated_at"])
    else:
        unsaved.update(fields)


@contextmanager
def account_writes(account: PointsAccount) -> Iterator[PointsAccount]:
    """Within the block, the ledger's changes to the (locked) account's totals
    stay in memory; when the outermost block ends without an error they are
    saved in one UPDATE. On an error nothing is saved (the transaction rolls
    back). Blocks nest: only the outermost saves."""
    if getattr(account, "_unsaved", None) is not None:
        yield account
        return
    account._unsaved = set()  # type: ignore[attr-defined]
    try:
        yield account
    except BaseException:
        account._unsaved = None  # type: ignore[attr-defined]
        raise
    fields, account._unsaved = account._unsaved, None  # type: ignore[attr-defined]
    if fields:
        update(account, [*sorted(fields), "updated_at"])


def account_changed(account: PointsAccount, *fields: str) -> None:
    """For members' own totals kept on the account (`lifetime_spend`): save
    `fields` with the ledger's changes (at once outside `account_writes`)."""
    _save_account(account, *fields)


def points_credit(
    *,
    member_id: int,
    points: int,
    kind: EntryKind,
    now: datetime,
    available_at: datetime | None = None,
    expiry_days: int | None = None,
    description: str | Text = "",
    source: Source = Source(),
    idempotency_key: str | None = None,
    key_unused: bool = False,
    counts_as_earned: bool = True,
    created_by_id: int | None = None,
    account: PointsAccount | None = None,
) -> PointsEntry:
    """Add points. With `available_at` after `now` they wait as pending; the
    spendable lot expires `expiry_days` after it becomes spendable (None: never).
    A lot whose expiry is already past when it arrives (a backdated sale) is
    written with its `expire` entry at once. Spendable earnings (earn, bonus)
    first pay off any clawback owed, with its own entry; refunds and
    adjustments do not. `account` is the member's account when the caller
    already holds its lock in its own transaction (a sale locks all its rows
    first); it is kept up to date. `key_unused`: the caller knows no entry has
    `idempotency_key` (it names a row this transaction created), so it is not
    looked up; a clash would be a bug, which the unique index refuses.
    """
    if points <= 0:
        raise ValueError("a credit is positive")
    credit = partial(
        _credit_locked,
        points=points,
        kind=kind,
        now=now,
        available_at=available_at,
        expiry_days=expiry_days,
        description=description,
        source=source,
        key=idempotency_key,
        counts_as_earned=counts_as_earned,
        created_by_id=created_by_id,
    )
    if account is not None:
        return credit(account, idempotency_key=None if key_unused else idempotency_key)
    if (found := _existing(idempotency_key)) is not None:
        return found
    with transaction.atomic():
        account = account_lock(member_id=member_id)
        with account_writes(account):
            return credit(account, idempotency_key=idempotency_key)


def _credit_locked(
    account: PointsAccount,
    *,
    points: int,
    kind: EntryKind,
    now: datetime,
    available_at: datetime | None,
    expiry_days: int | None,
    description: str | Text,
    source: Source,
    idempotency_key: str | None,
    key: str | None,
    counts_as_earned: bool,
    created_by_id: int | None,
) -> PointsEntry:
    """`points_credit` on the locked account; `idempotency_key` is looked up
    (None: not), `key` is written."""
    if (found := _existing(idempotency_key)) is not None:
        return found
    entry = _credit_entry(
        account,
        points=points,
        kind=kind,
        now=now,
        available_at=available_at,
        expiry_days=expiry_days,
        description=description,
        source=source,
        key=key,
        counts_as_earned=counts_as_earned,
        created_by_id=created_by_id,
    )
    _insert(account, entry)
    if entry.status == EntryStatus.PENDING:
        return entry
    if entry.expires_at is not None and entry.expires_at <= entry.created_at:
        _expire_lot_locked(account, entry, at=entry.created_at)
    elif kind in EARNING_KINDS:
        _collect_clawback(account, points=points, now=entry.created_at, source=source)
    return entry


@dataclass(frozen=True)
class Credit:
    """One credit of `points_credit_many`: its points, kind, description and key."""

    points: int
    kind: EntryKind
    description: str | Text
    key: str | None = None


def _credit_timing(
    account: PointsAccount,
    now: datetime,
    available_at: datetime | None,
    expiry_days: int | None,
) -> tuple[datetime, bool, datetime | None]:
    """A credit's timing, the one place its rule is: the entry's time
    (`_entry_time`), whether it is pending (it becomes available later), and
    when it expires (None: pending, or no expiry)."""
    start = _entry_time(account, now)
    becomes_available = available_at or start
    pending = becomes_available > start
    expires = (
        None if pending or expiry_days is None else becomes_available + timedelta(days=expiry_days)
    )
    return start, pending, expires


def _credit_entry_of(
    account: PointsAccount,
    credit: Credit,
    now: datetime,
    available_at: datetime | None,
    expiry_days: int | None,
    source: Source,
) -> PointsEntry:
    """`_credit_entry` of one of a sale's earnings (`points_credit_many`)."""
    return _credit_entry(
        account,
        points=credit.points,
        kind=credit.kind,
        now=now,
        available_at=available_at,
        expiry_days=expiry_days,
        description=credit.description,
        source=source,
        key=credit.key,
        counts_as_earned=True,
        created_by_id=None,
    )


def points_credit_many(
    account: PointsAccount,
    *,
    credits: list[Credit],
    now: datetime,
    available_at: datetime | None,
    expiry_days: int | None,
    source: Source,
) -> list[PointsEntry]:
    """Several earnings of one source on the locked account (a sale's base,
    tier and campaign awards), each its own entry, by the rules of
    `points_credit`, whose keys the caller knows are unused. When nothing
    follows a credit (no clawback owed, no lot already past its expiry) the
    entries go in one INSERT; else one by one, as `points_credit` writes them.
    The account is kept up to date (save it with `account_writes`)."""
    credits = [credit for credit in credits if credit.points > 0]
    start, pending, expires = _credit_timing(account, now, available_at, expiry_days)
    follows = (not pending and account.clawback_owed > 0) or (
        expires is not None and expires <= start
    )
    if follows:
        return [
            _credit_locked(
                account,
                points=credit.points,
                kind=credit.kind,
                now=now,
                available_at=available_at,
                expiry_days=expiry_days,
                description=credit.description,
                source=source,
                idempotency_key=None,
                key=credit.key,
                counts_as_earned=True,
                created_by_id=None,
            )
            for credit in credits
        ]
    entries = [
        _credit_entry_of(account, credit, now, available_at, expiry_days, source)
        for credit in credits
    ]
    insert_many(entries)
    for entry in entries:
        _dated(account, entry)
    return entries


# --- Credits played in memory, written in bulk (an imported history) --------------------------


def points_credit_planned(
    account: PointsAccount,
    *,
    credits: list[Credit],
    now: datetime,
    available_at: datetime | None,
    expiry_days: int | None,
    source: Source,
) -> list[PointsEntry] | None:
    """What `points_credit_many` would write, played on an account held in
    memory (its lock taken, or to be checked under it): the entries in the
    order it would insert them, unsaved and without ids (an `expire` entry's
    `lot` is the unsaved lot: `ledger_rows_write` gives both their ids), and
    the account's totals changed as it changes them (saved by
    `ledger_rows_write`). The same rules, by the same code (`_credit_entry`,
    `_expire_entry`): pending until `available_at`, a lot already past its
    expiry when it arrives expired at once. None, with nothing changed, when
    a credit would collect a clawback owed (a debit of lots held in the
    database): the caller records that one through `points_credit_many`."""
    credits = [credit for credit in credits if credit.points > 0]
    start, pending, expires = _credit_timing(account, now, available_at, expiry_days)
    at_once = expires is not None and expires <= start
    if credits and not pending and not at_once and account.clawback_owed > 0:
        return None
    fresh = getattr(account, "_unsaved", None) is None
    if fresh:
        account._unsaved = set()  # type: ignore[attr-defined]
    entries: list[PointsEntry] = []
    for credit in credits:
        entry = _credit_entry_of(account, credit, now, available_at, expiry_days, source)
        entries.append(entry)
        _dated(account, entry)
        if at_once:
            expiry = _expire_entry(account, entry, at=entry.created_at)
            entries.append(expiry)
            _dated(account, expiry)
    if fresh:
        account._unsaved = None  # type: ignore[attr-defined]
    return entries


# The account totals `points_credit_planned` and the callers playing sales
# beside it change, and `ledger_rows_write` saves.
PLANNED_TOTALS = (
    "balance",
    "pending",
    "lifetime_earned",
    "expired",
    "lifetime_spend",
    "last_entry_at",
)
ENTRY_COLUMNS = tuple(f.attname for f in PointsEntry._meta.concrete_fields)
_entry_values = attrgetter(*ENTRY_COLUMNS)


def ledger_rows_write(
    *, entries: list[PointsEntry], accounts: list[PointsAccount], now: datetime
) -> None:
    """Write what `points_credit_planned` played, under the accounts' locks
    (members.locks.accounts_lock, taken by the caller): the entries with keys
    from their table's sequence in their order (COPY on PostgreSQL), then
    each account's PLANNED_TOTALS in one UPDATE."""
    ids = ids_reserve(PointsEntry, len(entries))
    for entry, pk in zip(entries, ids, strict=True):
        entry.pk = pk
    for entry in entries:
        lot = entry.lot if entry.kind == EntryKind.EXPIRE else None
        if lot is not None:
            # Read before lot_id changes: Django forgets the cached lot then.
            entry.lot_id = lot.pk
            entry.idempotency_key = f"expire:{lot.pk}"
    rows_copy(PointsEntry, ENTRY_COLUMNS, list(map(_entry_values, entries)))
    for account in accounts:
        account.updated_at = now
    rows_update(PointsAccount, accounts, (*PLANNED_TOTALS, "updated_at"))


def _credit_entry(
    account: PointsAccount,
    *,
    points: int,
    kind: EntryKind,
    now: datetime,
    available_at: datetime | None,
    expiry_days: int | None,
    description: str | Text,
    source: Source,
    key: str | None,
    counts_as_earned: bool,
    created_by_id: int | None,
) -> PointsEntry:
    """The entry of a credit, not yet written, and its effect on the locked
    account's totals (in memory): the one place a credit's rules are."""
    now, pending, expires = _credit_timing(account, now, available_at, expiry_days)
    entry = _entry_new(
        member_id=account.member_id,
        kind=kind,
        status=EntryStatus.PENDING if pending else EntryStatus.AVAILABLE,
        points=points,
        remaining=points,
        available_at=available_at if pending else None,
        expires_at=expires,
        **_described(description),
        source_type=source.type,
        source_id=source.id,
        idempotency_key=key,
        created_by_id=created_by_id,
        created_at=now,
        balance_after=account.balance if pending else account.balance + points,
    )
    if counts_as_earned and kind in EARNING_KINDS:
        account.lifetime_earned += points
        _save_account(account, "lifetime_earned")
    elif kind == EntryKind.REFUND:
        # Points paid come back: they no longer count as redeemed.
        account.redeemed -= points
        _save_account(account, "redeemed")
    if pending:
        account.pending += points
        _save_account(account, "pending")
    else:
        account.balance += points
        _save_account(account, "balance")
    return entry


def _collect_clawback(
    account: PointsAccount, *, points: int, now: datetime, source: Source
) -> None:
    """Take what a member owes from a return (points they had already spent)
    out of `points` newly earned: at most those points, so a refund or a
    goodwill adjustment the member holds is not taken."""
    if account.clawback_owed <= 0:
        return
    _expire_due_locked(account, due=now, at=now)
    take = min(account.clawback_owed, points, account.balance)
    if take <= 0:
        return
    _debit_locked(
        account,
        points=take,
        kind=EntryKind.CLAWBACK,
        now=now,
        description=Text("clawback"),
        source=source,
    )
    account.clawback_owed -= take
    _save_account(account, "clawback_owed")


def _open_lots(member_id: int, now: datetime) -> QuerySet[PointsEntry]:
    """The member's spendable lots at `now`, oldest expiry first (FIFO)."""
    return PointsEntry.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        member_id=member_id,
        status=EntryStatus.AVAILABLE,
        remaining__gt=0,
    ).order_by(F("expires_at").asc(nulls_last=True), "id")


def _consume(lots: QuerySet[PointsEntry], points: int) -> int:
    """Take up to `points` out of `lots`, in their order. Returns what was taken."""
    left = points
    for lot in lots.only("id", "remaining").iterator(chunk_size=50):
        if left == 0:
            break
        take = min(lot.remaining, left)
        PointsEntry.objects.filter(pk=lot.pk).update(remaining=F("remaining") - take)
        left -= take
    return points - left


def _debit_locked(
    account: PointsAccount,
    *,
    points: int,
    kind: EntryKind,
    now: datetime,
    description: str | Text,
    source: Source,
    idempotency_key: str | None = None,
    created_by_id: int | None = None,
    first_from: Q | None = None,
) -> PointsEntry:
    """Take `points` from the locked account's available lots, oldest expiry
    first — those matching `first_from` (a reversal: the source's own lots)
    before any other.

    The caller has expired the member's lots due by `now` (`_expire_due_locked`)
    under the same lock, so the balance it checked is what can be spent; a lot
    past its expiry is skipped all the same. Raises InsufficientPoints."""
    if points > account.balance:
        raise InsufficientPoints()
    lots = _open_lots(account.member_id, now)
    taken = _consume(lots.filter(first_from), points) if first_from is not None else 0
    if taken < points:
        taken += _consume(lots, points - taken)
    if taken < points:
        # The lots disagree with the balance: refuse rather than corrupt the ledger.
        raise InsufficientPoints("The member's points lots do not cover the balance.")
    account.balance -= points
    if kind == EntryKind.REDEEM:
        account.redeemed += points
    elif kind == EntryKind.EXPIRE:
        account.expired += points
    _save_account(account, "balance", "redeemed", "expired")
    return _insert(
        account,
        PointsEntry(
            member_id=account.member_id,
            kind=kind,
            status=EntryStatus.AVAILABLE,
            points=-points,
            balance_after=account.balance,
            **_described(description),
            source_type=source.type,
            source_id=source.id,
            idempotency_key=idempotency_key,
            created_by_id=created_by_id,
            created_at=now,
        ),
    )


def points_debit(
    *,
    member_id: int,
    points: int,
    kind: EntryKind,
    now: datetime,
    description: str | Text = "",
    source: Source = Source(),
    idempotency_key: str | None = None,
    created_by_id: int | None = None,
    account: PointsAccount | None = None,
) -> PointsEntry:
    """Take spendable points, after expiring the member's lots due by `now`.
    Raises InsufficientPoints (nothing written) if what is left is below `points`.
    `account` as in `points_credit`."""
    if points <= 0:
        raise ValueError("a debit is positive")
    if account is not None:
        return _debit_due_locked(
            account, points, kind, now, description, source, idempotency_key, created_by_id
        )
    if (found := _existing(idempotency_key)) is not None:
        return found
    with transaction.atomic():
        account = account_lock(member_id=member_id)
        with account_writes(account):
            return _debit_due_locked(
                account, points, kind, now, description, source, idempotency_key, created_by_id
            )


def _debit_due_locked(
    account: PointsAccount,
    points: int,
    kind: EntryKind,
    now: datetime,
    description: str | Text,
    source: Source,
    idempotency_key: str | None,
    created_by_id: int | None,
) -> PointsEntry:
    """`points_debit` on the locked account."""
    if (found := _existing(idempotency_key)) is not None:
        return found
    now = _entry_time(account, now)
    _expire_due_locked(account, due=now, at=now)
    return _debit_locked(
        account,
        points=points,
        kind=kind,
        now=now,
        description=description,
        source=source,
        idempotency_key=idempotency_key,
        created_by_id=created_by_id,
    )


@dataclass(frozen=True)
class Reversal:
    """How a reversal's points were settled: taken from pending or spendable
    points, owed as a clawback, or found already expired (nothing taken)."""

    pending: int
    available: int
    clawback: int
    expired: int = 0

    @property
    def taken(self) -> int:
        return self.pending + self.available + self.clawback

    @property
    def total(self) -> int:
        return self.taken + self.expired


def _own_lots(source: Source) -> Q:
    """The lots a source earned: its earn and bonus credits, and the lots their
    pending points were released into (not refunds of points paid)."""
    return Q(source_type=source.type, source_id=source.id, kind__in=EARNED_LOT_KINDS)


def _expired_of(member_id: int, source: Source) -> int:
    """The points `source` earned that expired before anything took them back."""
    expired = PointsEntry.objects.filter(
        member_id=member_id,
        kind=EntryKind.EXPIRE,
        source_type=source.type,
        source_id=source.id,
        lot__kind__in=EARNED_LOT_KINDS,
    ).aggregate(points=Sum("points"))["points"]
    return -(expired or 0)


@transaction.atomic
def points_reverse(
    *,
    member_id: int,
    points: int,
    now: datetime,
    source: Source,
    description: str | Text = "",
    expired_counted: int = 0,
) -> Reversal:
    """Settle `points` of what `source` earned (a return's share), in this order:

    1. what is still alive of the source's own lots: pending first, then
       spendable (after expiring the member's lots due by `now`);
    2. what of them expired: it stays expired and nothing is taken for it, as
       far as earlier reversals of the source (`expired_counted` points) have
       not already counted it;
    3. the rest the member spent: taken from the balance and, past it, owed
       as a clawback collected from future earnings.

    So a reversal never takes points that came from elsewhere for points of
    the source that expired. `lifetime_earned` goes down by what is taken or
    owed (what expired was earned, and is counted in `expired`)."""
    if points <= 0:
        return Reversal(0, 0, 0)
    account = account_lock(member_id=member_id)
    with account_writes(account):
        return _reverse_locked(account, points, now, source, description, expired_counted)


def _reverse_locked(
    account: PointsAccount,
    points: int,
    now: datetime,
    source: Source,
    description: str | Text,
    expired_counted: int,
) -> Reversal:
    """`points_reverse` on the locked account."""
    member_id = account.member_id
    now = _entry_time(account, now)
    _expire_due_locked(account, due=now, at=now)
    own = PointsEntry.objects.filter(_own_lots(source), member_id=member_id, remaining__gt=0)
    left = points
    pending_lots = own.filter(status=EntryStatus.PENDING).order_by("-id")
    taken_pending = _consume(pending_lots, left)
    left -= taken_pending
    if taken_pending:
        account.pending -= taken_pending
        _save_account(account, "pending")
        _insert(
            account,
            PointsEntry(
                member_id=member_id,
                kind=EntryKind.REVERSE,
                status=EntryStatus.PENDING,
                points=-taken_pending,
                balance_after=account.balance,
                **_described(description),
                source_type=source.type,
                source_id=source.id,
                created_at=now,
            ),
        )
    alive = own.filter(status=EntryStatus.AVAILABLE).aggregate(points=Sum("remaining"))["points"]
    from_own = min(left, alive or 0)
    left -= from_own
    expired = 0
    if left:
        expired = min(left, max(0, _expired_of(member_id, source) - expired_counted))
        left -= expired
    from_balance = min(left, account.balance - from_own)
    if from_own + from_balance:
        _debit_locked(
            account,
            points=from_own + from_balance,
            kind=EntryKind.REVERSE,
            now=now,
            description=description,
            source=source,
            first_from=_own_lots(source),
        )
    clawback = left - from_balance
    if clawback:
        account.clawback_owed += clawback
        _save_account(account, "clawback_owed")
    reversal = Reversal(taken_pending, from_own + from_balance, clawback, expired)
    account.lifetime_earned -= reversal.taken
    _save_account(account, "lifetime_earned")
    return reversal


def _expire_lot_locked(
    account: PointsAccount,
    lot: PointsEntry,
    *,
    at: datetime,
    description: str | Text | None = None,
) -> int:
    """Write the `expire` entry of what is left of `lot` (the account is locked),
    dated `at`, with the lot's due time as its `expires_at` and its history
    line (or `description`). Returns the points."""
    PointsEntry.objects.filter(pk=lot.pk).update(remaining=0)
    entry = _expire_entry(account, lot, at=at, description=description)
    _insert(account, entry)
    return -entry.points


def _expire_entry(
    account: PointsAccount,
    lot: PointsEntry,
    *,
    at: datetime,
    description: str | Text | None = None,
) -> PointsEntry:
    """The `expire` entry of what is left of `lot`, not yet written (its key
    names the lot's id: set it once the lot has one), and its effect on the
    lot and the account's totals (in memory). A pending lot's entry is
    pending too: its points leave `pending`, not the balance (points_forfeit)."""
    points = lot.remaining
    lot.remaining = 0
    pending = lot.status == EntryStatus.PENDING
    if pending:
        account.pending -= points
    else:
        account.balance -= points
    account.expired += points
    _save_account(account, "pending" if pending else "balance", "expired")
    told = (
        _described(description)
        if description is not None
        else {"description": lot.description, "message": lot.message}
    )
    return _entry_new(
        member_id=account.member_id,
        kind=EntryKind.EXPIRE,
        status=EntryStatus.PENDING if pending else EntryStatus.AVAILABLE,
        points=-points,
        balance_after=account.balance,
        expires_at=lot.expires_at,
        **told,
        source_type=lot.source_type,
        source_id=lot.source_id,
        lot=lot,
        idempotency_key=f"expire:{lot.pk}" if lot.pk is not None else None,
        created_at=at,
    )


def _expire_due_locked(account: PointsAccount, *, due: datetime, at: datetime) -> int:
    """Expire the rest of every lot of the locked account whose expiry is at or
    before `due`, oldest first, with entries dated `at`. Returns the points expired."""
    lots = PointsEntry.objects.filter(
        member_id=account.member_id,
        status=EntryStatus.AVAILABLE,
        remaining__gt=0,
        expires_at__lte=due,
    ).order_by("expires_at", "id")
    return sum(_expire_lot_locked(account, lot, at=at) for lot in lots)


def _entry_time(account: PointsAccount, as_of: datetime) -> datetime:
    """When an entry of the locked account is dated: `as_of`, or the member's
    latest entry if that is later — a job replayed for an earlier time, or a
    request that read the clock before waiting for the lock behind another —
    so the history stays in the order of its balances."""
    latest = account.last_entry_at
    return max(as_of, latest) if latest is not None else as_of


# At most this many members, and this many of their due lots (or one
# member's, however many), are written by a job in one transaction: their
# account locks held meanwhile, taken in member id order; a few statements
# for them all, and memory bounded by the lots held, whatever the history.
JOB_MEMBERS = 200
JOB_LOTS = 5000


def _chunks(due: QuerySet[PointsEntry]) -> Iterator[list[int]]:
    """The members of `due` lots in member id order, JOB_MEMBERS and
    JOB_LOTS at a time."""
    counts = due.values("member_id").annotate(n=Count("id")).order_by("member_id")
    chunk: list[int] = []
    lots = 0
    for row in counts.values_list("member_id", "n").iterator(chunk_size=2000):
        member_id, n = row
        if chunk and (len(chunk) == JOB_MEMBERS or lots + n > JOB_LOTS):
            yield chunk
            chunk, lots = [], 0
        chunk.append(member_id)
        lots += n
    if chunk:
        yield chunk


def points_release_due(*, as_of: datetime, expiry_days: int | None) -> int:
    """Make pending lots whose wait is over spendable: one `release` entry each
    (dated when the job records it, `available_at` telling when the wait
    ended), a new lot that expires `expiry_days` after the wait ended — at
    once, with its `expire` entry, if that is already past. Released points
    pay off a clawback owed first. Returns how many lots were released;
    running again for the same time releases nothing.

    JOB_MEMBERS members (JOB_LOTS lots) a transaction, their accounts locked
    in member id order (locks.accounts_lock): their releases are played in memory by the
    rules of `_release_locked` (`_release_entry`, `_expire_entry`) and
    written in a few statements (`ledger_rows_write`); a member owing a
    clawback has theirs written one by one (collecting it is a debit)."""
    released = 0
    due = PointsEntry.objects.filter(
        status=EntryStatus.PENDING, remaining__gt=0, available_at__lte=as_of
    )
    for chunk in _chunks(due):
        with transaction.atomic():
            accounts = accounts_lock(member_ids=chunk)
            lots = PointsEntry.objects.filter(
                member_id__in=chunk,
                status=EntryStatus.PENDING,
                remaining__gt=0,
                available_at__lte=as_of,
            ).order_by("member_id", "id")
            entries: list[PointsEntry] = []
            emptied: list[PointsEntry] = []
            for lot in lots:
                account = accounts[lot.member_id]
                if account.clawback_owed > 0:
                    with account_writes(account):
                        released += _release_locked(
                            account, lot, as_of=as_of, expiry_days=expiry_days
                        )
                    continue
                account._unsaved = set()  # type: ignore[attr-defined]  # saved below
                at = _entry_time(account, as_of)
                release = _release_entry(account, lot, at=at, expiry_days=expiry_days)
                emptied.append(lot)
                entries.append(release)
                if release.expires_at is not None and release.expires_at <= at:
                    expiry = _expire_entry(account, release, at=at)
                    _dated(account, expiry)
                    entries.append(expiry)
                released += 1
            _planned_write(entries, emptied, accounts)
    return released


def _planned_write(
    entries: list[PointsEntry], emptied: list[PointsEntry], accounts: dict[int, PointsAccount]
) -> None:
    """A job's chunk: the lots it emptied, its entries, the totals of the
    accounts it played in memory (those with `_unsaved` set)."""
    rows_update(PointsEntry, emptied, ("remaining",))
    played = [a for a in accounts.values() if getattr(a, "_unsaved", None) is not None]
    for account in played:
        account._unsaved = None  # type: ignore[attr-defined]
    ledger_rows_write(entries=entries, accounts=played, now=timezone.now())


def _release_entry(
    account: PointsAccount, lot: PointsEntry, *, at: datetime, expiry_days: int | None
) -> PointsEntry:
    """The `release` entry of a pending lot, dated `at`, not yet written, and
    its effect on the lot and the account's totals (in memory)."""
    points, when = lot.remaining, lot.available_at
    lot.remaining = 0
    account.pending -= points
    account.balance += points
    _save_account(account, "pending", "balance")
    release = _entry_new(
        member_id=account.member_id,
        kind=EntryKind.RELEASE,
        status=EntryStatus.AVAILABLE,
        points=points,
        remaining=points,
        balance_after=account.balance,
        available_at=when,
        expires_at=None if expiry_days is None else when + timedelta(days=expiry_days),
        description=lot.description,
        message=lot.message,
        source_type=lot.source_type,
        source_id=lot.source_id,
        lot=lot,
        idempotency_key=f"release:{lot.pk}",
        created_at=at,
    )
    _dated(account, release)
    return release


def _release_locked(
    account: PointsAccount, lot: PointsEntry, *, as_of: datetime, expiry_days: int | None
) -> int:
    """Release a pending lot of the locked account (see `points_release_due`). Returns 1."""
    at = _entry_time(account, as_of)
    PointsEntry.objects.filter(pk=lot.pk).update(remaining=0)
    release = _release_entry(account, lot, at=at, expiry_days=expiry_days)
    insert(release)
    if release.expires_at is not None and release.expires_at <= at:
        _expire_lot_locked(account, release, at=at)
    else:
        source = Source(lot.source_type, lot.source_id)
        _collect_clawback(account, points=release.points, now=at, source=source)
    return 1


def points_forfeit(*, member_id: int, now: datetime, description: str | Text) -> int:
    """Forfeit every point the member still holds, spendable and pending (an
    erased account, members.privacy): an `expire` entry with `description`
    for what is left of each lot, oldest first, so the ledger still adds up
    and a later return of one of the member's sales settles as it would
    after an expiry. Call it in a transaction. Returns the points forfeited;
    a second call forfeits nothing."""
    account = account_lock(member_id=member_id)
    at = _entry_time(account, now)
    lots = PointsEntry.objects.filter(
        member_id=member_id,
        status__in=[EntryStatus.AVAILABLE, EntryStatus.PENDING],
        remaining__gt=0,
    ).order_by("id")
    with account_writes(account):
        return sum(_expire_lot_locked(account, lot, at=at, description=description) for lot in lots)


# What `_expire_entry` and `_planned_write` read of a lot the job empties (a
# third of the columns: the rest would be read and converted for nothing).
_EXPIRED_LOT_FIELDS = (
    "id",
    "member_id",
    "status",
    "remaining",
    "expires_at",
    "description",
    "message",
    "source_type",
    "source_id",
)


def points_expire_due(*, as_of: datetime) -> int:
    """Write an `expire` entry for the rest of every lot whose expiry has come
    by `as_of`, dated when the job records it. Returns the points expired;
    running again for the same time expires nothing. JOB_MEMBERS members
    (JOB_LOTS lots) a transaction, as `points_release_due`, played by the rules of
    `_expire_due_locked` (`_expire_entry`)."""
    expired = 0
    due = PointsEntry.objects.filter(
        status=EntryStatus.AVAILABLE, remaining__gt=0, expires_at__lte=as_of
    )
    for chunk in _chunks(due):
        with transaction.atomic():
            accounts = accounts_lock(member_ids=chunk)
            lots = (
                PointsEntry.objects.filter(
                    member_id__in=chunk,
                    status=EntryStatus.AVAILABLE,
                    remaining__gt=0,
                    expires_at__lte=as_of,
                )
                .order_by("member_id", "expires_at", "id")
                .only(*_EXPIRED_LOT_FIELDS)
            )
            entries: list[PointsEntry] = []
            emptied: list[PointsEntry] = []
            for lot in lots:
                account = accounts[lot.member_id]
                account._unsaved = set()  # type: ignore[attr-defined]  # saved below
                expiry = _expire_entry(account, lot, at=_entry_time(account, as_of))
                _dated(account, expiry)
                entries.append(expiry)
                emptied.append(lot)
                expired -= expiry.points
            _planned_write(entries, emptied, accounts)
    return expired
