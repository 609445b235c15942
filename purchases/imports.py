"""The past purchases import (API.md `import_purchases`; docs/import-export.md).

A header row, then one row a line item: `store, reference, occurred_at`
(ISO 8601), `member` (card number, email, phone or external id; empty:
anonymous), `sku, name, category, quantity, unit_price, earns` (default
true), `discount` (the line's, default 0). The rows of one purchase (same
store and reference) follow one another; each row is checked with the
bounds of `POST /purchases` (purchases.inputs, loyalty.limits), each
purchase with the sale's own checks (`sale_validate`).

- A purchase whose (store, reference) is recorded already is skipped, its
  rows counted as skipped: a second run imports nothing, and a receipt a
  till sent live stays as the till sent it.
- A purchase with a bad row is not imported: each bad row is told with its
  reason and the purchase's other rows as not imported because of it. Rows
  of one purchase that disagree on `occurred_at` or `member`, or that come
  apart in the file (a reference seen before, after other purchases), are
  bad rows.
- With points (the default), each purchase earns what the sale flow
  (purchases.services.purchase_record) gives it played at its
  `occurred_at`: base and tier points as the program gives them, pending
  and expiry counted from then, the member's tier reviewed on the window up
  to then; a member's purchases in the file's order. BATCH purchases are
  played and written at a time by purchases.import_points (its docstring
  says how, and a test holds it to purchase_record sale by sale). An
  imported history earns no campaign award, qualifies no referral and sends
  no message (`SaleInput.imported`). Afterwards the jobs `release_pending`
  and `expire_points` run as of now, as the nightly run would, so what has
  waited or expired since is released or expired.
- `no_points`: the purchases and their lines only, no ledger entry, no
  activity; written BATCH_COPY purchases at a time with PostgreSQL's COPY
  (loyalty.db.rows_copy; bulk_create on SQLite), their amounts from the
  same quote as a sale (purchases.quote.sale_quote).
- Either way, on PostgreSQL outside a transaction, each batch is written by
  a thread of its own while the next batch is read (_Writer).

Memory: the file is read row by row and BATCH purchases (BATCH_COPY with
`no_points`) are held at a time, with at most MEMBERS_KEPT member look-ups
and the amounts read (`_AMOUNTS`); what grows with the file is one 64-bit
digest per purchase (to tell rows that came apart), about 60 bytes each.
"""

from __future__ import annotations

import contextvars
import hashlib
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import IO, Any, TypeVar

from django.db import IntegrityError, connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.csv_files import CsvFileError, csv_records
from loyalty.db import commit_unflushed, ids_reserve, keys_existing, rows_copy
from loyalty.errors import DomainError, ValidationFailed
from loyalty.imports import (
    BadCell,
    ImportReport,
    cell_bool,
    cell_moment,
    cell_text,
    cells_text_check,
    header_problem,
)
from loyalty.jobs import job_run
from loyalty.limits import MONEY_MAX, QUANTITY_MAX, SALE_LINES_MAX
from loyalty.models import ProgramSettings, Store
from loyalty.selectors import program_settings_get, store_get
from members.models import Member, MemberStatus
from members.selectors import members_by_reference
from purchases.import_points import (
    IMPORTED,
    LINE_COLUMNS,
    PURCHASE_COLUMNS,
    SKIPPED,
    Outcome,
    Points,
    purchase_rows,
    sales_import,
)
from purchases.inputs import SKU_PATTERN, LineInput, SaleInput, sale_fingerprint, sale_validate
from purchases.models import Purchase, PurchaseLine
from purchases.quote import sale_quote

