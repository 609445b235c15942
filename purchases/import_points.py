"""Past purchases with points, a batch at a time (purchases.imports;
docs/import-export.md, "Points of imported purchases").

A batch writes what `purchase_record` writes when its sales are recorded one
by one in the file's order, each played at its `occurred_at` as an imported
sale (`SaleInput.imported`: base and tier points, no campaign, referral,
challenge, message or webhook), in a few statements for the whole batch
instead of about ten a sale:

1. read: the members' accounts (no lock yet) and, for a member whose tier
   may rise in the batch, the tier window's value at each of their sales
   (one statement: `_window_values`);
2. play, in memory, each member's sales in the file's order with the sale
   flow's own code: the quote (purchases.quote.sale_quote), the credits
   (members.ledger.points_credit_planned: pending, expiry counted from
   `occurred_at`, a lot already past its expiry expired at once), the
   activity, the tier review (members.tiers.sale_tier_upgrade: a tier reached
   applies to the member's next sale), the receipt;
3. claim: insert the purchases (COPY), as a sale claims its receipt before it
   takes a lock; a receipt a till recorded meanwhile makes the insert clash,
   and the batch is checked again and played once more without it;
4. lock the accounts, in member id order (members.locks.accounts_lock: the
   order every flow locking several accounts keeps, a sale's account lock
   first among its locks). An account that changed since step 1 (a till's
   sale of the member in between) is played again on its locked row and its
   purchases' rows are corrected;
5. write the lines, the entries and the activity (COPY), the tier upgrades
   (members.tiers.member_tier_upgrade_write), and every account's totals in
   one UPDATE (members.ledger.ledger_rows_write).

A member who owes a clawback (a return after they had spent its points) has
their sales of the batch recorded by `purchase_record` one by one, under the
same locks: collecting it debits lots the play does not hold.

tests/purchases/test_import_points.py holds the batch to `purchase_record`
sale by sale on random histories: the same entries, lots, expiry, balances
and tiers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone, translation

from loyalty.actors import Actor
from loyalty.db import commit_unflushed, ids_reserve, keys_existing, rows_copy, rows_update
from loyalty.errors import DomainError
from loyalty.models import ProgramSettings, TierBasis
from loyalty.notifications import notifications_batched
from loyalty.selectors import program_settings_get
from members.history import Text
from members.ledger import Credit, Source, ledger_rows_write, points_credit_planned
from members.locks import accounts_lock
from members.models import (
    EntryKind,
    EntryStatus,
    Member,
    MemberActivity,
    PointsAccount,
    PointsEntry,
    Tier,
)
from members.selectors import member_qualifying_value, qualifying_since, tier_list
from members.services import member_ensure_active
from members.tiers import member_tier_upgrade_write, sale_tier_upgrade
from purchases.errors import DuplicateReference
from purchases.inputs import SaleInput, sale_fingerprint
from purchases.models import Purchase, PurchaseLine
from purchases.quote import SaleQuote, sale_quote, sale_receipt
from purchases.services import purchase_record

# What a sale of the batch came to: imported, skipped (its receipt is
# recorded already), or the DomainError that refused it.
IMPORTED = "imported"
SKIPPED = "skipped"
Outcome = str | DomainError

# The columns written, every one of each table (a test holds them to the models).
PURCHASE_COLUMNS = (
    "id",
    "store_id",
    "reference",
    "member_id",
    "occurred_at",
    "recorded_at",
    "subtotal",
    "discount_total",
    "total",
    "eligible_amount",
    "points_earned",
    "points_redeemed",
    "points_status",
    "tier_code",
    "fingerprint",
    "response",
    "challenges",
    "recorded_by_id",
)
LINE_COLUMNS = (
    "id",
    "purchase_id",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price",
    "earns",
    "discount_share",
    "returned_quantity",
)
ACTIVITY_COLUMNS = ("member_id", "occurred_at", "spend", "points", "source_type", "source_id")
# The purchase columns a sale's points decide (corrected when a member is played again).
POINTS_COLUMNS = ("points_earned", "points_status", "tier_code", "response")
# An account's columns compared between the read of step 1 and the lock.
_ACCOUNT_STATE = (
    "balance",
    "pending",
    "lifetime_earned",
    "redeemed",
    "expired",
    "clawback_owed",
    "lifetime_spend",
    "last_entry_at",
    "updated_at",
)


@dataclass
class Points:
    """What a member's sale earned, as its receipt tells it."""

    awards: list[Any] = field(default_factory=list)
    status: str = "available"
    balance: int | None = None
    tier_code: str | None = None

    @property
    def earned(self) -> int:
        return sum(award.points for award in self.awards)


