"""`manage.py run_jobs` and the Celery task beat uses: one registry, idempotent jobs."""

from __future__ import annotations

import os
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from loyalty.models import IdempotencyRecord
from loyalty.tasks import run_job

pytestmark = pytest.mark.django_db


def old_record(days: int) -> IdempotencyRecord:
    record = IdempotencyRecord.objects.create(
        scope="key:1",
        key=f"k{days}",
        fingerprint="f",
        method="POST",
        path="/",
        status_code=201,
        response_body="{}",
    )
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - timedelta(days=days)
    )
    return record


def test_run_jobs_lists_the_registered_jobs():
    out = StringIO()
    call_command("run_jobs", "--list", stdout=out)
    assert "purge_idempotency_keys" in out.getvalue().split()


def test_run_jobs_as_of_a_time_and_twice_changes_nothing_more():
    old_record(10)
    old_record(3)
    as_of = timezone.now().isoformat()
    first, second = StringIO(), StringIO()
    call_command("run_jobs", "purge_idempotency_keys", "--as-of", as_of, stdout=first)
    call_command("run_jobs", "purge_idempotency_keys", "--as-of", as_of, stdout=second)
    assert "1 idempotency records" in first.getvalue()
    assert "0 idempotency records" in second.getvalue()
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["k3"]


def test_run_jobs_with_no_names_runs_every_job():
    old_record(30)
    call_command("run_jobs", stdout=StringIO())
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["no_such_job"], "Unknown job"), (["--as-of", "yesterday"], "ISO 8601")],
)
def test_run_jobs_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("run_jobs", *args, stdout=StringIO())


def test_beat_schedule_names_registered_jobs_through_the_run_job_task():
    from loyalty.jobs import job_registry

    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] == "loyalty.run_job"
        assert entry["args"][0] in job_registry()


def test_every_registered_job_is_in_the_beat_schedule():
    """A job added to the registry but not to CELERY_BEAT_SCHEDULE would never run."""
    from loyalty.jobs import job_registry

    scheduled = {entry["args"][0] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert set(job_registry()) - scheduled == set()


def test_run_job_task_runs_eagerly_without_a_broker():
    old_record(8)
    result = run_job.delay("purge_idempotency_keys")
    assert "1 idempotency records" in result.get()


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_run_job_task_goes_through_the_real_broker():
    """With CELERY_BROKER_URL set, a worker takes the task from the broker."""
    from celery.contrib.testing.worker import start_worker

    from loyalty.celery import app

    old_record(9)
    app.conf.task_always_eager = False
    app.conf.result_backend = os.environ.get("CELERY_RESULT_BACKEND") or "cache+memory://"
    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        result = run_job.delay("purge_idempotency_keys", timezone.now().isoformat())
        assert "1 idempotency records" in result.get(timeout=30)
    assert not IdempotencyRecord.objects.exists()
