"""Transactions with no savepoints where nothing can roll back on its own.

`transaction.atomic` nested in another block opens a savepoint (two round
trips, SAVEPOINT and RELEASE), so that the caller may catch an error and
carry on. A sale nested five such blocks, none of which was ever rolled back
alone: any error in a sale refuses the whole sale.

`atomic_whole` marks a block whose code never carries on after an error
raised inside it. Blocks opened inside it by other `atomic_whole` services
then need no savepoint: an error in them rolls the whole block back (Django's
`savepoint=False`). The block itself opens a savepoint only when its caller's
block is an ordinary one, whose code may catch the error and go on (a test,
or a service that recovers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.models import Field, Model, QuerySet

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def atomic_whole_block() -> Iterator[None]:
    """An atomic block that rolls back whole on any error (see the module docstring)."""
    connection = transaction.get_connection()
    outer = connection.atomic_blocks[-1] if connection.in_atomic_block else None
    block = transaction.atomic(savepoint=outer is not None and not getattr(outer, "whole", False))
    block.whole = True  # type: ignore[attr-defined]
    with block:
        yield


def atomic_whole(func: Callable[P, R]) -> Callable[P, R]:
    """`@transaction.atomic` for a service that never carries on after an
    error inside it (see the module docstring)."""

    @wraps(func)
    def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        with atomic_whole_block():
            return func(*args, **kwargs)

    return inner


# --- Statements built once per process -------------------------------------------------------
#
# The ORM builds each statement anew: for the dozen statements of a sale
# that is most of its Python time (issue "A lean sale path"). The helpers
# below build the SQL of a model's plain look-up, insert and update once per
# process and run it with new values; values go through the fields'
# `get_db_prep_save` and rows come back through `Model.from_db`, so the
# models' types and defaults stay the ORM's.


def _fields(model: type[Model]) -> list[Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _values(instance: Model, fields: list[Field], connection: Any, *, add: bool) -> list[Any]:
    return [f.get_db_prep_save(f.pre_save(instance, add), connection) for f in fields]


class Lookup:
    """`SELECT <every column> FROM <table> WHERE a = %s AND b = %s` (optionally
    `FOR UPDATE`), for a model looked up by the same columns on every request:
    `Lookup(Purchase, "store_id", "reference").get(store.pk, reference)`.
    Returns the instance, or None. With `within="c"`, `.all(*values,
    within=ids)` gives every row that also has `c IN ids` (the statement
    built once per number of ids)."""

    def __init__(
        self, model: type[Model], *columns: str, for_update: bool = False, within: str = ""
    ) -> None:
        self.model, self.columns, self.for_update, self.within = model, columns, for_update, within
        self._sql: dict[tuple[str, int], str] = {}
        self._shape: dict[str, tuple[list[str], list[tuple[int, list[Any], Any]]]] = {}

    def _compiled(
        self, connection: Any, within: int = -1
    ) -> tuple[str, list[str], list[tuple[int, list[Any], Any]]]:
        meta, quote = self.model._meta, connection.ops.quote_name
        fields = list(meta.concrete_fields)
        shape = self._shape.get(connection.alias)
        if shape is None:
            # The converters the ORM applies to each column (the backend's, then
            # the field's own, e.g. JSON parsing, SQLite's dates and decimals).
            converters = []
            for index, f in enumerate(fields):
                col = f.get_col(meta.db_table)
                found = connection.ops.get_db_converters(col) + f.get_db_converters(connection)
                if found:
                    converters.append((index, found, col))
            shape = self._shape[connection.alias] = ([f.attname for f in fields], converters)
        sql = self._sql.get((connection.alias, within))
        if sql is None:
            where = " AND ".join(f"{quote(meta.get_field(c).column)} = %s" for c in self.columns)
            if within >= 0:
                column = quote(meta.get_field(self.within).column)
                where += f" AND {column} IN ({', '.join(['%s'] * within)})"
            sql = (
                f"SELECT {', '.join(quote(f.column) for f in fields)} "  # noqa: S608
                f"FROM {quote(meta.db_table)} WHERE {where}"
            )
            if self.for_update and connection.features.has_select_for_update:
                sql += " FOR UPDATE"
            self._sql[(connection.alias, within)] = sql
        return sql, *shape

    def _instance(self, connection: Any, names: list[str], converters: list, row: Any) -> Model:
        if converters:
            row = list(row)
            for index, functions, col in converters:
                for convert in functions:
                    row[index] = convert(row[index], col, connection)
        return self.model.from_db(connection.alias, names, row)

    def get(self, *values: Any) -> Model | None:
        connection = connections[router.db_for_read(self.model)]
        sql, names, converters = self._compiled(connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, list(values))
            row = cursor.fetchone()
        if row is None:
            return None
        return self._instance(connection, names, converters, row)

    def all(self, *values: Any, within: list[Any]) -> list[Model]:
        if not within:
            return []
        connection = connections[router.db_for_read(self.model)]
        sql, names, converters = self._compiled(connection, len(within))
        with connection.cursor() as cursor:
            cursor.execute(sql, [*values, *within])
            rows = cursor.fetchall()
        return [self._instance(connection, names, converters, row) for row in rows]


_insert_sql: dict[tuple[Any, ...], str] = {}
_update_sql: dict[tuple[type[Model], tuple[str, ...], str], tuple[str, list[Field]]] = {}


def insert(instance: Model) -> Model:
    """`INSERT … RETURNING id` of a new instance (its pk set), as `save()`
    would, with the statement built once per process. No signals are sent:
    for the ledger's and the sale's own rows, which have no receivers."""
    model = type(instance)
    connection = connections[router.db_for_write(model)]
    key = (model, "", connection.alias)
    fields = _fields(model)
    sql = _insert_sql.get(key)
    if sql is None:
        quote, meta = connection.ops.quote_name, model._meta
        sql = _insert_sql[key] = (
            f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608
            f"({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(meta.pk.column)}"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, _values(instance, fields, connection, add=True))
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def update(instance: Model, fields: Iterable[str]) -> None:
    """`UPDATE <table> SET <fields> WHERE pk = %s` from the instance's values
    (an `auto_now` field among them takes the time), as `save(update_fields=)`
    would, with the statement built once per process. No signals are sent."""
    model = type(instance)
    connection = connections[router.db_for_write(model)]
    names = tuple(fields)
    key = (model, names, connection.alias)
    compiled = _update_sql.get(key)
    if compiled is None:
        quote, meta = connection.ops.quote_name, model._meta
        chosen = [meta.get_field(name) for name in names]
        sql = (
            f"UPDATE {quote(meta.db_table)} SET "  # noqa: S608
            f"{', '.join(f'{quote(f.column)} = %s' for f in chosen)} "
            f"WHERE {quote(meta.pk.column)} = %s"
        )
        compiled = _update_sql[key] = (sql, chosen)
    sql, chosen = compiled
    with connection.cursor() as cursor:
        cursor.execute(sql, [*_values(instance, chosen, connection, add=False), instance.pk])


def insert_unless_taken(instance: Model, *, unique: tuple[str, ...]) -> bool:
    """Insert `instance` unless a row already holds its values of the unique
    columns `unique`: `INSERT … ON CONFLICT (unique) DO NOTHING RETURNING id`,
    one statement and no savepoint (a failed plain INSERT would spoil the
    transaction, so it needs one). Returns whether it was inserted; then its
    pk is set. On PostgreSQL an insert meeting another transaction's
    uncommitted row of the same values waits for it to end, and inserts
    nothing if it committed. SQLite 3.35+ and PostgreSQL both speak it."""
    model = type(instance)
    connection = connections[router.db_for_write(model)]
    fields = _fields(model)
    key = (model, f"unless {unique}", connection.alias)
    sql = _insert_sql.get(key)
    if sql is None:
        quote, meta = connection.ops.quote_name, model._meta
        conflict = ", ".join(quote(meta.get_field(name).column) for name in unique)
        sql = _insert_sql[key] = (
            f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608
            f"({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {quote(meta.pk.column)}"
        )
    values = _values(instance, fields, connection, add=True)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return True


class Compiled:
    """A queryset built and compiled to SQL once per process, run again with
    other values: `Compiled(lambda member_id, now: <queryset>)` and
    `.rows(member_id, now)` give what `list(queryset)` would (the ORM's
    converters applied), without building the queryset each time. For
    values()/aggregate-style reads on the hot paths.

    The first call builds the queryset with stand-in values (an int, a
    datetime) and notes where they sit in the compiled parameters; later
    calls put their own values there, adapted the way the ORM adapts them."""

    _STAND_INS = {
        int: lambda n: -7_919_000_001 - n,
        datetime: lambda n: datetime(1901, 2, 3, 4, 5, n + 1, tzinfo=UTC),
    }

    def __init__(self, build: Callable[..., QuerySet], *kinds: type) -> None:
        self.build, self.kinds = build, kinds
        self._compiled: dict[str, tuple[Any, str, list[Any], list[tuple[int, int]]]] = {}

    def _adapt(self, connection: Any, value: Any) -> Any:
        if isinstance(value, datetime):
            return connection.ops.adapt_datetimefield_value(value)
        return value

    def _compile(self, connection: Any) -> tuple[Any, str, list[Any], list[tuple[int, int]]]:
        found = self._compiled.get(connection.alias)
        if found is None:
            stand_ins = [self._STAND_INS[kind](n) for n, kind in enumerate(self.kinds)]
            compiler = self.build(*stand_ins).query.get_compiler(connection.alias)
            sql, params = compiler.as_sql()
            adapted = [self._adapt(connection, s) for s in stand_ins]
            positions = [
                (index, adapted.index(param)) for index, param in enumerate(params)
                if param in adapted
            ]  # fmt: skip
            if len({p for _, p in positions}) != len(stand_ins):
                raise ValueError("a value of the compiled query did not reach its parameters")
            found = self._compiled[connection.alias] = (compiler, sql, list(params), positions)
        return found

    def rows(self, *values: Any) -> list[Any]:
        connection = connections[DEFAULT_DB_ALIAS]
        compiler, sql, params, positions = self._compile(connection)
        params = list(params)
        for index, which in positions:
            params[index] = self._adapt(connection, values[which])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return list(compiler.results_iter(results=[rows]))


def _rows_insert(instances: list[Model], suffix: Callable[[Any], str] | None, name: str) -> None:
    """One multi-row `INSERT` of new instances of one model, followed by
    `suffix(connection)` (e.g. an ON CONFLICT clause), with the statement for
    that many rows built once per process under `name`."""
    if not instances:
        return
    model = type(instances[0])
    connection = connections[router.db_for_write(model)]
    fields = _fields(model)
    key = (model, f"{name} {len(instances)}", connection.alias)
    sql = _insert_sql.get(key)
    if sql is None:
        quote, meta = connection.ops.quote_name, model._meta
        row = f"({', '.join(['%s'] * len(fields))})"
        sql = _insert_sql[key] = (
            f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608
            f"({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES {', '.join([row] * len(instances))}" + (suffix(connection) if suffix else "")
        )
    values = [v for instance in instances for v in _values(instance, fields, connection, add=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


def insert_many(instances: list[Model]) -> None:
    """One multi-row `INSERT` of new instances of one model (no pks read
    back), as `bulk_create` would, with the statement for that many rows built
    once per process. For the sale's lines. No signals are sent."""
    _rows_insert(instances, None, "many")