def purchase_rows(
    pk: int,
    sale: SaleInput,
    quote: SaleQuote,
    *,
    recorded_at: datetime,
    points: Points,
    recorded_by_id: int | None,
    fingerprint: str | None = None,
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The purchase's row in PURCHASE_COLUMNS, with the receipt the sale flow
    stores (purchases.quote.sale_receipt, a sale with no voucher, gift
    card or points paid), and its lines' rows in LINE_COLUMNS without their
    key (None: `_lines_copy` gives them theirs)."""
    member = sale.member
    receipt = sale_receipt(
        pk,
        sale=sale,
        quote=quote,
        points_earned=points.earned,
        points_status=points.status,
        awards=points.awards,
        balance=points.balance,
        tier=points.tier_code,
    )
    row = (
        pk,
        sale.store.pk,
        sale.reference,
        member.pk if member else None,
        sale.occurred_at,
        recorded_at,
        quote.subtotal,
        quote.discount_total,
        quote.total,
        quote.eligible_amount,
        points.earned,
        0,
        points.status,
        points.tier_code or "",
        fingerprint if fingerprint is not None else sale_fingerprint(sale),
        json.dumps(receipt),
        "",
        recorded_by_id,
    )
    lines = [
        (
            None,
            pk,
            item.sku,
            item.name,
            item.category,
            item.quantity,
            item.unit_price,
            item.earns,
            share,
            0,
        )
        for item, share in zip(sale.items, quote.discount_shares, strict=True)
    ]
    return row, lines


def lines_copy(lines: list[tuple[Any, ...]]) -> None:
    """Insert lines of `purchase_rows`, their keys from the table's sequence."""
    ids = ids_reserve(PurchaseLine, len(lines))
    rows_copy(
        PurchaseLine, LINE_COLUMNS, [(pk, *line[1:]) for pk, line in zip(ids, lines, strict=True)]
    )


@dataclass
class _Played:
    """What a member's sales of the batch write (step 2)."""

    purchases: dict[int, tuple[Any, ...]] = field(default_factory=dict)  # by sale index
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    entries: list[PointsEntry] = field(default_factory=list)
    activity: list[tuple[Any, ...]] = field(default_factory=list)
    upgrades: list[tuple[Tier, datetime]] = field(default_factory=list)


@dataclass
class _Batch:
    sales: list[SaleInput]
    fingerprints: list[str]
    pks: list[int]
    recorded_at: datetime
    actor: Actor
    program: ProgramSettings
    tiers: list[Tier]
    # The tier window's value read from the database at a sale (by index), for
    # the members whose tier may rise (`_window_values`).
    windows: dict[int, Decimal] = field(default_factory=dict)


def sales_import(
    *,
    sales: list[SaleInput],
    recorded_at: datetime,
    actor: Actor,
    fingerprints: list[str] | None = None,
) -> list[Outcome]:
    """Record a batch of imported sales (`SaleInput.imported`, no voucher, gift
    card or points paid) with their points, as `purchase_record` records
    them one by one in this order, each played at its `occurred_at` (see the
    module docstring), in one transaction. `fingerprints`: the sales' own
    (purchases.inputs.sale_fingerprint), when the caller has them (the
    import's reading thread works them out while this batch's writer waits
    for the one before). Returns each sale's Outcome."""
    if fingerprints is None:
        fingerprints = [sale_fingerprint(sale) for sale in sales]
    try:
        # The batch's messages (its tier changes) queued together, as it commits.
        with transaction.atomic(), notifications_batched():
            # A rerun writes again what a crash of the database lost.
            commit_unflushed()
            return _batch_record(sales, fingerprints, recorded_at=recorded_at, actor=actor)
    except IntegrityError:
        # A till recorded one of the receipts meanwhile (step 3): without them.
        taken = keys_existing(
            Purchase, ("store_id", "reference"), {(s.store.pk, s.reference) for s in sales}
        )
        left = [i for i, s in enumerate(sales) if (s.store.pk, s.reference) not in taken]
        outcomes: list[Outcome] = [SKIPPED] * len(sales)
        with transaction.atomic(), notifications_batched():
            commit_unflushed()
            again = _batch_record(
                [sales[i] for i in left],
                [fingerprints[i] for i in left],
                recorded_at=recorded_at,
                actor=actor,
            )
        for i, outcome in zip(left, again, strict=True):
            outcomes[i] = outcome
        return outcomes


def _batch_record(
    sales: list[SaleInput], fingerprints: list[str], *, recorded_at: datetime, actor: Actor
) -> list[Outcome]:
    outcomes: list[Outcome] = [IMPORTED] * len(sales)
    if not sales:
        return outcomes
    batch = _Batch(
        sales=sales,
        fingerprints=fingerprints,
        pks=ids_reserve(Purchase, len(sales)),
        recorded_at=recorded_at,
        actor=actor,
        program=program_settings_get(),
        tiers=tier_list(),
    )
    by_member: dict[int, list[int]] = {}
    members: dict[int, Member] = {}
    anonymous: list[int] = []
    for index, sale in enumerate(sales):
        if sale.member is None:
            anonymous.append(index)
            continue
        by_member.setdefault(sale.member.pk, []).append(index)
        member = members.setdefault(sale.member.pk, sale.member)
        if sale.member is not member:
            # One object a member: a tier reached applies to all their sales.
            sales[index] = replace(sale, member=member)
    _members_fresh(members)
    for member_id in list(by_member):
        try:
            member_ensure_active(members[member_id])
        except DomainError as exc:
            for index in by_member.pop(member_id):
                outcomes[index] = exc
    accounts = {a.member_id: a for a in PointsAccount.objects.filter(member_id__in=by_member)}
    read = {member_id: _state(account) for member_id, account in accounts.items()}
    one_by_one = {m for m, account in accounts.items() if account.clawback_owed > 0}
    _window_values(batch, {m: by_member[m] for m in by_member if m not in one_by_one}, accounts)
    played: dict[int, _Played] = {}
    for member_id, indexes in by_member.items():
        if member_id in one_by_one:
            continue
        result = _play(batch, members[member_id], accounts[member_id], indexes)
        if result is None:
            one_by_one.add(member_id)
        else:
            played[member_id] = result
    # Step 3: claim the receipts, before any lock.
    purchases, lines = [], []
    for index in anonymous:
        sale = sales[index]
        row, sale_lines = purchase_rows(
            batch.pks[index],
            sale,
            sale_quote(sale=sale, program=batch.program),
            recorded_at=recorded_at,
            points=Points(),
            recorded_by_id=actor.user.pk if actor.user else None,
            fingerprint=batch.fingerprints[index],
        )
        purchases.append(row)
        lines += sale_lines
    for result in played.values():
        purchases += result.purchases.values()
    rows_copy(Purchase, PURCHASE_COLUMNS, purchases)
    # Step 4: the locks, in member id order; what changed meanwhile is played again.
    locked = accounts_lock(member_ids=list(by_member))
    for member_id in sorted(played):
        account = locked[member_id]
        if _state(account) == read[member_id]:
            continue
        _member_reread(members[member_id])
        batch.windows.clear()
        result = _play(batch, members[member_id], account, by_member[member_id])
        claimed = [batch.pks[i] for i in by_member[member_id]]
        del played[member_id]
        if result is None:
            Purchase.objects.filter(pk__in=claimed).delete()
            one_by_one.add(member_id)
            continue
        played[member_id] = result
        accounts[member_id] = account
        rows_update(
            Purchase,
            [
                Purchase(pk=row[0], **dict(zip(PURCHASE_COLUMNS[10:16], row[10:16], strict=True)))
                for row in result.purchases.values()
            ],
            POINTS_COLUMNS,
        )
    # Step 5: write what was played.
    entries, activity = [], []
    for result in played.values():
        lines += result.lines
        entries += result.entries
        activity += result.activity
    lines_copy(lines)
    ledger_rows_write(
        entries=entries, accounts=[accounts[m] for m in sorted(played)], now=timezone.now()
    )
    rows_copy(MemberActivity, ACTIVITY_COLUMNS, activity)
    for member_id in sorted(played):
        for tier, at in played[member_id].upgrades:
            member_tier_upgrade_write(member=members[member_id], to_tier=tier, now=at)
    for member_id in sorted(one_by_one):
        for index in by_member[member_id]:
            outcomes[index] = _one(batch, index)
    return outcomes


def _state(account: PointsAccount) -> tuple[Any, ...]:
    return tuple(getattr(account, name) for name in _ACCOUNT_STATE)


_MEMBER_STATE = ("tier_id", "tier_since", "tier_override_until", "status", "language")


def _members_fresh(members: dict[int, Member]) -> None:
    """The members' tiers as the database has them now (one statement): the
    import read them before the batch before this one committed."""
    rows = Member.objects.filter(pk__in=members).values_list("pk", *_MEMBER_STATE)
    for pk, *state in rows:
        member = members[pk]
        if tuple(getattr(member, name) for name in _MEMBER_STATE) != tuple(state):
            _member_reread(member)
            member.status, member.language = state[3], state[4]


def _member_reread(member: Member) -> None:
    """The member's tier as the database has it now (a sale of theirs
    meanwhile may have raised it)."""
    fresh = Member.objects.select_related("tier").get(pk=member.pk)
    member.tier, member.tier_since = fresh.tier, fresh.tier_since
    member.tier_override_until = fresh.tier_override_until


def _one(batch: _Batch, index: int) -> Outcome:
    """A sale recorded by the sale flow itself (a member owing a clawback)."""
    sale = batch.sales[index]
    try:
        recorded = purchase_record(
            sale=sale, actor=batch.actor, now=sale.occurred_at, recorded_at=batch.recorded_at
        )
    except DuplicateReference:
        return SKIPPED
    except DomainError as exc:
        return exc
    return SKIPPED if recorded.replayed else IMPORTED


def _play(
    batch: _Batch, member: Member, account: PointsAccount, indexes: list[int]
) -> _Played | None:
    """Step 2 for one member: their sales of the batch (`indexes`, in the
    file's order) played on `account` (changed in memory), as the sale flow
    would write them. None when a credit would collect a clawback owed
    (then nothing of the member's is kept: they go one by one). The member
    keeps the tier they came with; the upgrades are in the result."""
    program, tiers = batch.program, batch.tiers
    pending = timedelta(days=program.pending_days)
    start_tier, start_since = member.tier, member.tier_since
    spend_basis = program.tier_basis == TierBasis.SPEND
    window = program.tier_window_days
    played = _Played()
    language = (
        nullcontext()
        if member.language == translation.get_language()
        else translation.override(member.language)
    )
    # This batch's activity of the member (occurred_at, qualifying value).
    counted: list[tuple[datetime, Decimal]] = []
    try:
        for index in indexes:
            sale = batch.sales[index]
            pk = batch.pks[index]
            at = sale.occurred_at
            quote = sale_quote(sale=sale, program=program)  # the tier held now
            awards = list(quote.awards)
            source = Source("purchase", str(pk))
            with language:  # the text stored is in the member's language
                entries = points_credit_planned(
                    account,
                    credits=[
                        Credit(
                            points=award.points,
                            kind=EntryKind(award.kind),
                            description=Text(
                                "sale.award",
                                award=award.label,
                                store=sale.store.name,
                                reference=sale.reference,
                            ),
                            key=f"purchase:{pk}:{award.source}",
                        )
                        for award in awards
                    ],
                    now=at,
                    available_at=at + pending,
                    expiry_days=program.expiry_days,
                    source=source,
                )
            if entries is None:
                return None
            played.entries += entries
            earned = sum(award.points for award in awards)
            played.activity.append((member.pk, at, quote.total, earned, source.type, source.id))
            account.lifetime_spend += quote.total
            counted.append((at, quote.total if spend_basis else Decimal(earned)))
            upgrade = sale_tier_upgrade(
                tiers=tiers,
                current=member.tier,
                override_until=member.tier_override_until,
                now=at,
                account=account,
                program=program,
                qualifying_value=_window_value(batch, index, member, counted, window),
            )
            if upgrade is not None:
                played.upgrades.append((upgrade, at))
                member.tier, member.tier_since = upgrade, at
            row, lines = purchase_rows(
                pk,
                sale,
                quote,
                recorded_at=batch.recorded_at,
                points=Points(
                    awards=awards,
                    status="pending"
                    if any(e.status == EntryStatus.PENDING for e in entries)
                    else "available",
                    balance=account.balance,
                    tier_code=quote.tier_code,
                ),
                recorded_by_id=batch.actor.user.pk if batch.actor.user else None,
                fingerprint=batch.fingerprints[index],
            )
            played.purchases[index] = row
            played.lines += lines
    finally:
        member.tier, member.tier_since = start_tier, start_since
    return played


def _window_value(
    batch: _Batch,
    index: int,
    member: Member,
    counted: list[tuple[datetime, Decimal]],
    window: int | None,
) -> Callable[[], Decimal]:
    """What `member_qualifying_value` reads at the sale `index` once the
    sales before it are written: the database's activity (read for the
    batch, or now) and this batch's of the member up to the sale."""

    def value() -> Decimal:
        at = batch.sales[index].occurred_at
        since = qualifying_since(batch.program, at)
        stored = batch.windows.get(index)
        if stored is None:
            stored = member_qualifying_value(member_id=member.pk, now=at, program=batch.program)
        return stored + sum(
            (v for when, v in counted if when <= at and (since is None or when > since)),
            Decimal("0"),
        )

    return value


def _window_values(
    batch: _Batch, by_member: dict[int, list[int]], accounts: dict[int, PointsAccount]
) -> None:
    """Read, in one statement on PostgreSQL, the tier window's value in the
    database at each sale of the members whose tier may rise in the batch:
    a tier above theirs within reach of their lifetime value once the batch
    is counted (spend), or any tier above theirs (points). Others read
    nothing; a sale that needs a value not read here reads it alone."""
    tiers, program = batch.tiers, batch.program
    wanted: list[int] = []
    for member_id, indexes in by_member.items():
        current = batch.sales[indexes[0]].member.tier  # type: ignore[union-attr]
        floor = current.threshold if current is not None else None
        above = [t.threshold for t in tiers if floor is None or t.threshold > floor]
        if not above:
            continue
        if program.tier_basis == TierBasis.SPEND:
            reach = accounts[member_id].lifetime_spend + sum(
                (sum((i.unit_price * i.quantity for i in batch.sales[n].items), Decimal("0")))
                for n in indexes
            )
            if min(above) > reach:
                continue
        wanted += indexes
    if not wanted:
        return
    connection = connections[router.db_for_read(MemberActivity)]
    if connection.vendor != "postgresql":
        for index in wanted:
            sale = batch.sales[index]
            batch.windows[index] = member_qualifying_value(
                member_id=sale.member.pk,  # type: ignore[union-attr]
                now=sale.occurred_at,
                program=program,
            )
        return
    column = "spend" if program.tier_basis == TierBasis.SPEND else "points"
    at = [batch.sales[i].occurred_at for i in wanted]
    sql = (
        f"SELECT k.i, (SELECT SUM(a.{column}) FROM members_memberactivity a "  # noqa: S608
        "WHERE a.member_id = k.m AND a.occurred_at <= k.t "
        "AND (k.s IS NULL OR a.occurred_at > k.s)) "
        "FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::int[]) "
        "AS k(m, t, s, i)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                [batch.sales[i].member.pk for i in wanted],  # type: ignore[union-attr]
                at,
                [qualifying_since(program, when) for when in at],
                wanted,
            ],
        )
        for index, total in cursor.fetchall():
            batch.windows[index] = Decimal(total or 0)
