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
- With points (the default), each purchase goes through the sale flow
  (purchases.services.purchase_record) played at its `occurred_at`: base
  and tier points as the program gives them, pending and expiry counted
  from then, the member's tier reviewed on the window up to then. An
  imported history earns no campaign award, qualifies no referral and sends
  no message (`SaleInput.imported`). Afterwards the jobs `release_pending`
  and `expire_points` run as of now, as the nightly run would, so what has
  waited or expired since is released or expired.
- `no_points`: the purchases and their lines only, no ledger entry, no
  activity; written BATCH purchases at a time with PostgreSQL's COPY
  (loyalty.db.rows_copy; bulk_create on SQLite), their amounts from the
  same quote as a sale (purchases.quote.sale_quote).

Memory: the file is read row by row and BATCH purchases are held at a time;
what grows with the file is one 64-bit digest per purchase (to tell rows
that came apart), about 60 bytes each.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.csv_files import CsvFileError, csv_records
from loyalty.db import ids_reserve, rows_copy
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
from purchases.errors import DuplicateReference
from purchases.inputs import SKU_PATTERN, LineInput, SaleInput, sale_fingerprint, sale_validate
from purchases.models import Purchase, PurchaseLine
from purchases.quote import sale_quote
from purchases.services import purchase_record

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
# Purchases held, checked against the database and written at a time.
BATCH = 500
REFERENCE_MAX_LENGTH = 100
_SKU = re.compile(SKU_PATTERN)
_MONEY = re.compile(r"^\d{1,10}(\.\d{1,2})?$")


@dataclass
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


def _money(name: str, value: str, *, default: Decimal | None = None) -> Decimal:
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
    return amount