T = TypeVar("T")
COLUMNS = (
    "store",
    "reference",
    "occurred_at",
    "member",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price",
    "earns",
    "discount",
)
REQUIRED = ("store", "reference", "occurred_at", "sku", "quantity", "unit_price")
# Purchases held, checked against the database and written at a time: through
# the sale flow (with points), and by COPY (`no_points`), where each batch
# costs a few round trips and a commit whatever its size.
BATCH = 2000
BATCH_COPY = 2000
# The member column's values looked up so far in a `no_points` run (value →
# the members it names), so a returning customer is looked up once a run.
# Bounded: past this many the map starts afresh, and memory stays flat.
MEMBERS_KEPT = 20_000
REFERENCE_MAX_LENGTH = 100
_SKU = re.compile(SKU_PATTERN)
_MONEY = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
_ZERO = Decimal("0.00")


@dataclass(slots=True)
class _Row:
    line: int
    occurred_at: str
    member: str
    item: LineInput | None = None
    discount: Decimal = Decimal("0.00")
    reason: str = ""


@dataclass
class _Purchase:
    """The consecutive rows of one (store, reference)."""

    store_code: str
    reference: str
    rows: list[_Row] = field(default_factory=list)
    reason: str = ""  # a reason for every row (the purchase as a whole is bad)
    store: Store | None = None
    member: Member | None = None
    occurred_at: datetime | None = None
    sale: SaleInput | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.store_code, self.reference)


# Amounts read so far (the text of a good cell → its Decimal): a history
# repeats its prices, and parsing one is most of a row's checks. Bounded, so
# memory stays flat; only good amounts are kept, so every error is found anew.
_AMOUNTS: dict[str, Decimal] = {}
_AMOUNTS_MAX = 20_000


def _money(name: str, value: str, *, default: Decimal | None = None) -> Decimal:
    amount = _AMOUNTS.get(value)
    if amount is not None:
        return amount
    text = value.strip()
    if not text and default is not None:
        return default
    if not _MONEY.match(text):
        raise BadCell(
            _("%(column)s must be an amount such as 12.50, not “%(value)s”")
            % {"column": name, "value": text[:60]}
        )
    amount = Decimal(text).quantize(Decimal("0.01"))
    if amount > MONEY_MAX:
        raise BadCell(_("%(column)s is above %(max)s") % {"column": name, "max": MONEY_MAX})
    if len(_AMOUNTS) >= _AMOUNTS_MAX:
        _AMOUNTS.clear()
    _AMOUNTS[value] = amount
    return amount


def _item(cells: dict[str, str], *, plain: bool = False) -> tuple[LineInput, Decimal]:
    """The row's line and its discount, its cells checked in the order
    below (the first problem is the row's reason); `plain`: the reader
    found them all storable text (CsvRecord.plain). Raises BadCell."""
    if not plain:
        cells_text_check(cells)
    get = cells.get
    sku = get("sku", "")
    if not _SKU.match(sku):
        raise BadCell(
            _("sku must be letters, digits and . _ : / - (at most 64), not “%(value)s”")
            % {"value": sku[:60]}
        )
    quantity_text = get("quantity", "")
    try:
        quantity = int(quantity_text)
    except ValueError:
        raise BadCell(
            _("quantity must be a whole number, not “%(value)s”") % {"value": quantity_text[:60]}
        ) from None
    if not 1 <= quantity <= QUANTITY_MAX:
        raise BadCell(
            _("quantity must be between 1 and %(max)s, not %(value)s")
            % {"max": QUANTITY_MAX, "value": quantity}
        )
    unit_price = _money("unit_price", get("unit_price", ""))
    discount = _money("discount", get("discount", ""), default=_ZERO)
    if discount and discount > unit_price * quantity:
        raise BadCell(_("discount is larger than the line (quantity × unit_price)"))
    name, category, earns = get("name", ""), get("category", ""), get("earns", "")
    # The checks are called only when they may refuse (most cells are short, `earns` empty).
    item = LineInput(
        sku,
        quantity,
        unit_price,
        name if len(name) <= 200 else cell_text("name", name, max_length=200),
        category if len(category) <= 100 else cell_text("category", category, max_length=100),
        cell_bool("earns", earns, default=True) if earns else True,
    )
    return item, discount


def _digest(key: tuple[str, str]) -> int:
    raw = f"{key[0]}\0{key[1]}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest())


