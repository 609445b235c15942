"""Configuration that every request reads (program settings, stores, API
keys, tiers, the live campaigns, the event types webhook endpoints subscribe
to), kept in process.

A till's sale used to read the settings row, its API key and the tier table
from the database on every request: three queries of the ~36 a sale cost.
They change a few times a day, so each worker process keeps what it loaded:

- a value is loaded again once it is older than `FRESH_SECONDS` (1 s): a
  change made through one worker is seen by every other within a second,
  with no shared-cache round trip per request;
- in the process that writes it, a change is seen at once: saving or
  deleting any configuration model forgets everything cached here
  (`config_forget`, connected to the models' post_save and post_delete in the
  apps' `ready`). This is cache upkeep, not business logic: no rule runs on
  these signals, and a write through a factory or the admin is seen too.

What it costs: a configuration write that rolls back may stay visible to
its own process for up to a second (it was read inside the transaction that
wrote it). Values are shared by every request of the process: treat them as
read-only; a service that changes configuration reads and locks its own row.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

FRESH_SECONDS = 1.0

T = TypeVar("T")

_values: dict[str, tuple[float, Any]] = {}
_generation = 0
_lock = threading.Lock()


def config_cached(name: str, load: Callable[[], T]) -> T:
    """The value `load()` returns, loaded at most once per `FRESH_SECONDS` per
    process (and again after any configuration write in this process)."""
    now = time.monotonic()
    hit = _values.get(name)
    if hit is not None and now - hit[0] < FRESH_SECONDS:
        return hit[1]
    generation = _generation
    value = load()
    with _lock:
        # A write that happened while this value loaded may not be in it: keep
        # it for this caller only.
        if generation == _generation:
            _values[name] = (now, value)
    return value


def config_forget(*_args: Any, **_kwargs: Any) -> None:
    """Forget every cached value (a receiver for post_save and post_delete)."""
    global _generation
    with _lock:
        _generation += 1
        _values.clear()


def config_models_watch(*models: type) -> None:
    """Forget the cache whenever one of `models` is saved or deleted, or one of
    its many-to-many relations changes."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    for model in models:
        name = model.__name__
        post_save.connect(config_forget, sender=model, dispatch_uid=f"config:{name}:s")
        post_delete.connect(config_forget, sender=model, dispatch_uid=f"config:{name}:d")
        for field in model._meta.local_many_to_many:
            m2m_changed.connect(
                config_forget,
                sender=field.remote_field.through,
                dispatch_uid=f"config:{name}:{field.name}",
            )