def upsert_many(instances: list[Model], *, unique: tuple[str, ...], update: list[str]) -> None:
    """Insert the instances, or where a row already holds one's values of the
    unique columns `unique`, set that row's `update` fields to the instance's:
    one `INSERT … ON CONFLICT (unique) DO UPDATE`, as `bulk_create(...,
    update_conflicts=True)` would, with the statement for that many rows
    built once per process (SQLite 3.24+ and PostgreSQL). No pks read back,
    no signals."""
    if not instances:
        return
    meta = type(instances[0])._meta

    def on_conflict(connection: Any) -> str:
        quote = connection.ops.quote_name
        conflict = ", ".join(quote(meta.get_field(name).column) for name in unique)
        columns = [quote(meta.get_field(name).column) for name in update]
        return f" ON CONFLICT ({conflict}) DO UPDATE SET " + ", ".join(
            f"{column} = EXCLUDED.{column}" for column in columns
        )

    _rows_insert(instances, on_conflict, f"upsert {unique} {update}")


# --- Bulk rows --------------------------------------------------------------------------------

# Each table's key sequence, by (database alias, table): it never changes.
_sequences: dict[tuple[str, str], str] = {}


def ids_reserve(model: type[Model], count: int) -> list[int]:
    """`count` new primary keys of `model`, for rows inserted with their keys
    (`rows_copy`): from the table's sequence on PostgreSQL; on SQLite, past
    the largest key, which holds because a write transaction there holds
    the database's write lock from its start (BEGIN IMMEDIATE). Call it in
    the transaction that inserts the rows."""
    if count <= 0:
        return []
    connection = connections[router.db_for_write(model)]
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sequence = _sequences.get((connection.alias, table))
            if sequence is None:
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, pk])
                sequence = _sequences[(connection.alias, table)] = cursor.fetchone()[0]
            # The sequence named once (pg_get_serial_sequence inside nextval is
            # run again for every key) and one array back rather than `count`
            # rows: thousands of keys in a few milliseconds.
            cursor.execute(
                "SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s)",
                [sequence, count],
            )
            return sorted(cursor.fetchone()[0])
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT COALESCE(MAX({quote(pk)}), 0) FROM {quote(table)}")  # noqa: S608
        start = cursor.fetchone()[0] + 1
    return list(range(start, start + count))


