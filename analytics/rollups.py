"""Roll-ups: the daily facts the dashboards and GET /analytics/summary read,
so that no page reads raw purchases (docs/analytics.md, "Roll-ups").

Tables (analytics.models), each a pure function of raw rows:

- `StoreDay` — a store's sales of a local day, by the day of the sale: a
  return changes the day of the sale it returns, so a sale returned in full,
  in any number of parts, nets to 0.00 and 0 points in its day;
- `LedgerDay` — the ledger's movements of a day (by the day each entry was
  written) and the members who joined, by the members' home store;
- `MemberMonth`, `MemberDay` — each member's purchases per month and store,
  and days with a purchase, for the figures that count members;
- `BuyerCell`, `ActiveCell`, `CohortDay`, `CohortCell` — those figures as
  sums: member-months and member-days counted by their neighbours, members
  by joining day and month bought.

Refreshing is set-based: for a range of days, each table's rows of those
days are written again by `INSERT … SELECT … GROUP BY`, all in one
transaction, so a day computed twice gives the same rows and a reader never
sees a half-written day. `MemberMonth` rows of a month are worked out again
for the members who bought on the refreshed days (from their whole month)
and written, as `MemberDay`'s, by difference (`_replace_rows`: an unchanged
row is not written). The cells of those buyers are taken out and put back
(`_cells_move`, `_active_move`, `_cohort_move`), each buyer's neighbours
found once (`_near_add`); the cohort rows of the members who joined on the
days are rewritten whole (`_cohorts`).

What is dirty is found without touching the sale path (it costs no statement
there): the `rollups` job keeps the highest ids of purchases, returns, ledger
entries and members it has seen (`RollupState`) and refreshes the days of
every newer row: a backdated sale's day, the day of the sale a return
returns, the day an entry was written, a member's joining day; and, from
members' audit events, the cohort rows of a member deleted or moved to
another home store (`rollups_cohorts_refresh`). Rows written
in the last `SETTLE` before the run are read again at the next run, so a
transaction that took an id early and committed late is not missed.
`manage.py rollups_rebuild [--from --to]` rewrites a range (backfills).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    DateField,
    DecimalField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from analytics.models import (
    NO_MONTH_AFTER,
    NO_MONTH_BEFORE,
    ROLLUP_MONEY,
    ActiveCell,
    BuyerCell,
    CohortCell,
    CohortDay,
    LedgerDay,
    MemberDay,
    MemberMonth,
    RollupState,
    StoreDay,
)
from loyalty.models import AuditEvent
from members.models import EntryKind, Member, MemberStatus, PointsEntry
from purchases.models import Purchase, Return

logger = logging.getLogger(__name__)

# How long after a row's time the job still reads it again (late commits).
SETTLE = timedelta(minutes=10)
# The longest range one refresh call rewrites; longer rebuilds go by chunks
# so that no transaction holds a year of rows.
CHUNK_DAYS = 31
# Buyers (member and store pairs) whose cells one statement moves: two
# parameters a pair, within SQLite's 32,766 a statement. Fewer, larger
# statements plan less: a day at 10M purchases 3.7-4.9 s with 10,000,
# 4.7-6.1 s with 2,000 (measured back to back, load ~2.3).
CELL_BATCH = 10_000
ZERO = Decimal("0.00")
_MONEY = DecimalField(**ROLLUP_MONEY)


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The aware instants of local midnight before `start` and after `end`."""
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), tz),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz),
    )


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _no_jit() -> None:
    """PostgreSQL compiles a query it thinks costly (JIT) before running it:
    for a refresh's many short, index-bound statements that costs more than
    it saves (0.4 s of a 0.9 s statement, measured). Off for this transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


def _insert_select(model: type, columns: dict[str, str], queryset: QuerySet) -> int:
    """INSERT INTO model's table (columns' keys) the rows of `queryset`, whose
    selected names are `columns`' values: one statement, compiled by the ORM
    for whichever database runs (SQLite and PostgreSQL)."""
    compiler = queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    # The compiler knows the order it selected the names in.
    order = {alias: i for i, (_expr, _sql, alias) in enumerate(compiler.select)}
    if set(order) != set(columns.values()):
        raise ValueError(f"selected {sorted(order)}, expected {sorted(columns.values())}")
    by_position = sorted(columns.items(), key=lambda item: order[item[1]])
    quote = connection.ops.quote_name
    target = ", ".join(quote(model._meta.get_field(name).column) for name, _ in by_position)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({target}) {sql}", params)
        return cursor.rowcount


NEW_ROWS = "rollup_new_rows"


def _replace_rows(
    model: type,
    columns: dict[str, str],
    queryset: QuerySet,
    where: str,
    where_params: list[Any],
    keys: list[str],
) -> int:
    """Make the rows of `model` that `where` picks (SQL over its own table)
    the rows `queryset` selects (named as for `_insert_select`), writing
    only what differs: those picked rows with no equal new row are deleted,
    and the new rows whose `keys` are then missing are inserted. A row that
    did not change is not touched, so a refresh of a day that nothing moved
    rewrites no page (at 10M purchases, writing a day's rows whole cost
    seconds of pages written out of a small buffer cache). Returns the
    number of new rows."""
    compiler = queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    selected = {alias for _expr, _sql, alias in compiler.select}
    if selected != set(columns.values()):
        raise ValueError(f"selected {sorted(selected)}, expected {sorted(columns.values())}")
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column = {name: quote(model._meta.get_field(name).column) for name in columns}
    equal = " AND ".join(
        f"n.{quote(alias)} = {table}.{column[name]}" for name, alias in columns.items()
    )
    same_key = " AND ".join(f"n.{quote(columns[name])} = {table}.{column[name]}" for name in keys)
    names = ", ".join(column[name] for name in columns)
    aliases = ", ".join(f"n.{quote(alias)}" for alias in columns.values())
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {NEW_ROWS}")
        # Names are ours or the ORM's compiled SQL; every value a parameter.
        cursor.execute(f"CREATE TEMPORARY TABLE {NEW_ROWS} AS {sql}", params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {NEW_ROWS}")
        cursor.execute(
            f"DELETE FROM {table} WHERE {where} AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {NEW_ROWS} n WHERE {equal})",
            where_params,
        )
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {aliases} FROM {NEW_ROWS} n "  # noqa: S608
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {same_key})"
        )
        cursor.execute(f"SELECT COUNT(*) FROM {NEW_ROWS}")  # noqa: S608
        (count,) = cursor.fetchone()
        cursor.execute(f"DROP TABLE {NEW_ROWS}")
    return int(count)


def _returns_of(field: str, output: Any) -> Coalesce:
    """The sum of `field` over the returns of the outer purchase (0 without)."""
    sums = (
        Return.objects.filter(purchase=OuterRef("pk"))
        .order_by()
        .values("purchase")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(sums, output_field=output), Value(0), output_field=output)


def _purchases_net(lo: datetime, hi: datetime) -> QuerySet:
    """The purchases of [lo, hi), each with its net amount and net points."""
    return Purchase.objects.filter(occurred_at__gte=lo, occurred_at__lt=hi).annotate(
        returned=_returns_of("amount", _MONEY),
        settled=_returns_of(
            F("points_reversed") + F("clawback") + F("points_expired"), BigIntegerField()
        ),
        refunded_points=_returns_of("points_refunded", BigIntegerField()),
        net=ExpressionWrapper(F("total") - F("returned"), output_field=_MONEY),
    )


def _store_days(start: date, end: date) -> int:
    lo, hi = day_bounds(start, end)
    tz = timezone.get_current_timezone()
    member = Q(member__isnull=False)
    rows = (
        _purchases_net(lo, hi)
        .annotate(sale_day=TruncDate("occurred_at", tzinfo=tz))
        .order_by()
        .values("sale_day", "store_id")
        .annotate(
            n_sales=Count("id"),
            n_amount=Sum("net"),
            n_member_sales=Count("id", filter=member),
            n_member_amount=Coalesce(Sum("net", filter=member), Value(ZERO), output_field=_MONEY),
            n_returned=Sum("returned"),
            n_points_earned=Sum(F("points_earned") - F("settled")),
            n_points_paid=Sum(F("points_redeemed") - F("refunded_points")),
        )
    )
    StoreDay.objects.filter(day__gte=start, day__lte=end).delete()
    return _insert_select(
        StoreDay,
        {
            "day": "sale_day",
            "store": "store_id",
            "sales": "n_sales",
            "amount": "n_amount",
            "member_sales": "n_member_sales",
            "member_amount": "n_member_amount",
            "returned_amount": "n_returned",
            "points_earned": "n_points_earned",
            "points_paid": "n_points_paid",
        },
        rows,
    )


def _points(kind: str | list[str], sign: int = -1) -> Coalesce:
    kinds = [kind] if isinstance(kind, str) else kind
    total = Sum("points", filter=Q(kind__in=kinds))
    expression = total if sign > 0 else -total
    return Coalesce(expression, Value(0), output_field=BigIntegerField())


def _ledger_days(start: date, end: date) -> int:
    """The ledger's movements and the members joined, by day and home store:
    two INSERT … SELECT (entries, then members), merged by a third pass only
    for days and stores that had joiners but no entry."""
    lo, hi = day_bounds(start, end)
    tz = timezone.get_current_timezone()
    LedgerDay.objects.filter(day__gte=start, day__lte=end).delete()
    entries = (
        PointsEntry.objects.filter(created_at__gte=lo, created_at__lt=hi)
        .exclude(kind=EntryKind.RELEASE)
        .annotate(entry_day=TruncDate("created_at", tzinfo=tz), home=F("member__home_store_id"))
        .order_by()
        .values("entry_day", "home")
        .annotate(
            n_earned=_points([EntryKind.EARN, EntryKind.BONUS], +1),
            n_reversed=_points([EntryKind.REVERSE, EntryKind.CLAWBACK]),
            n_adjusted=_points(EntryKind.ADJUST, +1),
            n_redeemed=_points(EntryKind.REDEEM),
            n_refunded=_points(EntryKind.REFUND, +1),
            n_expired=_points(EntryKind.EXPIRE),
            n_joined=Value(0),
        )
    )
    written = _insert_select(
        LedgerDay,
        {
            "day": "entry_day",
            "store": "home",
            "earned": "n_earned",
            "reversed": "n_reversed",
            "adjusted": "n_adjusted",
            "redeemed": "n_redeemed",
            "refunded": "n_refunded",
            "expired": "n_expired",
            "members_joined": "n_joined",
        },
        entries,
    )
    joined = (
        Member.objects.filter(joined_at__gte=lo, joined_at__lt=hi)
        .exclude(status=MemberStatus.DELETED)
        .annotate(join_day=TruncDate("joined_at", tzinfo=tz))
        .order_by()
        .values("join_day", "home_store_id")
        .annotate(n=Count("id"))
    )
    rows = list(joined)
    if not rows:
        return written
    existing = {
        (row.day, row.store_id): row
        for row in LedgerDay.objects.filter(day__gte=start, day__lte=end)
    }
    new = []
    for row in rows:
        key = (row["join_day"], row["home_store_id"])
        if key in existing:
            LedgerDay.objects.filter(pk=existing[key].pk).update(members_joined=row["n"])
        else:
            new.append(LedgerDay(day=key[0], store_id=key[1], members_joined=row["n"]))
    LedgerDay.objects.bulk_create(new)
    return written + len(new)


def _member_months(start: date, end: date, *, whole: bool) -> int:
    """MemberMonth rows of the months of [start, end]: `whole` rewrites the
    months for every member (a rebuild); otherwise only for the members who
    bought on those days, each from their whole month."""
    tz = timezone.get_current_timezone()
    written = 0
    month = month_start(start)
    while month <= end:
        month_end = next_month(month) - timedelta(days=1)
        lo, hi = day_bounds(month, month_end)
        sales = _purchases_net(lo, hi).filter(member__isnull=False)
        if whole:
            MemberMonth.objects.filter(month=month).delete()
        else:
            day_lo, day_hi = day_bounds(max(start, month), min(end, month_end))
            buyers = Purchase.objects.filter(
                occurred_at__gte=day_lo, occurred_at__lt=day_hi, member__isnull=False
            ).values("member_id")
            sales = sales.filter(member_id__in=buyers)
        # A sale counts as a purchase unless it was returned in full.
        counted = Q(net__gt=0) | Q(total=0)
        rows = (
            sales.annotate(sale_day=TruncDate("occurred_at", tzinfo=tz))
            .order_by()
            .values("member_id", "store_id")
            .annotate(
                n_month=Value(month, output_field=DateField()),
                n_purchases=Count("id", filter=counted),
                n_amount=Sum("net"),
                n_first=Min("sale_day"),
                n_last=Max("sale_day"),
            )
        )
        columns = {
            "member": "member_id",
            "store": "store_id",
            "month": "n_month",
            "purchases": "n_purchases",
            "amount": "n_amount",
            "first_day": "n_first",
            "last_day": "n_last",
        }
        if whole:
            written += _insert_select(MemberMonth, columns, rows)
        else:
            inner, inner_params = buyers.query.get_compiler(connection=connection).as_sql()
            mm = connection.ops.quote_name(MemberMonth._meta.db_table)
            written += _replace_rows(
                MemberMonth,
                columns,
                rows,
                f"{mm}.month = %s AND {mm}.member_id IN ({inner})",
                [month, *inner_params],
                ["member", "store", "month"],
            )
        month = next_month(month)
    return written


def _chain_sql(members: QuerySet | None) -> tuple[str, list[Any]]:
    """The SELECT of every member-month (of `members`, or all) in its place in
    the member's chain of months with a purchase: across stores (store_key 0)
    and at each store. Window functions, as SQLite and PostgreSQL both run."""
    where, where_params = "", []
    if members is not None:
        inner, where_params = members.query.get_compiler(connection=connection).as_sql()
        where = f"WHERE member_id IN ({inner})"
    table = connection.ops.quote_name(MemberMonth._meta.db_table)
    parts, params = [], []
    for key, store in (("0", ""), ("store_id", "store_id, ")):
        partition = "member_id, store_id" if store else "member_id"
        # Names are ours or the ORM's compiled SQL; every value is a parameter.
        parts.append(
            f"""
            SELECT {key} AS store_key, month,
                COALESCE(LAG(month) OVER (PARTITION BY {partition} ORDER BY month), %s)
                    AS prev_month,
                COALESCE(LEAD(month) OVER (PARTITION BY {partition} ORDER BY month), %s)
                    AS next_month,
                (p = 1) AS single, p, a
            FROM (
                SELECT member_id, {store}month, SUM(purchases) AS p, SUM(amount) AS a
                FROM {table} {where}
                GROUP BY member_id, {store}month
                HAVING SUM(purchases) > 0
            ) AS member_months"""  # noqa: S608
        )
        params += [NO_MONTH_BEFORE, NO_MONTH_AFTER, *where_params]
    # The window's two parameters come before the subquery's in each part.
    return " UNION ALL ".join(parts), params


def _buyer_cells_all() -> None:
    """Every member-month into its BuyerCell (a rebuild, the cells empty):
    one INSERT … SELECT over the chains of `_chain_sql`."""
    chain, params = _chain_sql(None)
    table = connection.ops.quote_name(BuyerCell._meta.db_table)
    keys = "store_key, month, prev_month, next_month, single"
    # Names are ours; every value a parameter.
    sql = f"""
        INSERT INTO {table} ({keys}, members, purchases, amount)
        SELECT {keys}, COUNT(*), SUM(p), SUM(a) FROM ({chain}) AS chain GROUP BY {keys}
        ORDER BY {keys}
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _pairs_cte(pairs: list[tuple[int, int]]) -> tuple[str, list[Any]]:
    """`WITH pairs (member_id, store_id) AS (VALUES ...), buyers (member_id)`:
    the members and stores whose cells a refresh moves, as lists the planner
    can count: each member's rows come by the (member, ...) indexes (with
    `IN (subquery)`, PostgreSQL scanned months of rows)."""
    values = ", ".join(["(%s, %s)"] * len(pairs))
    cte = (
        f"WITH pairs (member_id, store_id) AS (VALUES {values}), "  # noqa: S608
        "buyers (member_id) AS (SELECT DISTINCT member_id FROM pairs) "
    )
    return cte, [value for pair in pairs for value in pair]