class _Run:
    """One pass over a purchases file (see the module docstring)."""

    def __init__(self, report: ImportReport, *, dry_run: bool, no_points: bool) -> None:
        self.report, self.dry_run, self.no_points = report, dry_run, no_points
        self.now = timezone.now()
        self.seen: set[int] = set()
        self.batch: list[_Purchase] = []
        self.batch_size = BATCH_COPY if no_points else BATCH
        self.members: dict[str, list[Member]] = {}
        # The COPY writer's thread and the batch it is writing (see _Writer).
        self.writer: _Writer | None = None
        self.program: ProgramSettings = program_settings_get()
        self.actor = Actor.system()

    # --- reading ---

    def read(self, stream: IO[bytes]) -> None:
        if not self.dry_run and _Writer.usable():
            self.writer = _Writer()
        try:
            self._read(stream)
        finally:
            if self.writer is not None:
                self.writer.close()
        if not self.dry_run and not self.no_points and self.report.imported:
            # Catch up as the nightly jobs would: what waited or expired since.
            for name in ("release_pending", "expire_points"):
                job_run(name, as_of=timezone.now())

    def _read(self, stream: IO[bytes]) -> None:
        try:
            names, records = csv_records(stream)
        except CsvFileError as exc:
            self.report.error(exc.line, exc.reason)
            return
        problem = (
            header_problem(names, columns=COLUMNS, required=REQUIRED)
            if names
            else _("the file is empty")
        )
        if problem:
            self.report.error(1, problem)
            return
        current: _Purchase | None = None
        try:
            for record in records:
                cells = record.cells
                store_code, reference = cells.get("store", ""), cells.get("reference", "")
                if record.extra or not store_code or not reference:
                    reason = (
                        _("more cells than the header has columns")
                        if record.extra
                        else _("store and reference are required")
                    )
                    self.report.error(record.line, reason)
                    self.report.done(1)
                    continue
                if (
                    current is None
                    or current.reference != reference
                    or current.store_code != store_code
                ):
                    if current is not None:
                        self._close(current)
                    current = _Purchase(store_code, reference)
                current.rows.append(self._row(record.line, cells, plain=record.plain))
        except CsvFileError as exc:
            self.report.error(exc.line, exc.reason)
        if current is not None:
            self._close(current)
        self._flush()
        if self.writer is not None:
            self.writer.wait()

    def _row(self, line: int, cells: dict[str, str], *, plain: bool) -> _Row:
        row = _Row(line, cells.get("occurred_at", ""), cells.get("member", ""))
        try:
            row.item, row.discount = _item(cells, plain=plain)
        except BadCell as exc:
            row.reason = str(exc)
        return row

    def _close(self, purchase: _Purchase) -> None:
        """Checks a purchase's rows can tell alone, then into the batch."""
        digest = _digest(purchase.key)
        first = purchase.rows[0]
        if digest in self.seen:
            purchase.reason = _(
                "the rows of receipt %(reference)s at store %(store)s are not together: "
                "it came earlier in the file"
            ) % {"reference": purchase.reference, "store": purchase.store_code}
        self.seen.add(digest)
        for row in purchase.rows[1:]:
            if row.reason:
                continue
            if row.occurred_at != first.occurred_at:
                row.reason = _("occurred_at differs from line %(line)s of the same purchase") % {
                    "line": first.line
                }
            elif row.member != first.member:
                row.reason = _("member differs from line %(line)s of the same purchase") % {
                    "line": first.line
                }
        if len(purchase.rows) > SALE_LINES_MAX:
            purchase.reason = purchase.reason or _("a purchase has at most %(max)s lines") % {
                "max": SALE_LINES_MAX
            }
        if not purchase.reason:
            try:
                purchase.occurred_at = cell_moment("occurred_at", first.occurred_at, now=self.now)
            except BadCell as exc:
                purchase.reason = str(exc)
        self.batch.append(purchase)
        if len(self.batch) >= self.batch_size:
            self._flush()

    # --- checking against the database, then writing ---

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        self._resolve(batch)
        # The writer's thread looks for receipts recorded already (`_copy_batch`),
        # not this one: the statement's wait is then beside the reading.
        copied = self.no_points and self.writer is not None and not self.dry_run
        existing = set() if copied else _existing(batch)
        ready = []
        for purchase in batch:
            if self._bad(purchase):
                continue
            if (purchase.store.pk, purchase.reference) in existing:  # type: ignore[union-attr]
                self.report.skipped += len(purchase.rows)
                self.report.done(len(purchase.rows))
                continue
            ready.append(purchase)
        if self.dry_run:
            for purchase in ready:
                self._imported(purchase)
        elif self.no_points:
            self._write_without_points(ready)
        else:
            self._write_with_points(ready)

    def _resolve(self, batch: list[_Purchase]) -> None:
        """Each good purchase's store, member and sale, or its reason."""
        members = self._members(batch)
        for purchase in batch:
            if purchase.reason or any(row.reason for row in purchase.rows):
                continue
            store = store_get(code=purchase.store_code)
            if store is None or not store.is_active:
                purchase.reason = _("unknown store “%(store)s”") % {"store": purchase.store_code}
                continue
            purchase.store = store
            reference = purchase.rows[0].member
            if reference:
                found = members.get(reference, [])
                if not found:
                    purchase.reason = _("unknown member “%(member)s”") % {"member": reference}
                    continue
                if len(found) > 1:
                    purchase.reason = _("“%(member)s” matches %(count)s different members") % {
                        "member": reference,
                        "count": len(found),
                    }
                    continue
                if found[0].status != MemberStatus.ACTIVE:
                    purchase.reason = _("the member “%(member)s” is blocked or deleted") % {
                        "member": reference
                    }
                    continue
                purchase.member = found[0]
            discounts = tuple(row.discount for row in purchase.rows)
            sale = SaleInput(
                store=store,
                reference=purchase.reference,
                member=purchase.member,
                occurred_at=purchase.occurred_at,  # type: ignore[arg-type]
                items=[row.item for row in purchase.rows],  # type: ignore[misc]
                discount_total=sum(discounts, Decimal("0.00")),
                line_discounts=discounts if any(discounts) else (),
                imported=True,
            )
            try:
                sale_validate(sale=sale, now=self.now)
            except ValidationFailed as exc:
                purchase.reason = _reason(exc)
                continue
            purchase.sale = sale

    def _members(self, batch: list[_Purchase]) -> dict[str, list[Member]]:
        """The members each good purchase's member column names, a value
        looked up once a run (MEMBERS_KEPT). With points, each batch reads
        its members' tiers and status again when it writes them
        (purchases.import_points), since the batches before changed them."""
        wanted = {p.rows[0].member for p in batch if not p.reason and p.rows[0].member}
        known = self.members
        new = [value for value in wanted if value not in known]
        if new:
            if len(known) + len(new) > MEMBERS_KEPT:
                known = self.members = {}
                new = list(wanted)
            known.update(members_by_reference(new))
        return known

    def _bad(self, purchase: _Purchase) -> bool:
        """Tell the rows of a purchase that cannot be imported; True if so."""
        bad = [row for row in purchase.rows if row.reason]
        if not bad and not purchase.reason and purchase.sale is not None:
            return False
        self._refuse(purchase, purchase.reason)
        return True

    def _refuse(self, purchase: _Purchase, reason: str) -> None:
        bad = [row for row in purchase.rows if row.reason]
        for row in purchase.rows:
            if row.reason:
                self.report.error(row.line, row.reason)
            elif reason:
                self.report.error(row.line, reason)
            else:
                self.report.error(
                    row.line,
                    _("not imported: line %(line)s of the same purchase is bad")
                    % {"line": bad[0].line},
                )
        self.report.done(len(purchase.rows))

    def _imported(self, purchase: _Purchase) -> None:
        self.report.imported += len(purchase.rows)
        self.report.done(len(purchase.rows))

    def _write_with_points(self, ready: list[_Purchase]) -> None:
        """The batch with its points, as the sale flow records each sale in
        turn, in one transaction (purchases.import_points); in the writer's
        thread when there is one, while the next batch is read."""
        sales: list[SaleInput] = [purchase.sale for purchase in ready]  # type: ignore[misc]
        recorded_at, actor = self.now, self.actor
        # Here, while the writer is busy with the batch before: it is the slower.
        fingerprints = [sale_fingerprint(sale) for sale in sales]

        def work() -> list[Outcome]:
            return sales_import(
                sales=sales, recorded_at=recorded_at, actor=actor, fingerprints=fingerprints
            )

        def done(outcomes: list[Outcome]) -> None:
            for purchase, outcome in zip(ready, outcomes, strict=True):
                if outcome == IMPORTED:
                    self._imported(purchase)
                elif outcome == SKIPPED:
                    self.report.skipped += len(purchase.rows)
                    self.report.done(len(purchase.rows))
                else:
                    self._refuse(purchase, _reason(outcome))  # type: ignore[arg-type]

        if self.writer is None:
            done(work())
            return
        self.writer.wait()
        self.writer.start(work, done)

    def _write_without_points(self, ready: list[_Purchase]) -> None:
        """The batch's purchases and lines, no points (`_copy_batch`). With a
        writer's thread, the rows are built here (`_batch_rows`) and the
        thread only writes them, while this one reads the next batch: the
        thread's share is then mostly the server's (COPY, indexes, the
        foreign keys checked at commit), so neither waits long for the other."""
        program, now = self.program, self.now
        if self.writer is None:
            self._written(_copy_batch(ready, program, now))
            return
        rows = _batch_rows(ready, program, now)
        self.writer.wait()
        self.writer.start(
            lambda: _copy_batch(ready, program, now, rows, unchecked=True), self._written
        )

    def _written(self, outcome: tuple[list[_Purchase], list[_Purchase]]) -> None:
        imported, skipped = outcome
        for purchase in skipped:
            self.report.skipped += len(purchase.rows)
            self.report.done(len(purchase.rows))
        for purchase in imported:
            self._imported(purchase)


