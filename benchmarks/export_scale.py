"""The ledger export at scale: rows per second and memory for 100k and 1M rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/setia_exports \\
        .venv/bin/python benchmarks/export_scale.py [--entries 1000000] [--members 1000] [--reseed]

Creates the database `setia_exports` if it is missing, migrates it, seeds it
once (benchmarks/seed.py: program, store, tiers, members through the
services; then the ledger entries in one INSERT … SELECT FROM
generate_series, 10 % of them `bonus`, the rest `earn`, one in a thousand
with a description that is a formula), and keeps it for the next run
(`--reseed` drops it first). It never writes to another database.

Each run is a fresh process that streams `GET /staff/ledger/export/`
through Django's test client as a manager, the page's filters selecting the
100k `bonus` entries, then all 1M, reading the body chunk by chunk as a
browser does. It prints one JSON line: rows/s, the process's resident memory
every 100k rows, its peak RSS (ru_maxrss) before and after the export, and
the load average; with `--tracemalloc`, a third run traces the 100k export's
Python allocations (about six times slower). Flat memory: the RSS does not
grow with the rows and the 1M run peaks where the 100k one does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "setia_exports"


def _database_ensure(url: str, *, reseed: bool) -> None:
    import psycopg

    parsed = urlparse(url)
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]
        ).fetchone()
        if exists and reseed:
            connection.execute(f'DROP DATABASE "{DATABASE}" WITH (FORCE)')
            exists = None
        if not exists:
            connection.execute(f'CREATE DATABASE "{DATABASE}"')


def _seed(*, entries: int, members: int) -> None:
    """Members through the services (once), then `entries` ledger entries in SQL."""
    from django.db import connection

    from members.models import PointsEntry

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from seed import seed  # benchmarks/seed.py

    from loyalty.models import Store

    if not Store.objects.filter(code="bench").exists():
        seed(members=members)
    have = PointsEntry.objects.count()
    if have >= entries:
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH ids AS (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM members_member)
            INSERT INTO members_pointsentry
                (member_id, kind, status, points, balance_after, remaining, available_at,
                 expires_at, description, source_type, source_id, created_at)
            SELECT ids.ids[1 + (g %% ids.n)],
                   CASE WHEN g %% 10 = 0 THEN 'bonus' ELSE 'earn' END,
                   'available',
                   1 + g %% 500,
                   g,
                   CASE WHEN g %% 3 = 0 THEN 0 ELSE 1 + g %% 500 END,
                   now() - make_interval(secs => g),
                   now() - make_interval(secs => g) + interval '365 days',
                   CASE WHEN g %% 1000 = 0 THEN '=SUM(A1:A9)' ELSE 'Bench entry ' || g END,
                   'bench',
                   g::text,
                   now() - make_interval(secs => g)
            FROM ids, generate_series(%s, %s) AS g
            """,
            [have + 1, entries],
        )
        cursor.execute("ANALYZE members_pointsentry")
    print(f"seeded {entries - have} entries in {time.perf_counter() - started:.1f} s", flush=True)


def _rss_mib() -> float:
    """The process's resident memory now (Linux), in MiB (as ru_maxrss)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return round(pages * resource.getpagesize() / 2**20, 1)


def _stream(client: object, query: dict[str, str], *, traced: bool) -> dict[str, object]:
    """Download the ledger export with `query`, reading it as a browser does,
    chunk by chunk; the resident memory is sampled every 100k rows."""
    from django.http import StreamingHttpResponse
    from django.urls import reverse

    if traced:
        tracemalloc.start()
        tracemalloc.reset_peak()
    started, cpu_started = time.perf_counter(), time.process_time()
    response = client.get(reverse("staff:ledger_export"), query)
    assert isinstance(response, StreamingHttpResponse), response.status_code
    lines = size = 0
    samples, next_sample = [], 100_000
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        size += len(chunk)
        if lines >= next_sample:
            samples.append(_rss_mib())
            next_sample += 100_000
    response.close()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    figures: dict[str, object] = {
        "rows": lines - 1,
        "seconds": round(seconds, 2),
        "rows_per_s": round((lines - 1) / seconds),
        # This process's CPU time: what the export costs, whatever else the machine runs.
        "cpu_s": round(cpu, 2),
        "rows_per_cpu_s": round((lines - 1) / cpu),
        "mb": round(size / 1e6, 1),
        "rss_mib_every_100k_rows": samples,
    }
    if traced:
        figures["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 2)
        tracemalloc.stop()
    return figures


RUNS = {"100k": {"kind": "bonus"}, "1M": {}}


def _django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", "export-benchmark-only-" + "x" * 40)
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host, locmem email
    settings.SECURE_SSL_REDIRECT = False
    settings.LOYALTY_REQUIRE_MANAGER_MFA = False


def _child(run: str, *, traced: bool) -> None:
    """One export in this fresh process: its peak RSS is this export's."""
    _django_setup()
    from django.test import Client

    from loyalty.models import User

    client = Client()
    client.force_login(User.objects.get(email="export-bench@example.com"))
    _stream(client, {"kind": "bonus", "until": "2000-01-01"}, traced=False)  # warm-up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = _stream(client, RUNS[run], traced=traced)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures.update(
        run=run,
        maxrss_mib_before=round(before, 1),
        maxrss_mib_after=round(after, 1),
        loadavg=[round(x, 2) for x in os.getloadavg()],
    )
    print(json.dumps(figures), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace the 100k run (about 6x slower)"
    )
    parser.add_argument("--child", choices=RUNS, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if urlparse(url).path != f"/{DATABASE}":
        sys.exit(f"export_scale.py only writes to the {DATABASE} database (set DATABASE_URL).")
    if args.child:
        _child(args.child, traced=args.traced)
        return
    _database_ensure(url, reseed=args.reseed)
    _django_setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from loyalty.models import User
    from loyalty.services import staff_roles_sync

    call_command("migrate", verbosity=0)
    _seed(entries=args.entries, members=args.members)
    staff_roles_sync()
    manager, _created = User.objects.get_or_create(email="export-bench@example.com")
    manager.groups.add(Group.objects.get(name="Manager"))
    runs = [("100k", False), ("1M", False)] + ([("100k", True)] if args.tracemalloc else [])
    for run, traced in runs:
        command = [sys.executable, __file__, "--child", run] + (["--traced"] if traced else [])
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