def _member_days(start: date, end: date) -> int:
    """MemberDay rows of the days `start` to `end`: each member's days with a
    purchase at each store, a sale returned in full not counting."""
    lo, hi = day_bounds(start, end)
    tz = timezone.get_current_timezone()
    days = (
        _purchases_net(lo, hi)
        .filter(member__isnull=False)
        .filter(Q(net__gt=0) | Q(total=0))
        .annotate(sale_day=TruncDate("occurred_at", tzinfo=tz))
        .order_by()
        .values("member_id", "store_id", "sale_day")
        .distinct()
    )
    md = connection.ops.quote_name(MemberDay._meta.db_table)
    return _replace_rows(
        MemberDay,
        {"member": "member_id", "store": "store_id", "day": "sale_day"},
        days,
        f"{md}.day >= %s AND {md}.day <= %s",
        [start, end],
        ["member", "store", "day"],
    )


def _active_cells_all() -> None:
    """Every member-day into its ActiveCell (a rebuild, the cells empty), by
    a window over each member's days (across stores, and at each)."""
    days = connection.ops.quote_name(MemberDay._meta.db_table)
    parts = []
    for key, store in (("0", ""), ("store_id", "store_id, ")):
        partition = "member_id, store_id" if store else "member_id"
        parts.append(
            f"""
            SELECT {key} AS store_key, day,
                COALESCE(LAG(day) OVER (PARTITION BY {partition} ORDER BY day), %s) AS prev_day
            FROM (
                SELECT member_id, {store}day FROM {days} GROUP BY member_id, {store}day
            ) AS member_days"""  # noqa: S608
        )
    table = connection.ops.quote_name(ActiveCell._meta.db_table)
    keys = "store_key, day, prev_day"
    # In the order of the cells' key: a store's cells of a run of days then
    # sit in a run of pages (at 1M members the dashboard's active members
    # of a store read 12,500 pages of 15,000 when in the order grouped).
    sql = f"""
        INSERT INTO {table} ({keys}, members)
        SELECT {keys}, COUNT(*) FROM ({" UNION ALL ".join(parts)}) AS chain GROUP BY {keys}
        ORDER BY {keys}
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [NO_MONTH_BEFORE, NO_MONTH_BEFORE])


# Temporary tables of one refresh: each buyer's neighbours, across stores
# (store_key 0) and at each store where they bought on the days. A refresh
# changes the member-months and member-days of its days only, so the
# neighbours are the same before and after: found once, read by both passes.
NEAR_MONTHS = "rollup_near_months"
NEAR_DAYS = "rollup_near_days"


def _near_create() -> None:
    with connection.cursor() as cursor:
        for table in (NEAR_MONTHS, NEAR_DAYS):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        # lo: the member's last month with a purchase before the refreshed
        # ones, lo_prev the one before it, lo_p and lo_a its purchases and
        # amount; hi, hi_next, hi_p, hi_a the same after them; joined and
        # home: the member's cohort (`_near_cohorts`).
        cursor.execute(
            f"""CREATE TEMPORARY TABLE {NEAR_MONTHS} (
                store_key bigint NOT NULL, member_id bigint NOT NULL, store_id bigint,
                lo date, lo_prev date, lo_p bigint, lo_a numeric(16, 2),
                hi date, hi_next date, hi_p bigint, hi_a numeric(16, 2),
                joined date, home bigint)"""
        )
        # lo: the member's last purchase day before the refreshed days, hi
        # the first after them.
        cursor.execute(
            f"""CREATE TEMPORARY TABLE {NEAR_DAYS} (
                store_key bigint NOT NULL, member_id bigint NOT NULL, store_id bigint,
                lo date, hi date)"""
        )


def _near_drop() -> None:
    with connection.cursor() as cursor:
        for table in (NEAR_MONTHS, NEAR_DAYS):
            cursor.execute(f"DROP TABLE {table}")


def _near_add(pairs: list[tuple[int, int]], start: date, end: date) -> None:
    """The neighbours of the buyers and stores of `pairs` around the days
    `start` to `end` (and their months) into the temporary tables: a few
    look-ups each by the (member, month, store) and (member, day) indexes."""
    cte, params = _pairs_cte(pairs)
    first, last = month_start(start), month_start(end)
    mm = connection.ops.quote_name(MemberMonth._meta.db_table)
    md = connection.ops.quote_name(MemberDay._meta.db_table)
    with connection.cursor() as cursor:
        for table, source, on, lo, hi in (
            (NEAR_MONTHS, mm, "month", first, last),
            (NEAR_DAYS, md, "day", start, end),
        ):
            counted = " AND y.purchases > 0" if source == mm else ""
            # Names are ours; every value a parameter.
            cursor.execute(
                f"""
                {cte}INSERT INTO {table} (store_key, member_id, store_id, lo, hi)
                SELECT 0, q.member_id, NULL,
                    (SELECT MAX(y.{on}) FROM {source} y
                     WHERE y.member_id = q.member_id AND y.{on} < %s{counted}),
                    (SELECT MIN(y.{on}) FROM {source} y
                     WHERE y.member_id = q.member_id AND y.{on} > %s{counted})
                FROM buyers q
                UNION ALL
                SELECT q.store_id, q.member_id, q.store_id,
                    (SELECT MAX(y.{on}) FROM {source} y WHERE y.member_id = q.member_id
                     AND y.store_id = q.store_id AND y.{on} < %s{counted}),
                    (SELECT MIN(y.{on}) FROM {source} y WHERE y.member_id = q.member_id
                     AND y.store_id = q.store_id AND y.{on} > %s{counted})
                FROM pairs q
                """,  # noqa: S608
                [*params, lo, hi, lo, hi],
            )


def _near_complete() -> None:
    """The months beyond each buyer's neighbouring months, and those months'
    purchases and amounts (across stores, or at the store)."""
    mm = connection.ops.quote_name(MemberMonth._meta.db_table)
    n = NEAR_MONTHS
    with connection.cursor() as cursor:
        for where, same in (("= 0", ""), ("<> 0", f" AND y.store_id = {n}.store_id")):
            mine = f"y.member_id = {n}.member_id{same}"
            # Names are ours; no value.
            cursor.execute(
                f"""
                UPDATE {n} SET
                    lo_prev = (SELECT MAX(y.month) FROM {mm} y
                        WHERE {mine} AND y.month < {n}.lo AND y.purchases > 0),
                    hi_next = (SELECT MIN(y.month) FROM {mm} y
                        WHERE {mine} AND y.month > {n}.hi AND y.purchases > 0),
                    lo_p = (SELECT SUM(y.purchases) FROM {mm} y WHERE {mine} AND y.month = {n}.lo),
                    lo_a = (SELECT SUM(y.amount) FROM {mm} y WHERE {mine} AND y.month = {n}.lo),
                    hi_p = (SELECT SUM(y.purchases) FROM {mm} y WHERE {mine} AND y.month = {n}.hi),
                    hi_a = (SELECT SUM(y.amount) FROM {mm} y WHERE {mine} AND y.month = {n}.hi)
                WHERE store_key {where}
                """  # noqa: S608
            )
        if connection.vendor == "postgresql":
            # A temporary table has no statistics until analysed: without,
            # the planner guesses and may scan a month of member-months.
            cursor.execute(f"ANALYZE {NEAR_MONTHS}")
            cursor.execute(f"ANALYZE {NEAR_DAYS}")


def _cells_move(sign: int, first: date, last: date) -> None:
    """Add (1) or take away (-1) the member-months whose BuyerCell a rewrite
    of the months `first` to `last` can move, of the buyers of the
    temporary table: their months in them and their neighbouring months
    (whose next or previous month may change), each with its previous and
    next month with a purchase. One INSERT … SELECT … ON CONFLICT."""
    mm = connection.ops.quote_name(MemberMonth._meta.db_table)
    table = connection.ops.quote_name(BuyerCell._meta.db_table)
    keys = "store_key, month, prev_month, next_month, single"
    window = "PARTITION BY store_key, member_id ORDER BY month"
    # Names are ours, `sign` an int, every value a parameter. `WHERE 1 = 1`:
    # SQLite's upsert after a SELECT needs a WHERE to parse.
    sql = f"""
        INSERT INTO {table} ({keys}, members, purchases, amount)
        SELECT {keys}, {sign} * COUNT(*), {sign} * SUM(p), {sign} * SUM(a) FROM (
            SELECT store_key, month,
                COALESCE(LAG(month) OVER ({window}), lo_prev, %s) AS prev_month,
                COALESCE(LEAD(month) OVER ({window}), hi_next, %s) AS next_month,
                (p = 1) AS single, p, a
            FROM (
                SELECT store_key, member_id, lo AS month, lo_p AS p, lo_a AS a, lo_prev, hi_next
                FROM {NEAR_MONTHS} WHERE lo IS NOT NULL
                UNION ALL
                SELECT store_key, member_id, hi, hi_p, hi_a, lo_prev, hi_next
                FROM {NEAR_MONTHS} WHERE hi IS NOT NULL
                UNION ALL
                SELECT n.store_key, n.member_id, m.month, SUM(m.purchases), SUM(m.amount),
                    n.lo_prev, n.hi_next
                FROM {NEAR_MONTHS} n JOIN {mm} m ON m.member_id = n.member_id
                WHERE n.store_key = 0 AND m.month >= %s AND m.month <= %s
                GROUP BY n.store_key, n.member_id, m.month, n.lo_prev, n.hi_next
                HAVING SUM(m.purchases) > 0
                UNION ALL
                SELECT n.store_key, n.member_id, m.month, m.purchases, m.amount,
                    n.lo_prev, n.hi_next
                FROM {NEAR_MONTHS} n JOIN {mm} m
                    ON m.member_id = n.member_id AND m.store_id = n.store_id
                WHERE n.store_key <> 0 AND m.month >= %s AND m.month <= %s
                    AND m.purchases > 0
            ) AS near
        ) AS chain WHERE 1 = 1
        GROUP BY {keys}
        ON CONFLICT ({keys}) DO UPDATE SET
            members = {table}.members + excluded.members,
            purchases = {table}.purchases + excluded.purchases,
            amount = {table}.amount + excluded.amount
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [NO_MONTH_BEFORE, NO_MONTH_AFTER, first, last, first, last])
    if sign > 0:
        BuyerCell.objects.filter(members=0).delete()


