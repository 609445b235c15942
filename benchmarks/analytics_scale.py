"""The roll-ups and the summary API at scale (issue 13, "Speed": one day's full
roll-up <= 5 s, GET /analytics/summary p95 <= 300 ms at 1M members and 10M
purchases).

    python benchmarks/analytics_scale.py [--members 1000000] [--purchases 10000000]
        [--keep-db] [--repeats 3]

In the database of DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/setia_analytics; it must be called
setia_..., and is dropped and created anew unless --keep-db):

1. migrate, then seed in SQL with generate_series: 10 stores; `--members`
   members joined over three years, 70 % of them with a home store;
   `--purchases` sales over the last two years in time order, one in five
   anonymous, the members drawn skewed (some buy often, most rarely); a
   return of half of every 50th sale three days later; the ledger's earn
   entry of every member sale, a reversal per return, a redemption of every
   20th and an expiry of every 30th a year on;
2. `manage.py rollups_rebuild` (its own process, timed);
3. one day's full roll-up (analytics.rollups.rollups_refresh of one day: its
   store days, ledger days, member-months and member-days, and the buyer,
   active and cohort cells that move), for three days (`--days`);
4. GET /api/v1/analytics/summary through Django's test client with an admin
   key, over periods of 7, 30, 90 and 366 days and every store or one of
   three: p50 and p95 uncached (the cache emptied before each call) and cached;
5. the dashboard page, when the branch has one (`staff:analytics_dashboard`),
   as a manager, the same way.

Prints each figure with the load average beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # midnight in Kuala Lumpur
DAYS = 730


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


SEED = [
    (
        "stores",
        """
        INSERT INTO loyalty_store (code, name, address, phone, is_active, created_at)
        SELECT 's' || n, 'Store ' || n, '', '', true, now() FROM generate_series(0, 9) AS n
        """,
    ),
    (
        "members",
        """
        INSERT INTO members_member (public_id, card_number, first_name, last_name, status,
            language, marketing_consent, tags, home_store_id, referral_code, referral_pending,
            notify_points_earned, joined_at)
        SELECT 'B' || n, lpad(n::text, 16, '0'), 'Bench', 'Member ' || n, 'active', 'en', false,
            '[]',
            CASE WHEN n %% 10 < 7 THEN (SELECT min(id) FROM loyalty_store) + n %% 10 END,
            'R' || n, false, false,
            %(as_of)s - interval '1095 days' + (n::float8 / %(members)s) * interval '1095 days'
        FROM generate_series(1, %(members)s) AS n
        """,
    ),
    (
        "purchases",
        """
        INSERT INTO purchases_purchase (store_id, reference, member_id, occurred_at,
            recorded_at, subtotal, discount_total, total, eligible_amount, points_earned,
            points_redeemed, points_status, tier_code, fingerprint, response, challenges)
        SELECT s.first + (g * 7) %% 10, 'P' || g, m.id, t.at, t.at, a.amount, 0, a.amount,
            a.amount, CASE WHEN m.id IS NULL THEN 0 ELSE floor(a.amount)::bigint END, 0,
            'available', '', 'bench', '', ''
        FROM generate_series(1, %(purchases)s) AS g
        CROSS JOIN (SELECT min(id) AS first FROM loyalty_store) AS s
        CROSS JOIN (SELECT min(id) AS first FROM members_member) AS f
        CROSS JOIN LATERAL (
            SELECT (5 + (g * 37) %% 29500 / 100.0)::numeric(12, 2) AS amount,
                   %(as_of)s - interval '730 days'
                       + (g::float8 / %(purchases)s) * interval '730 days' AS at
        ) AS a
        CROSS JOIN LATERAL (SELECT a.at AS at) AS t
        CROSS JOIN LATERAL (
            SELECT CASE WHEN g %% 5 = 0 THEN NULL
                   ELSE f.first + floor(random() * random() * %(members)s)::bigint END AS id
        ) AS m
        """,
    ),
    (
        "returns",
        """
        INSERT INTO purchases_return (purchase_id, reference, amount, eligible_amount,
            points_reversed, points_refunded, clawback, points_expired, fingerprint, response,
            created_at)
        SELECT id, 'RET' || id, round(total / 2, 2), round(total / 2, 2), points_earned / 2,
            0, 0, 0, 'bench', '', occurred_at + interval '3 days'
        FROM purchases_purchase WHERE id %% 50 = 0
        """,
    ),
    (
        "ledger entries",
        """
        INSERT INTO members_pointsentry (member_id, kind, status, points, balance_after,
            remaining, description, source_type, source_id, created_at)
        SELECT member_id, 'earn', 'available', points_earned, 0, 0, '', 'purchase', id::text,
            occurred_at
        FROM purchases_purchase WHERE member_id IS NOT NULL
        UNION ALL
        SELECT p.member_id, 'reverse', 'available', -r.points_reversed, 0, 0, '', 'purchase',
            p.id::text, r.created_at
        FROM purchases_return r JOIN purchases_purchase p ON p.id = r.purchase_id
        WHERE p.member_id IS NOT NULL
        UNION ALL
        SELECT member_id, 'redeem', 'available', -least(points_earned, 100), 0, 0, '',
            'redemption', id::text, occurred_at + interval '1 day'
        FROM purchases_purchase WHERE member_id IS NOT NULL AND id %% 20 = 1
        UNION ALL
        SELECT member_id, 'expire', 'available', -(points_earned / 2), 0, 0, '', 'purchase',
            id::text, occurred_at + interval '365 days'
        FROM purchases_purchase
        WHERE member_id IS NOT NULL AND id %% 30 = 2
            AND occurred_at + interval '365 days' < %(as_of)s
        """,
    ),
]


def seed(
    url: str, name: str, manage: list[str], env: dict[str, str], options: argparse.Namespace
) -> None:
    import psycopg

    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([*manage, "migrate", "-v", "0"], check=True, env=env, cwd=ROOT)
    values = {"as_of": AS_OF, "members": options.members, "purchases": options.purchases}
    with psycopg.connect(url, autocommit=True) as connection:
        for label, sql in SEED:
            started = time.perf_counter()
            cursor = connection.execute(sql, values)
            _out(
                f"seeded {cursor.rowcount:,} {label} in {time.perf_counter() - started:.0f} s "
                f"(load {_load()})"
            )
        for table in ("members_member", "purchases_purchase", "purchases_return"):
            connection.execute(f"VACUUM ANALYZE {table}")
        connection.execute("VACUUM ANALYZE members_pointsentry")


def rebuild(manage: list[str], env: dict[str, str]) -> None:
    load = _load()
    started = time.perf_counter()
    result = subprocess.run(
        [*manage, "rollups_rebuild", "--to", "2026-11-30"],
        check=False,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(f"rollups_rebuild failed:\n{result.stderr[-3000:]}")
    _out(
        f"rollups_rebuild: {time.perf_counter() - started:.0f} s wall, load {load} before, "
        f"{_load()} after: {result.stdout.strip()}"
    )


def _django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + os.urandom(24).hex())
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.SECURE_SSL_REDIRECT = False
    settings.LOYALTY_REQUIRE_MANAGER_MFA = False
    # No collected static files here: the pages name them through the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def day_refresh(days: list[date]) -> None:
    from analytics.rollups import rollups_refresh

    for day in days:
        load = _load()
        started = time.perf_counter()
        done = rollups_refresh(start=day, end=day)
        _out(
            f"one day's full roll-up {day}: {time.perf_counter() - started:.2f} s "
            f"({done.store_days} store days, {done.ledger_days} ledger days, "
            f"{done.member_months} member-months; goal <= 5 s; load {load})"
        )


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms over {len(ordered)}"
    )


def _queries() -> list[dict[str, str]]:
    end = date(2026, 11, 30)
    queries = []
    for days in (7, 30, 90, 366):
        for store in (None, "s0", "s3", "s7"):
            query = {"from": (end - timedelta(days=days - 1)).isoformat(), "to": end.isoformat()}
            if store:
                query["store"] = store
            queries.append(query)
    return queries


def summary(repeats: int) -> None:
    from django.core.cache import cache
    from rest_framework.test import APIClient

    from loyalty.actors import Actor
    from loyalty.services import api_key_create

    issued = api_key_create(actor=Actor.system(), name="bench", scopes=["admin"], store=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.key}")
    _time(client, "/api/v1/analytics/summary", repeats, cache, name="GET /analytics/summary")


def _time(client: Any, url: str, repeats: int, cache: Any, *, name: str) -> None:
    uncached, cached = [], []
    load = _load()
    client.get(url, _queries()[0])  # warm-up: connections, imports
    for _ in range(repeats):
        for query in _queries():
            cache.clear()
            started = time.perf_counter()
            response = client.get(url, query)
            uncached.append(time.perf_counter() - started)
            assert response.status_code == 200, (response.status_code, response.content[:300])
            started = time.perf_counter()
            response = client.get(url, query)
            cached.append(time.perf_counter() - started)
    _out(f"{name} uncached: {_percentiles(uncached)} (goal p95 <= 300 ms; load {load})")
    _out(f"{name} cached:   {_percentiles(cached)} (load {_load()})")


def dashboard(repeats: int) -> None:
    from django.contrib.auth.models import Group
    from django.core.cache import cache
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from loyalty.models import User
    from loyalty.services import staff_roles_sync

    try:
        url = reverse("staff:analytics_dashboard")
    except NoReverseMatch:
        _out("dashboard: no staff:analytics_dashboard on this branch, not timed")
        return
    staff_roles_sync()
    user, _created = User.objects.get_or_create(email="bench-manager@example.com")
    user.groups.add(Group.objects.get(name="Manager"))
    client = Client()
    client.force_login(user)
    _time(client, url, repeats, cache, name="dashboard")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--keep-db", action="store_true", help="time the last run's database")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--days",
        nargs="+",
        type=date.fromisoformat,
        default=[date(2026, 11, 29), date(2026, 6, 15), date(2025, 12, 31)],
        help="the days whose full roll-up is timed (with --keep-db, pick days not "
        "refreshed since the rebuild to time one whose pages are not in memory)",
    )
    options = parser.parse_args()
    if not (1 <= options.members <= 10_000_000 and 1 <= options.purchases <= 100_000_000):
        raise SystemExit("--members 1..10M, --purchases 1..100M")
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/setia_analytics")
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not parts.scheme.startswith("postgres") or not name.startswith("setia_"):
        raise SystemExit("DATABASE_URL must name a PostgreSQL database called setia_...")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-" + os.urandom(24).hex(),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    _out(f"{options.members:,} members, {options.purchases:,} purchases; load {_load()}")
    if not options.keep_db:
        seed(url, name, manage, env, options)
        rebuild(manage, env)
    _django(url)
    day_refresh(options.days)
    summary(options.repeats)
    dashboard(options.repeats)


if __name__ == "__main__":
    main()
