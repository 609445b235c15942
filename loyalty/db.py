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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

from django.db import connections, router, transaction
from django.db.models import Model

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


def insert_unless_taken(instance: Model, *, unique: tuple[str, ...]) -> bool:
    """Insert `instance` unless a row already holds its values of the unique
    columns `unique`: `INSERT … ON CONFLICT (unique) DO NOTHING RETURNING id`,
    one statement and no savepoint (a failed plain INSERT would spoil the
    transaction, so it needs one). Returns whether it was inserted; then its
    pk is set. On PostgreSQL an insert meeting another transaction's
    uncommitted row of the same values waits for it to end, and inserts
    nothing if it committed. SQLite 3.35+ and PostgreSQL both speak it."""
    model = type(instance)
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    ops = connection.ops
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(instance, add=True), connection) for f in fields]
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    conflict = ", ".join(ops.quote_name(meta.get_field(name).column) for name in unique)
    marks = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {ops.quote_name(meta.db_table)} ({columns}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {ops.quote_name(meta.pk.column)}"
    )  # names come from the model; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return True
