"""Scheduled jobs: one registry that Celery beat and `manage.py run_jobs` share.

A job is a function `(as_of: datetime) -> str` that does the work due at
`as_of` and returns a one-line summary. Running it twice for the same `as_of`
changes nothing the second time. Apps register their jobs in their
`jobs.py` with `@job("name")`; `JOB_MODULES` lists the modules to import.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime

from loyalty.services import idempotency_records_purge

logger = logging.getLogger(__name__)

Job = Callable[[datetime], str]
# Registration order is the order `run_jobs` runs them in with no names given.
_REGISTRY: dict[str, Job] = {}
JOB_MODULES: tuple[str, ...] = (
    "loyalty.jobs",
    "members.jobs",
    "rewards.jobs",
    "campaigns.jobs",
    "analytics.jobs",
    "analytics.prediction_jobs",
)


class UnknownJob(KeyError):
    pass


def job(name: str) -> Callable[[Job], Job]:
    def register(func: Job) -> Job:
        _REGISTRY[name] = func
        return func

    return register


def job_registry() -> dict[str, Job]:
    for module in JOB_MODULES:
        importlib.import_module(module)
    return dict(_REGISTRY)


def job_run(name: str, *, as_of: datetime) -> str:
    """Run one job as if at `as_of`. Raises UnknownJob for a name not registered."""
    registry = job_registry()
    if name not in registry:
        raise UnknownJob(name)
    summary = registry[name](as_of)
    logger.info("job %s as of %s: %s", name, as_of.isoformat(), summary)
    return summary


@job("purge_idempotency_keys")
def purge_idempotency_keys(as_of: datetime) -> str:
    deleted = idempotency_records_purge(now=as_of)
    return f"{deleted} idempotency records older than the retention removed"


@job("notifications_retry")
def notifications_retry(as_of: datetime) -> str:
    # Imported here: loyalty.notifications imports the tasks, which import this module.
    from loyalty.notifications import deliveries_requeue

    return f"{deliveries_requeue(as_of=as_of)} notification deliveries queued again"


@job("webhooks_relay")
def webhooks_relay(as_of: datetime) -> str:
    # Imported here: the relay's module imports the services this one does.
    from loyalty.webhook_relay import webhooks_relay as relay

    return str(relay(now=as_of))


@job("purge_webhook_log")
def purge_webhook_log(as_of: datetime) -> str:
    # Imported here: the relay's module imports the services this one does.
    from loyalty.webhook_relay import LOG_DAYS, webhook_events_purge

    return f"{webhook_events_purge(now=as_of)} webhook events older than {LOG_DAYS} days removed"