def rows_copy(model: type[Model], columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Insert `rows` (tuples of plain values: str, int, Decimal, bool, aware
    datetime, None, in the order of `columns`, the fields' attnames, primary
    key included) as fast as the database takes them: PostgreSQL's COPY
    through psycopg (`cursor.copy`, which adapts those types itself), and
    `bulk_create` elsewhere. Nothing else runs (no signals, no `save`); a
    unique clash raises IntegrityError."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=500
        )
        return
    meta, quote = model._meta, connection.ops.quote_name
    by_attname = {f.attname: f for f in meta.concrete_fields}
    fields = [by_attname[name] for name in columns]
    names = ", ".join(quote(f.column) for f in fields)
    sql = f"COPY {quote(meta.db_table)} ({names}) FROM STDIN"
    # JSON cells go as the field adapts them (psycopg writes no dict itself).
    json = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
    # Django's cursor wrapper does not see COPY: its errors are translated here.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(sql) as copy,
    ):
        for row in rows:
            if json:
                row = list(row)
                for i in json:
                    if row[i] is not None:
                        row[i] = fields[i].get_db_prep_save(row[i], connection)
            copy.write_row(row)


# Integer fields, whose values (ints: points, counts) psycopg adapts as they
# are, the field's own preparation being no change: `rows_update` skips it (a
# call per value, most of a bulk update's Python). Not the others: a Decimal
# field may hold an int beside Decimals, which one array cannot take.
_PLAIN_FIELDS = frozenset(
    {
        "BigIntegerField",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
    }
)