class _Writer:
    """The writer on PostgreSQL: a thread of its own, with its own
    connection, writes one batch (`_copy_batch`, or `sales_import` with its
    points: much of either is the server's work, on the other core) while
    the file's next batch is read and checked. One batch at a time: the next
    waits for it, and what it found is told to the report (`done`) in the
    reading thread. A batch with points reads the accounts and tiers the one
    before committed (purchases.import_points reads the members' tiers
    again). The thread runs in the reader's context (deliveries_off) and
    language. Not inside a transaction (a test's, a caller's): the thread's
    connection would not see it; then the batches are written in turn on
    the caller's connection."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        self.pending: tuple[Future[Any], Callable[[Any], None]] | None = None

    @staticmethod
    def usable() -> bool:
        connection = transaction.get_connection()
        return connection.vendor == "postgresql" and not connection.in_atomic_block

    def start(self, work: Callable[[], T], done: Callable[[T], None]) -> None:
        context, language = contextvars.copy_context(), translation.get_language()

        def run() -> T:
            with translation.override(language):
                return work()

        self.pending = (self.pool.submit(context.run, run), done)

    def wait(self) -> None:
        """Tell the batch being written (none: nothing) to its `done`; its
        error, if it failed, is raised here."""
        pending, self.pending = self.pending, None
        if pending is not None:
            future, done = pending
            done(future.result())

    def close(self) -> None:
        try:
            if self.pending is not None:
                self.pending[0].result()
        finally:
            self.pool.submit(connections.close_all).result()
            self.pool.shutdown()


def _existing(batch: list[_Purchase]) -> set[tuple[int, str]]:
    """The batch's (store, reference) pairs recorded already, in one statement."""
    pairs = {(p.sale.store.pk, p.reference) for p in batch if p.sale is not None}
    return keys_existing(Purchase, ("store_id", "reference"), pairs)


_Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


def _batch_rows(ready: list[_Purchase], program: ProgramSettings, now: datetime) -> _Rows:
    """The batch's purchase rows (PURCHASE_COLUMNS) and line rows
    (LINE_COLUMNS), no points, with keys from the tables' sequences."""
    ids = ids_reserve(Purchase, len(ready))
    purchases: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    for pk, purchase in zip(ids, ready, strict=True):
        sale = purchase.sale
        assert sale is not None
        row, sale_lines = purchase_rows(
            pk,
            sale,
            sale_quote(sale=sale, program=program),
            recorded_at=now,
            points=Points(),
            recorded_by_id=None,
        )
        purchases.append(row)
        lines += sale_lines
    line_ids = ids_reserve(PurchaseLine, len(lines))
    return purchases, [(pk, *line[1:]) for pk, line in zip(line_ids, lines, strict=True)]


def _copy_batch(
    ready: list[_Purchase],
    program: ProgramSettings,
    now: datetime,
    rows: _Rows | None = None,
    *,
    unchecked: bool = False,
    retry: bool = True,
) -> tuple[list[_Purchase], list[_Purchase]]:
    """Write the batch's purchases and lines, no points, in one transaction:
    COPY on PostgreSQL; `rows` are theirs when they were built already
    (`_batch_rows`; keys taken from a sequence before the transaction are
    still no one else's). `unchecked`: the batch may hold receipts recorded
    already (a rerun): they are looked for first and left out. A receipt a
    till recorded meanwhile makes the batch clash: it is checked again and
    written once more without it. Returns (the purchases imported, those
    skipped as recorded already)."""
    skipped: list[_Purchase] = []
    if unchecked and ready and rows is not None:
        ready, rows, skipped = _without_recorded(ready, rows)
    if not ready:
        return [], skipped
    try:
        with transaction.atomic():
            # A rerun writes again what a crash of the database lost.
            commit_unflushed()
            purchases, lines = rows if rows is not None else _batch_rows(ready, program, now)
            rows_copy(Purchase, PURCHASE_COLUMNS, purchases)
            rows_copy(PurchaseLine, LINE_COLUMNS, lines)
    except IntegrityError:
        if not retry:
            raise
        existing = _existing(ready)
        skipped += [p for p in ready if (p.sale.store.pk, p.reference) in existing]  # type: ignore[union-attr]
        left = [p for p in ready if (p.sale.store.pk, p.reference) not in existing]  # type: ignore[union-attr]
        imported, _none = _copy_batch(left, program, now, retry=False)
        return imported, skipped
    return ready, skipped


