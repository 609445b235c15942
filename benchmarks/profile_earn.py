"""Where one earn POST spends its time: SQL queries per request and a cProfile summary.

    .venv/bin/python benchmarks/profile_earn.py [--requests N] [--members M] [--challenges]

Builds the same `setia_bench` database as earn_api.py, then posts purchases
in-process through Django's test client (whole middleware and DRF stack, no
HTTP server), prints the SQL of one request, the query count per request and
the functions with the most cumulative time. Drops the database at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import earn_api


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--sql", action="store_true", help="print every query of one request")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative)")
    parser.add_argument("--top", type=int, default=45, help="functions to list (45)")
    parser.add_argument("--dump", help="also write the raw profile to this file (for pstats)")
    parser.add_argument(
        "--challenges",
        action="store_true",
        help="two live challenges every member takes part in (as earn_api.py --challenges)",
    )
    args = parser.parse_args()

    env = earn_api._bench_env({"LOYALTY_API_RATE": "10000000/min"})
    try:
        setup = earn_api.database_create(members=args.members, env=env, challenges=args.challenges)
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
        import django

        django.setup()
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        client = Client(HTTP_AUTHORIZATION=f"Api-Key {setup.api_key}", SERVER_NAME="127.0.0.1")
        rng = random.Random(1)

        def post(n: int) -> int:
            body = earn_api.sale_body(f"p-{n}", rng.choice(setup.member_ids), rng)
            response = client.post(
                "/api/v1/purchases",
                data=body,
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=f"profile-{n}",
            )
            return response.status_code

        for n in range(20):  # warm-up: imports, caches, first connection
            post(n)
        with CaptureQueriesContext(connection) as captured:
            status = post(10_000)
        _out(f"one POST /api/v1/purchases: status {status}, {len(captured)} SQL queries")
        kinds = Counter(q["sql"].split()[0].upper() for q in captured.captured_queries)
        _out("  by statement: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
        if args.sql:
            for query in captured.captured_queries:
                _out(f"  {query['time']}s  {query['sql'][:220]}")

        # The process's CPU time without the profiler: what the Python side
        # of a sale costs, much less moved by the machine's load than wall time.
        began, cpu = time.perf_counter(), time.process_time()
        for n in range(args.requests):
            post(30_000 + n)
        took, cpu = time.perf_counter() - began, time.process_time() - cpu
        _out(
            f"{args.requests} POSTs in-process, no profiler: {took / args.requests * 1000:.2f} ms "
            f"wall, {cpu / args.requests * 1000:.2f} ms CPU each"
        )
        profiler = cProfile.Profile()
        began = time.perf_counter()
        profiler.enable()
        for n in range(args.requests):
            post(20_000 + n)
        profiler.disable()
        took = time.perf_counter() - began
        _out(f"{args.requests} POSTs in-process, profiled: {took / args.requests * 1000:.2f} ms")
        if args.dump:
            profiler.dump_stats(args.dump)
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats(args.sort).print_stats(args.top)
        _out(buffer.getvalue())
        connection.close()
    finally:
        earn_api.database_drop()


if __name__ == "__main__":
    main()
