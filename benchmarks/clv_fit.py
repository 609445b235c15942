"""The predictions' fit at scale (issue 13, "Speed": clv_fit on 1,000,000
members in at most 60 s), in two parts.

    python benchmarks/clv_fit.py [--members 1000000] [--skip-db] [--keep-db]

1. In memory: draw (x, t_x, T) in days for `--members` members from known
   BG/NBD parameters (r 0.25, alpha 12, a 0.8, b 2.6; T uniform over three
   years) and values from Gamma-Gamma (p 6, q 4, gamma 15) with numpy, fit
   both (analytics.clv), print the time and the parameters recovered.
2. From PostgreSQL: in the database of DATABASE_URL (default
   postgres://postgres@127.0.0.1:5432/setia_clv; dropped and created anew),
   migrate, insert the members with one SQL statement and their purchase days
   as `members_memberactivity` rows with COPY, then time `manage.py clv_fit`
   as its own process: reading the history from PostgreSQL, the fits, the JSON.
   Days are whole, so the recovered parameters differ a little from part 1's.
   Printed: rows written, the command's wall time and its output, and the
   load average before and after. `--keep-db` times the command again on the
   database a previous run wrote (the same seed writes the same rows).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics import clv  # noqa: E402  (after the path is set)

TRUTH = {"r": 0.25, "alpha": 12.0, "a": 0.8, "b": 2.6}
SPEND = {"p": 6.0, "q": 4.0, "v": 15.0}
AS_OF = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # midnight in Kuala Lumpur
DAYS = 3 * 365


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def simulate(members: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    T = rng.integers(1, DAYS, size=members).astype(float)
    x, t_x = clv.bgnbd_simulate(**TRUTH, T=T, rng=rng)
    means = clv.gamma_gamma_simulate(**SPEND, x=x, rng=rng)
    return {"T": T, "x": x, "t_x": t_x, "m": means}


def in_memory(data: dict[str, np.ndarray]) -> None:
    started = time.perf_counter()
    bgnbd = clv.bgnbd_fit(data["x"], data["t_x"], data["T"])
    spend = clv.gamma_gamma_fit(data["x"], data["m"])
    seconds = time.perf_counter() - started
    _out(f"in memory: {data['x'].size:,} members fitted in {seconds:.1f} s (load {_load()})")
    _out(f"  BG/NBD      true {TRUTH}")
    _out(
        f"              got r={bgnbd.r:.4f} alpha={bgnbd.alpha:.4f} a={bgnbd.a:.4f} "
        f"b={bgnbd.b:.4f} LL={bgnbd.log_likelihood:.1f}"
    )
    _out(f"  Gamma-Gamma true {SPEND}")
    _out(f"              got p={spend.p:.4f} q={spend.q:.4f} v={spend.v:.4f} ({spend.customers:,})")


def activity_copy(data: dict[str, np.ndarray], rng: np.random.Generator, first_id: int) -> bytes:
    """The COPY text of every member's purchase days: the first at day
    DAYS - T, repeat ones on whole days up to t_x (the last exactly at t_x)."""
    buffer = io.StringIO()
    start = AS_OF - timedelta(days=DAYS)
    for i in range(data["x"].size):
        member_id = first_id + i
        first = DAYS - int(data["T"][i])
        x = int(data["x"][i])
        offsets = {0}
        if x:
            t_x = int(data["t_x"][i])
            offsets.add(t_x)
            if x > 1:
                offsets.update(np.floor(rng.uniform(0, t_x, size=x - 1)).astype(int).tolist())
        value = max(float(data["m"][i]), 1.0)
        for offset in sorted(offsets):
            at = start + timedelta(days=first + offset, hours=3)
            buffer.write(
                f"{member_id}\t{at.isoformat()}\t{value:.2f}\t0\tpurchase\t{member_id}-{offset}\n"
            )
    return buffer.getvalue().encode()


def from_database(data: dict[str, np.ndarray], rng: np.random.Generator, keep: bool) -> None:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/setia_clv")
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
    if not keep:
        write(data, rng, url, name, manage, env)
    command(manage, env)


def write(
    data: dict[str, np.ndarray],
    rng: np.random.Generator,
    url: str,
    name: str,
    manage: list[str],
    env: dict[str, str],
) -> None:
    import psycopg

    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([*manage, "migrate", "-v", "0"], check=True, env=env, cwd=ROOT)
    members = data["x"].size
    started = time.perf_counter()
    with psycopg.connect(url) as connection:
        connection.execute(
            """
            INSERT INTO members_member (public_id, card_number, first_name, last_name,
                status, language, marketing_consent, tags, referral_code, joined_at,
                referral_pending, notify_points_earned)
            SELECT 'B' || n, lpad(n::text, 16, '0'), 'Bench', 'Member ' || n, 'active', 'en',
                false, '[]', 'R' || n, %s, false, true
            FROM generate_series(1, %s) AS n
            """,
            (AS_OF - timedelta(days=DAYS + 1), members),
        )
        first_id = connection.execute("SELECT min(id) FROM members_member").fetchone()[0]
        payload = activity_copy(data, rng, first_id)
        with connection.cursor().copy(
            "COPY members_memberactivity (member_id, occurred_at, spend, points, source_type, "
            "source_id) FROM STDIN"
        ) as copy:
            copy.write(payload)
        rows = connection.execute("SELECT count(*) FROM members_memberactivity").fetchone()[0]
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE members_memberactivity")
        connection.execute("VACUUM ANALYZE members_member")
    _out(
        f"database: {members:,} members and {rows:,} purchase days written in "
        f"{time.perf_counter() - started:.0f} s"
    )


def command(manage: list[str], env: dict[str, str]) -> None:
    load_before = _load()
    started = time.perf_counter()
    result = subprocess.run(
        [*manage, "clv_fit", "--as-of", "2026-11-30"],
        check=True,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    printed = json.loads(result.stdout)
    _out(
        f"manage.py clv_fit: {seconds:.1f} s wall (the fit's own figure {printed['seconds']} s, "
        f"reading from PostgreSQL included; goal <= 60 s); load {load_before} before, "
        f"{_load()} after"
    )
    _out(f"  {json.dumps(printed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--skip-db", action="store_true", help="the in-memory part only")
    parser.add_argument("--keep-db", action="store_true", help="clv_fit on the last run's rows")
    options = parser.parse_args()
    rng = np.random.default_rng(2026)
    data = simulate(options.members, rng)
    in_memory(data)
    if not options.skip_db:
        from_database(data, rng, options.keep_db)


if __name__ == "__main__":
    main()