def _without_recorded(
    ready: list[_Purchase], rows: _Rows
) -> tuple[list[_Purchase], _Rows, list[_Purchase]]:
    """The batch and its rows without the receipts recorded already, and those."""
    existing = _existing(ready)
    if not existing:
        return ready, rows, []
    purchases, lines = rows
    kept = [
        i
        for i, p in enumerate(ready)
        if (p.sale.store.pk, p.reference) not in existing  # type: ignore[union-attr]
    ]
    kept_ids, left_out = {purchases[i][0] for i in kept}, set(range(len(ready))) - set(kept)
    return (
        [ready[i] for i in kept],
        ([purchases[i] for i in kept], [line for line in lines if line[1] in kept_ids]),
        [ready[i] for i in sorted(left_out)],
    )


def _reason(exc: DomainError) -> str:
    reasons = [str(m) for messages in (exc.fields or {}).values() for m in messages]
    return "; ".join(reasons) or exc.message


def purchases_import(
    *, stream: IO[bytes], report: ImportReport, dry_run: bool, no_points: bool = False
) -> None:
    """Import (or, `dry_run`, check) a purchases file; see the module
    docstring. Every bad row is told to `report` with its line and reason."""
    _Run(report, dry_run=dry_run, no_points=no_points).read(stream)