def _active_move(sign: int, start: date, end: date) -> None:
    """Add (1) or take away (-1) the member-days whose ActiveCell a rewrite
    of the days `start` to `end` can move, of the buyers of the temporary
    table: their days in them and their next purchase day after them
    (whose previous day may change). One INSERT … SELECT … ON CONFLICT."""
    md = connection.ops.quote_name(MemberDay._meta.db_table)
    table = connection.ops.quote_name(ActiveCell._meta.db_table)
    keys = "store_key, day, prev_day"
    # Names are ours, `sign` an int, every value a parameter.
    sql = f"""
        INSERT INTO {table} ({keys}, members)
        SELECT {keys}, {sign} * COUNT(*) FROM (
            SELECT store_key, day,
                COALESCE(LAG(day) OVER (PARTITION BY store_key, member_id ORDER BY day), lo, %s)
                    AS prev_day
            FROM (
                SELECT store_key, member_id, lo, hi AS day FROM {NEAR_DAYS} WHERE hi IS NOT NULL
                UNION ALL
                SELECT n.store_key, n.member_id, n.lo, d.day
                FROM {NEAR_DAYS} n JOIN {md} d ON d.member_id = n.member_id
                WHERE n.store_key = 0 AND d.day >= %s AND d.day <= %s
                GROUP BY n.store_key, n.member_id, n.lo, d.day
                UNION ALL
                SELECT n.store_key, n.member_id, n.lo, d.day
                FROM {NEAR_DAYS} n JOIN {md} d
                    ON d.member_id = n.member_id AND d.store_id = n.store_id
                WHERE n.store_key <> 0 AND d.day >= %s AND d.day <= %s
            ) AS near
        ) AS chain WHERE 1 = 1
        GROUP BY {keys}
        ON CONFLICT ({keys}) DO UPDATE SET members = {table}.members + excluded.members
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [NO_MONTH_BEFORE, start, end, start, end])
    if sign > 0:
        ActiveCell.objects.filter(members=0).delete()


def _near_cohorts() -> None:
    """Each buyer's local day of joining and home store (0 without one) into
    their row across stores of the temporary table, those of the members the
    cohort cells count (not deleted): read by both passes of `_cohort_move`."""
    members = connection.ops.quote_name(Member._meta.db_table)
    joined, params = connection.ops.datetime_cast_date_sql(
        "m.joined_at", (), timezone.get_current_timezone_name()
    )
    n = NEAR_MONTHS
    mine = f"m.id = {n}.member_id AND NOT m.status = %s"
    # Names are ours; every value a parameter.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {n} SET
                joined = (SELECT {joined} FROM {members} m WHERE {mine}),
                home = (SELECT COALESCE(m.home_store_id, 0) FROM {members} m WHERE {mine})
            WHERE store_key = 0
            """,  # noqa: S608
            [*params, MemberStatus.DELETED, MemberStatus.DELETED],
        )