def rows_update(model: type[Model], instances: list[Model], fields: tuple[str, ...]) -> None:
    """Save `fields` (attnames) of many instances of `model`, each with its
    own values: on PostgreSQL one `UPDATE … FROM unnest(<arrays>)` joined on
    the primary key; elsewhere `bulk_update`. Nothing else runs (no
    `auto_now`: set such a field on the instances and name it)."""
    if not instances:
        return
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model.objects.bulk_update(instances, list(fields), batch_size=500)
        return
    meta, quote = model._meta, connection.ops.quote_name
    by_attname = {f.attname: f for f in meta.concrete_fields}
    chosen = [by_attname[name] for name in fields]
    pk = meta.pk
    columns = [pk, *chosen]
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in columns)
    names = ", ".join(f"c{i}" for i in range(len(columns)))
    sets = ", ".join(f"{quote(f.column)} = v.c{i + 1}" for i, f in enumerate(chosen))
    sql = (
        f"UPDATE {quote(meta.db_table)} t SET {sets} "  # noqa: S608
        f"FROM unnest({arrays}) AS v({names}) WHERE t.{quote(pk.column)} = v.c0"
    )
    values = [[instance.pk for instance in instances]] + [
        [getattr(instance, f.attname) for instance in instances]
        if f.get_internal_type() in _PLAIN_FIELDS
        else [
            f.get_db_prep_save(getattr(instance, f.attname), connection) for instance in instances
        ]
        for f in chosen
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


def keys_existing(
    model: type[Model], columns: tuple[str, str], keys: set[tuple[Any, str]]
) -> set[tuple[Any, str]]:
    """Which of `keys` (pairs of values of the model's two columns `columns`,
    the second a text column, e.g. a unique (store_id, reference)) a row of
    the model holds, in one statement: on PostgreSQL a join on the two
    columns given as arrays (thousands of keys in a few milliseconds, where
    the ORM's `IN` prepares each value in Python); elsewhere the ORM."""
    if not keys:
        return set()
    connection = connections[router.db_for_read(model)]
    first, second = columns
    if connection.vendor != "postgresql":
        found = model.objects.filter(
            **{f"{first}__in": {a for a, _b in keys}, f"{second}__in": {b for _a, b in keys}}
        ).values_list(first, second)
        return {key for key in found if key in keys}
    meta, quote = model._meta, connection.ops.quote_name
    field_a, field_b = meta.get_field(first), meta.get_field(second)
    a, b = quote(field_a.column), quote(field_b.column)
    sql = (
        f"SELECT t.{a}, t.{b} FROM {quote(meta.db_table)} t "  # noqa: S608
        f"JOIN unnest(%s::{field_a.db_type(connection)}[], %s::text[]) AS k(a, b) "
        f"ON t.{a} = k.a AND t.{b} = k.b"
    )
    pairs = list(keys)
    with connection.cursor() as cursor:
        cursor.execute(sql, [[key[0] for key in pairs], [key[1] for key in pairs]])
        return {(row[0], row[1]) for row in cursor.fetchall()}


def commit_unflushed() -> None:
    """The transaction's commit will not wait for its WAL to reach the disk
    (PostgreSQL's `synchronous_commit = off`, for this transaction only): for
    bulk writes that a rerun makes again if a crash of the database server
    loses them (the last fraction of a second of commits; nothing is ever
    half written). Nothing elsewhere."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