def _item(cells: dict[str, str]) -> tuple[LineInput, Decimal]:
    """The row's line and its discount. Raises BadCell."""
    cells_text_check(cells)
    sku = cells.get("sku", "")
    if not _SKU.match(sku):
        raise BadCell(
            _("sku must be letters, digits and . _ : / - (at most 64), not “%(value)s”")
            % {"value": sku[:60]}
        )
    quantity_text = cells.get("quantity", "")
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
    unit_price = _money("unit_price", cells.get("unit_price", ""))
    discount = _money("discount", cells.get("discount", ""), default=Decimal("0.00"))
    if discount > unit_price * quantity:
        raise BadCell(_("discount is larger than the line (quantity × unit_price)"))
    item = LineInput(
        sku=sku,
        quantity=quantity,
        unit_price=unit_price,
        name=cell_text("name", cells.get("name", ""), max_length=200),
        category=cell_text("category", cells.get("category", ""), max_length=100),
        earns=cell_bool("earns", cells.get("earns", ""), default=True),
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
        self.program: ProgramSettings = program_settings_get()
        self.actor = Actor.system()

    # --- reading ---

    def read(self, stream: IO[bytes]) -> None:
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
                if current is None or current.key != (store_code, reference):
                    if current is not None:
                        self._close(current)
                    current = _Purchase(store_code, reference)
                current.rows.append(self._row(record.line, cells))
        except CsvFileError as exc:
            self.report.error(exc.line, exc.reason)
        if current is not None:
            self._close(current)
        self._flush()
        if not self.dry_run and not self.no_points and self.report.imported:
            # Catch up as the nightly jobs would: what waited or expired since.
            for name in ("release_pending", "expire_points"):
                job_run(name, as_of=timezone.now())

    def _row(self, line: int, cells: dict[str, str]) -> _Row:
        row = _Row(line, cells.get("occurred_at", ""), cells.get("member", ""))
        try:
            row.item, row.discount = _item(cells)
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
        if len(self.batch) >= BATCH:
            self._flush()

    # --- checking against the database, then writing ---

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        self._resolve(batch)
        existing = self._existing(batch)
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
        members = members_by_reference(
            p.rows[0].member for p in batch if not p.reason and p.rows[0].member
        )
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

    def _existing(self, batch: list[_Purchase]) -> set[tuple[int, str]]:
        by_store: dict[int, list[str]] = {}
        for purchase in batch:
            if purchase.sale is not None:
                by_store.setdefault(purchase.sale.store.pk, []).append(purchase.reference)
        existing: set[tuple[int, str]] = set()
        for store_id, references in by_store.items():
            existing.update(
                Purchase.objects.filter(store_id=store_id, reference__in=references).values_list(
                    "store_id", "reference"
                )
            )
        return existing

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
        """Each purchase through the sale flow, played at its occurred_at, in
        one transaction for the batch (a savepoint each: a refused sale
        leaves the others). The batch holds one object per member
        (members_by_reference), so a tier one sale reaches applies to the
        member's next sale: the sale flow updates it in place."""
        with transaction.atomic():
            for purchase in ready:
                sale = purchase.sale
                assert sale is not None
                try:
                    recorded = purchase_record(
                        sale=sale, actor=self.actor, now=sale.occurred_at, recorded_at=self.now
                    )
                except DuplicateReference:
                    recorded = None
                except DomainError as exc:
                    self._refuse(purchase, _reason(exc))
                    continue
                if recorded is None or recorded.replayed:
                    self.report.skipped += len(purchase.rows)
                    self.report.done(len(purchase.rows))
                else:
                    self._imported(purchase)

    def _write_without_points(self, ready: list[_Purchase], *, retry: bool = True) -> None:
        """The batch's purchases and lines, no points: COPY on PostgreSQL. A
        receipt a till recorded meanwhile makes the batch clash: it is checked
        again and written once more without it."""
        if not ready:
            return
        try:
            with transaction.atomic():
                ids = ids_reserve(Purchase, len(ready))
                purchases, lines = [], []
                for pk, purchase in zip(ids, ready, strict=True):
                    row, row_lines = _purchase_rows(pk, purchase, self.program, self.now)
                    purchases.append(row)
                    lines += row_lines
                rows_copy(Purchase, PURCHASE_COLUMNS, purchases)
                line_ids = ids_reserve(PurchaseLine, len(lines))
                rows_copy(
                    PurchaseLine,
                    LINE_COLUMNS,
                    [(pk, *line) for pk, line in zip(line_ids, lines, strict=True)],
                )
        except IntegrityError:
            if not retry:
                raise
            existing = self._existing(ready)
            left = []
            for purchase in ready:
                if (purchase.sale.store.pk, purchase.reference) in existing:  # type: ignore[union-attr]
                    self.report.skipped += len(purchase.rows)
                    self.report.done(len(purchase.rows))
                else:
                    left.append(purchase)
            self._write_without_points(left, retry=False)
            return
        for purchase in ready:
            self._imported(purchase)


def _reason(exc: DomainError) -> str:
    reasons = [str(m) for messages in (exc.fields or {}).values() for m in messages]
    return "; ".join(reasons) or exc.message


# The columns `--no-points` writes, every one of each table (a test holds them to the models).
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


def _purchase_rows(
    pk: int, purchase: _Purchase, program: ProgramSettings, now: datetime
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The purchase's row (its receipt as the sale flow stores it, no
    points) and its lines' rows without their id, in the columns above,
    amounts from the sale's own quote."""
    sale = purchase.sale
    assert sale is not None
    quote = sale_quote(sale=sale, program=program)
    member = sale.member
    receipt: dict[str, Any] = {
        "id": pk,
        "reference": sale.reference,
        "store": sale.store.code,
        "member_id": member.public_id if member else None,
        "occurred_at": sale.occurred_at.isoformat(),
        "total": str(quote.total),
        "eligible_amount": str(quote.eligible_amount),
        "points_earned": 0,
        "points_status": "available",
        "awards": [],
        "points_redeemed": 0,
        "balance": None,
        "tier": None,
        "vouchers": [],
        "gift_cards": [],
    }
    row = (
        pk,
        sale.store.pk,
        sale.reference,
        member.pk if member else None,
        sale.occurred_at,
        now,
        quote.subtotal,
        quote.discount_total,
        quote.total,
        quote.eligible_amount,
        0,
        0,
        "available",
        "",
        sale_fingerprint(sale),
        json.dumps(receipt),
        None,
    )
    lines = [
        (
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


def purchases_import(
    *, stream: IO[bytes], report: ImportReport, dry_run: bool, no_points: bool = False
) -> None:
    """Import (or, `dry_run`, check) a purchases file; see the module
    docstring. Every bad row is told to `report` with its line and reason."""
    _Run(report, dry_run=dry_run, no_points=no_points).read(stream)