def _cohort_move(sign: int, first: date, last: date) -> None:
    """Add (1) or take away (-1) the member-months of the months `first` to
    `last` of the buyers of the temporary table to or from their
    CohortCells: one INSERT … SELECT … ON CONFLICT, each member's months by
    the (member, month, store) index."""
    mm = connection.ops.quote_name(MemberMonth._meta.db_table)
    table = connection.ops.quote_name(CohortCell._meta.db_table)
    keys = "store_key, joined, month"
    mine = "n.store_key = 0 AND n.joined IS NOT NULL AND m.month >= %s AND m.month <= %s"
    # Names are ours, `sign` an int, every value a parameter (`WHERE 1 = 1`:
    # see _cells_move). A member without a home store (0) matches no store.
    sql = f"""
        INSERT INTO {table} ({keys}, members)
        SELECT {keys}, {sign} * COUNT(*) FROM (
            SELECT 0 AS store_key, n.joined AS joined, m.month AS month
            FROM {NEAR_MONTHS} n JOIN {mm} m ON m.member_id = n.member_id
            WHERE {mine} AND m.purchases > 0
            GROUP BY n.member_id, n.joined, m.month
            UNION ALL
            SELECT n.home, n.joined, m.month
            FROM {NEAR_MONTHS} n JOIN {mm} m ON m.member_id = n.member_id AND m.store_id = n.home
            WHERE {mine} AND m.purchases > 0
        ) AS cohorts WHERE 1 = 1
        GROUP BY {keys}
        ON CONFLICT ({keys}) DO UPDATE SET members = {table}.members + excluded.members
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [first, last, first, last])
    if sign > 0:
        CohortCell.objects.filter(members=0).delete()


def _cohorts(start: date | None, end: date | None) -> None:
    """Rewrite the CohortDays and CohortCells of the members who joined on
    the local days `start` to `end` (None: every member, a rebuild) whole,
    from the members and all their member-months: what a change of a
    member (a deletion, another home store) or a new member moves."""
    tz = timezone.get_current_timezone()
    members = Member.objects.exclude(status=MemberStatus.DELETED)
    months = MemberMonth.objects.filter(purchases__gt=0).exclude(
        member__status=MemberStatus.DELETED
    )
    days, cells = CohortDay.objects.all(), CohortCell.objects.all()
    if start is not None and end is not None:
        lo, hi = day_bounds(start, end)
        members = members.filter(joined_at__gte=lo, joined_at__lt=hi)
        months = months.filter(member__joined_at__gte=lo, member__joined_at__lt=hi)
        days = days.filter(joined__gte=start, joined__lte=end)
        cells = cells.filter(joined__gte=start, joined__lte=end)
    days.delete()
    cells.delete()
    every = Value(0, output_field=BigIntegerField())
    joined = TruncDate("joined_at", tzinfo=tz)
    for rows in (
        members.annotate(day=joined).order_by().values("day").annotate(key=every, n=Count("pk")),
        members.filter(home_store__isnull=False)
        .annotate(day=joined, key=F("home_store_id"))
        .order_by()
        .values("key", "day")
        .annotate(n=Count("pk")),
    ):
        _insert_select(CohortDay, {"store_key": "key", "joined": "day", "members": "n"}, rows)
    joined = TruncDate("member__joined_at", tzinfo=tz)
    for rows in (
        months.annotate(day=joined)
        .order_by()
        .values("day", "month")
        .annotate(key=every, n=Count("member_id", distinct=True)),
        # One row a member, month and store: a count of rows is of members.
        months.filter(store_id=F("member__home_store_id"))
        .annotate(day=joined, key=F("store_id"))
        .order_by()
        .values("key", "day", "month")
        .annotate(n=Count("member_id")),
    ):
        _insert_select(
            CohortCell,
            {"store_key": "key", "joined": "day", "month": "month", "members": "n"},
            rows,
        )


def _cells_rebuild() -> None:
    """Every BuyerCell, ActiveCell and cohort row again from the member-months
    and member-days (after a rebuild)."""
    BuyerCell.objects.all().delete()
    _buyer_cells_all()
    ActiveCell.objects.all().delete()
    _active_cells_all()
    _cohorts(None, None)


def _member_batches(pairs: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """`pairs` (sorted) in batches of about CELL_BATCH, a member's pairs all
    in one batch: the cells across stores move by member, and a member in
    two batches would be taken out and put back twice."""
    batches: list[list[tuple[int, int]]] = []
    for pair in pairs:
        if batches and (len(batches[-1]) < CELL_BATCH or batches[-1][-1][0] == pair[0]):
            batches[-1].append(pair)
        else:
            batches.append([pair])
    return batches


@dataclass(frozen=True)
class Refreshed:
    days: int
    store_days: int
    ledger_days: int
    member_months: int


def rollups_refresh(*, start: date, end: date, whole_months: bool = False) -> Refreshed:
    """Rewrite the roll-ups of the local days `start` to `end` (both
    included) in one transaction per chunk of at most CHUNK_DAYS days.
    `whole_months`: rewrite the MemberMonth rows of the months touched for
    every member (a rebuild), not only for those who bought on the days."""
    if end < start:
        raise ValueError("end before start")
    RollupState.objects.get_or_create(pk=1)
    totals = [0, 0, 0]
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + timedelta(days=CHUNK_DAYS - 1))
        if whole_months:
            chunk_end = min(end, next_month(chunk_start) - timedelta(days=1))
        with transaction.atomic():
            # One refresh at a time (the job, a rebuild, a manual run): each
            # rewrites whole days, and two at once would insert the same day
            # twice. The one lock there is, so no order to get wrong.
            RollupState.objects.select_for_update().filter(pk=1).first()
            _no_jit()
            totals[0] += _store_days(chunk_start, chunk_end)
            totals[1] += _ledger_days(chunk_start, chunk_end)
            if whole_months:
                totals[2] += _member_months(chunk_start, chunk_end, whole=True)
                _member_days(chunk_start, chunk_end)
            else:
                # The buyers' cells move by what their months were and are now.
                lo, hi = day_bounds(chunk_start, chunk_end)
                pairs = sorted(
                    set(
                        Purchase.objects.filter(
                            occurred_at__gte=lo, occurred_at__lt=hi, member__isnull=False
                        )
                        .order_by()
                        .values_list("member_id", "store_id")
                    )
                )
                # Cells add up member by member, so the buyers go in batches.
                first, last = month_start(chunk_start), month_start(chunk_end)
                _near_create()
                for batch in _member_batches(pairs):
                    _near_add(batch, chunk_start, chunk_end)
                _near_complete()
                _near_cohorts()
                _cells_move(-1, first, last)
                _active_move(-1, chunk_start, chunk_end)
                _cohort_move(-1, first, last)
                totals[2] += _member_months(chunk_start, chunk_end, whole=False)
                _member_days(chunk_start, chunk_end)
                _active_move(1, chunk_start, chunk_end)
                _cells_move(1, first, last)
                _cohort_move(1, first, last)
                _near_drop()
                # The members who joined on these days, whole (new ones, and
                # the deltas above may have counted a changed one as it is now).
                _cohorts(chunk_start, chunk_end)
        chunk_start = chunk_end + timedelta(days=1)
    if whole_months:
        with transaction.atomic():
            RollupState.objects.select_for_update().filter(pk=1).first()
            _no_jit()
            _cells_rebuild()
    return Refreshed((end - start).days + 1, *totals)


def rollups_refresh_days(*, days: Iterable[date]) -> Refreshed:
    """Rewrite the roll-ups of each of `days` (runs of consecutive days at once)."""
    ordered = sorted(set(days))
    totals = [0, 0, 0, 0]
    run_start = None
    previous = None
    for day in [*ordered, None]:
        if day is not None and previous is not None and day == previous + timedelta(days=1):
            previous = day
            continue
        if run_start is not None and previous is not None:
            done = rollups_refresh(start=run_start, end=previous)
            totals = [
                a + b
                for a, b in zip(
                    totals,
                    (done.days, done.store_days, done.ledger_days, done.member_months),
                    strict=True,
                )
            ]
        run_start = previous = day
    return Refreshed(*totals)


def _dirty(
    queryset: QuerySet, *, after: int, moment: str, stamp: str, settle_before: datetime
) -> tuple[set[date], int]:
    """The local days of `moment` of the rows of `queryset` with an id above
    `after`, and the id the next run starts after: the highest of them whose
    `stamp` is before `settle_before`, but below any younger one (younger
    rows are read again next time). Two statements, whatever the rows."""
    tz = timezone.get_current_timezone()
    newer = queryset.filter(pk__gt=after)
    days = set(
        newer.annotate(moment_day=TruncDate(moment, tzinfo=tz))
        .order_by()
        .values_list("moment_day", flat=True)
        .distinct()
    )
    marks = newer.aggregate(
        settled=Max("pk", filter=Q(**{f"{stamp}__lt": settle_before})),
        young=Min("pk", filter=Q(**{f"{stamp}__gte": settle_before})),
    )
    mark = marks["settled"] if marks["settled"] is not None else after
    if marks["young"] is not None:
        mark = min(mark, marks["young"] - 1)
    return {day for day in days if day is not None}, max(mark, after)


def rollups_run(*, as_of: datetime) -> str:
    """The `rollups` job: refresh the days that changed since the last run
    (see the module docstring), and always today's and yesterday's (the
    jobs' entries of the night). Running it twice for the same time rewrites
    the same rows. The first run of all (nothing rolled up yet) is a
    rebuild of the whole history, a month a transaction: days one by one
    would take far longer."""
    state, _created = RollupState.objects.get_or_create(pk=1)
    if state.ran_at is None and not (state.purchase_id or state.entry_id or state.member_id):
        first = rollups_history_start()
        if first is not None and first <= local_day(as_of):
            rollups_rebuild(start=first, end=local_day(as_of), whole_history=True)
            state.refresh_from_db()
    settle_before = as_of - SETTLE
    days: set[date] = {local_day(as_of), local_day(as_of) - timedelta(days=1)}
    marks = {}
    for name, queryset, moment, stamp in (
        ("purchase_id", Purchase.objects.all(), "occurred_at", "recorded_at"),
        ("return_id", Return.objects.all(), "purchase__occurred_at", "created_at"),
        ("entry_id", PointsEntry.objects.all(), "created_at", "created_at"),
        ("member_id", Member.objects.all(), "joined_at", "joined_at"),
    ):
        dirty, marks[name] = _dirty(
            queryset,
            after=getattr(state, name),
            moment=moment,
            stamp=stamp,
            settle_before=settle_before,
        )
        days |= dirty
    joined, marks["audit_id"] = _members_changed(after=state.audit_id, settle_before=settle_before)
    done = rollups_refresh_days(days=days)
    # After the days: a refresh of a day may have moved a changed member's
    # cells as the member is now, and this puts their whole cohort right.
    rollups_cohorts_refresh(days=joined)
    RollupState.objects.filter(pk=state.pk).update(**marks, ran_at=as_of)
    return f"{done.days} days rolled up"


# Members' changes that move their cohort rows: deleted, another home store.
_COHORT_FIELDS = ("status", "home_store")


def _members_changed(*, after: int, settle_before: datetime) -> tuple[set[date], int]:
    """The local joining days of the members whose status or home store
    changed (an erasure, an update; their audit events) after audit event
    `after`, and the id the next run starts after (as `_dirty`)."""
    events = AuditEvent.objects.filter(
        pk__gt=after,
        object_type=Member._meta.label_lower,
        action__in=["member.update", "member.erase"],
    ).values_list("pk", "object_id", "action", "before", "after", "created_at")
    changed, settled, young = set(), [after], []
    # One by one: the first run after an upgrade reads every member's events.
    for pk, object_id, action, before, later, created_at in events.iterator(chunk_size=2000):
        (settled if created_at < settle_before else young).append(pk)
        was, now = before or {}, later or {}
        if action == "member.erase" or any(was.get(f) != now.get(f) for f in _COHORT_FIELDS):
            changed.add(int(object_id))
    mark = max(settled)
    if young:
        mark = min(mark, min(young) - 1)
    ids, days = sorted(changed), set()
    for i in range(0, len(ids), 5000):
        joined = Member.objects.filter(pk__in=ids[i : i + 5000]).values_list("joined_at", flat=True)
        days |= {local_day(moment) for moment in joined}
    return days, max(mark, after)


def rollups_cohorts_refresh(*, days: Iterable[date]) -> None:
    """Rewrite the cohort rows (CohortDay, CohortCell) of the members who
    joined on each of `days`, whole, under the refresh lock."""
    ordered = sorted(set(days))
    if not ordered:
        return
    with transaction.atomic():
        RollupState.objects.select_for_update().filter(pk=1).first()
        _no_jit()
        for day in ordered:
            _cohorts(day, day)


def rollups_history_start() -> date | None:
    """The first local day anything happened on (a sale, an entry, a member)."""
    firsts = [
        Purchase.objects.order_by("occurred_at").values_list("occurred_at", flat=True).first(),
        PointsEntry.objects.order_by("created_at").values_list("created_at", flat=True).first(),
        Member.objects.order_by("joined_at").values_list("joined_at", flat=True).first(),
    ]
    moments = [moment for moment in firsts if moment is not None]
    return local_day(min(moments)) if moments else None


def rollups_rebuild(*, start: date, end: date, whole_history: bool = False) -> Refreshed:
    """Rewrite the roll-ups of `start` to `end`, a month a transaction, every
    member's months whole (`manage.py rollups_rebuild`). `whole_history`: the
    range is all there is, so the job's watermarks move to the rows seen
    before the rebuild began and its next run does not redo them."""
    marks = {
        "purchase_id": Purchase.objects.aggregate(m=Max("pk"))["m"] or 0,
        "return_id": Return.objects.aggregate(m=Max("pk"))["m"] or 0,
        "entry_id": PointsEntry.objects.aggregate(m=Max("pk"))["m"] or 0,
        "member_id": Member.objects.aggregate(m=Max("pk"))["m"] or 0,
        "audit_id": AuditEvent.objects.aggregate(m=Max("pk"))["m"] or 0,
    }
    done = rollups_refresh(start=start, end=end, whole_months=True)
    if whole_history:
        RollupState.objects.update_or_create(pk=1, defaults=marks)
    if connection.vendor == "postgresql":
        # Every row is new: the planner's statistics of before would send the
        # next day's refresh scanning (measured: seconds instead of tenths).
        # VACUUM too, when not inside a transaction (manage.py rollups_rebuild):
        # it marks the pages all-visible, so a refresh's look-ups of members'
        # days are answered by the index alone (an old day at 10M purchases:
        # 6.6-8.8 s before autovacuum had come by, 4.2-4.6 s after).
        analyse = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
        with connection.cursor() as cursor:
            for model in (
                StoreDay,
                LedgerDay,
                MemberMonth,
                MemberDay,
                BuyerCell,
                ActiveCell,
                CohortDay,
                CohortCell,
            ):
                cursor.execute(f"{analyse} {connection.ops.quote_name(model._meta.db_table)}")
    return done
