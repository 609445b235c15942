"""The ledger export at scale: rows per second and memory for 100k and 1M rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/setia_exports \\
        .venv/bin/python benchmarks/export_scale.py [--entries 1000000] [--members 1000] [--reseed]

Creates the database `setia_exports` if it is missing, migrates it, seeds it
once (benchmarks/seed.py: program, store, tiers, members through the
services; then the ledger entries in one INSERT … SELECT FROM
generate_series, 10 % of them `bonus`, the rest `earn`, one in a thousand
with a description that is a formula), and keeps it for the next run
(`--reseed` drops it first). It never writes to another database.

Each run streams `GET /staff/ledger/export/` through Django's test client as
a manager, the page's filters selecting the 100k `bonus` entries, then all
1M: once for rows/s (and the process's peak RSS, ru_maxrss), once under
tracemalloc for the peak of Python allocations during the stream. Flat
memory means the 1M peak is about the 100k one. Prints one line a run and a
JSON summary with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def _stream(client: object, query: dict[str, str], *, traced: bool) -> dict[str, float]:
    from django.http import StreamingHttpResponse
    from django.urls import reverse

    if traced:
        tracemalloc.start()
        tracemalloc.reset_peak()
    started = time.perf_counter()
    response = client.get(reverse("staff:ledger_export"), query)
    assert isinstance(response, StreamingHttpResponse), response.status_code
    lines = size = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        size += len(chunk)
    response.close()
    seconds = time.perf_counter() - started
    figures = {
        "rows": lines - 1,
        "seconds": round(seconds, 2),
        "rows_per_s": round((lines - 1) / seconds),
        "mb": round(size / 1e6, 1),
        "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if traced:
        figures["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 2)
        tracemalloc.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if urlparse(url).path != f"/{DATABASE}":
        sys.exit(f"export_scale.py only writes to the {DATABASE} database (set DATABASE_URL).")
    _database_ensure(url, reseed=args.reseed)

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", "export-benchmark-only-" + "x" * 40)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host, locmem email
    settings.SECURE_SSL_REDIRECT = False
    settings.LOYALTY_REQUIRE_MANAGER_MFA = False
    call_command("migrate", verbosity=0)

    from django.contrib.auth.models import Group

    from loyalty.models import User
    from loyalty.services import staff_roles_sync

    _seed(entries=args.entries, members=args.members)
    staff_roles_sync()
    manager, _created = User.objects.get_or_create(email="export-bench@example.com")
    manager.groups.add(Group.objects.get(name="Manager"))
    client = Client()
    client.force_login(manager)

    _stream(client, {"kind": "bonus", "until": "2000-01-01"}, traced=False)  # warm-up
    results = []
    for label, query in (("100k (kind=bonus)", {"kind": "bonus"}), ("1M (all)", {})):
        for traced in (False, True):
            figures = {"run": label, "tracemalloc": traced, **_stream(client, query, traced=traced)}
            print(json.dumps(figures), flush=True)
            results.append(figures)
    print(json.dumps({"loadavg": os.getloadavg(), "results": results}))


if __name__ == "__main__":
    main()
