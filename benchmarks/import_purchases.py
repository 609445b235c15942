"""The past purchases import at scale (issue 11, "Speed"), on PostgreSQL.

    python benchmarks/import_purchases.py [--lines 1000000] [--points-lines 20000]
        [--members 2000] [--modes no-points,points]

Steps: create the database `setia_bench_import` on the server of
DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; only this
database is created and dropped, also on Ctrl-C), migrate, set the program
up (1 point per RM1, 365-day expiry, tiers on spend), import `--members`
members with `manage.py import_members`; write a purchases CSV of `--lines`
lines (1 to 6 lines a purchase, 3.3 on average: 1,000,000 lines are about
300,000 purchases; 70 % by a member named by card number, email or phone,
the rest anonymous; dated over the last two years, in time order), import it
with `manage.py import_purchases --no-points`; then, in a fresh database, a
file of `--points-lines` lines with points (through the sale flow), followed
by `ledger_check`. Each import runs as its own process; printed per run:
wall time, rows/s, purchases/s and the process's peak memory (ru_maxrss
from wait4). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "setia_bench_import"
HEADER = "store,reference,occurred_at,member,sku,name,category,quantity,unit_price,earns,discount\n"
SETUP = """
from decimal import Decimal
from loyalty.actors import Actor
from loyalty.services import program_settings_update, store_create
from members.tiers import tier_create
actor = Actor.system()
stores = [store_create(actor=actor, code=f"s{n}", name=f"Store {n}") for n in range(5)]
program_settings_update(actor=actor, earn_points=1, earn_per_amount=Decimal("1.00"),
    point_value=Decimal("0.01"), pending_days=0, expiry_days=365, tier_basis="spend",
    tier_window_days=365, main_store=stores[0])
tier_create(actor=actor, code="classic", name="Classic", threshold=Decimal("0"))
tier_create(actor=actor, code="gold", name="Gold", threshold=Decimal("2000"),
    multiplier=Decimal("1.50"))
"""


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _urls(db_name: str = DB_NAME) -> tuple[str, str]:
    """(the server's maintenance database URL, the benchmark database URL)."""
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit("DATABASE_URL must name a PostgreSQL server")
    return (
        urlunsplit(parts._replace(path="/postgres")),
        urlunsplit(parts._replace(path=f"/{db_name}")),
    )


def _sql(url: str, statement: str) -> None:
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", statement], check=True)


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CACHE_URL"}}
    env.update(
        DATABASE_URL=url, DJANGO_DEBUG="0", DJANGO_SECRET_KEY="bench-" + os.urandom(16).hex()
    )
    env.update(DJANGO_ALLOWED_HOSTS="localhost", CELERY_BROKER_URL="")
    return env


def _manage(url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=_env(url),
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


@dataclass
class Timing:
    """One import's figures: wall seconds, peak memory, CPU seconds of the
    process (user + sys, from wait4) and of the PostgreSQL backends serving
    its database (read from /proc while it runs: the server is on this
    machine), the load average when it ended, and the command's last line."""

    seconds: float
    kib: int
    cpu: float
    server_cpu: float
    load: float
    last: str


def _backend_cpu(db_name: str, seen: dict[int, float]) -> None:
    """Note the CPU seconds so far of each backend connected to `db_name`."""
    tick = os.sysconf("SC_CLK_TCK")
    rows = subprocess.run(
        ["psql", _urls(db_name)[0], "-Atc",
         f"SELECT pid FROM pg_stat_activity WHERE datname = '{db_name}'"],  # noqa: S608
        capture_output=True,
        text=True,
    ).stdout.split()  # fmt: skip
    for pid in rows:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        seen[int(pid)] = (int(fields[11]) + int(fields[12])) / tick


def _timed(url: str, *args: str, db_name: str = DB_NAME) -> Timing:
    """Run a manage.py command and measure it (Timing)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=_env(url),
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        seen: dict[int, float] = {}
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            _backend_cpu(db_name, seen)
            time.sleep(0.5)
        seconds = time.perf_counter() - start
        out.seek(0)
        lines = out.read().splitlines()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed: {lines[-5:]}")
    return Timing(
        seconds,
        usage.ru_maxrss,
        usage.ru_utime + usage.ru_stime,
        sum(seen.values()),
        os.getloadavg()[0],
        lines[-1] if lines else "",
    )


def _prepare(
    admin_url: str, url: str, members: int, folder: Path, db_name: str = DB_NAME
) -> list[str]:
    """A fresh database with the program and `members` members; their names in files."""
    _sql(admin_url, f"DROP DATABASE IF EXISTS {db_name}")
    _sql(admin_url, f"CREATE DATABASE {db_name}")
    _manage(url, "migrate", "-v", "0")
    _manage(url, "shell", "-c", SETUP)
    path = folder / "members.csv"
    with path.open("w") as file:
        file.write("email,phone,first_name,last_name\n")
        for n in range(members):
            file.write(f"bench{n}@example.com,0113{n:07d},Bench,{n}\n")
    _manage(url, "import_members", str(path))
    rows = subprocess.run(
        ["psql", url, "-Atc", "SELECT card_number FROM members_member ORDER BY id"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return [[rows[n], f"bench{n}@example.com", f"0113{n:07d}"][n % 3] for n in range(len(rows))]


def _purchases_file(path: Path, lines: int, members: list[str], seed: int = 7) -> int:
    """Write `lines` purchase lines; returns how many purchases they make."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=730)
    step = timedelta(days=729) / max(1, lines // 3)
    written = purchases = 0
    with path.open("w") as file:
        file.write(HEADER)
        while written < lines:
            size = min(rng.randint(1, 6) if rng.random() < 0.9 else 1, lines - written)
            store = f"s{rng.randrange(5)}"
            who = rng.choice(members) if rng.random() < 0.7 else ""
            when = (start + step * purchases).isoformat()
            reference = f"B{purchases:08d}"
            for k in range(size):
                price = f"{rng.randint(100, 5000) / 100:.2f}"
                file.write(
                    f"{store},{reference},{when},{who},SKU-{rng.randrange(300)},Item,cat{k % 4},"
                    f"{rng.randint(1, 3)},{price},{'false' if k == 5 else ''},"
                    f"{'0.50' if k == 0 and size > 2 else ''}\n"
                )
            written += size
            purchases += 1
    return purchases


def _report(label: str, lines: int, purchases: int, timing: Timing) -> None:
    seconds = timing.seconds
    _out(
        f"{label}: {lines:,} lines, {purchases:,} purchases in {seconds:.1f} s: "
        f"{lines / seconds:,.0f} rows/s, {purchases / seconds:,.0f} purchases/s, "
        f"peak memory {timing.kib / 1024:.0f} MiB; CPU {timing.cpu:.1f} s in the process "
        f"+ {timing.server_cpu:.1f} s in PostgreSQL = "
        f"{(timing.cpu + timing.server_cpu) * 1000 / max(1, purchases):.2f} ms a purchase; "
        f"load average {timing.load:.2f} ({timing.last})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--points-lines", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--modes", default="no-points,points")
    parser.add_argument(
        "--db-name",
        default=DB_NAME,
        help="The database created and dropped (one per person on a shared server).",
    )
    parser.add_argument(
        "--rerun",
        action="store_true",
        help="Import each file a second time (all skipped).",
    )
    options = parser.parse_args()
    modes = set(options.modes.split(","))
    db_name = options.db_name
    if not db_name.replace("_", "").isalnum():
        raise SystemExit("--db-name: letters, digits and _ only")
    admin_url, url = _urls(db_name)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    def run(label: str, path: Path, lines: int, purchases: int, *flags: str) -> None:
        _report(label, lines, purchases, _timed(url, "import_purchases", str(path), *flags,
                                                db_name=db_name))  # fmt: skip
        if options.rerun:
            timing = _timed(url, "import_purchases", str(path), *flags, db_name=db_name)
            _report(f"{label} again (skipped)", lines, purchases, timing)

    signal.signal(signal.SIGTERM, stop)
    _out(f"load average before: {os.getloadavg()[0]:.2f} (2 cores, shared machine)")
    try:
        with tempfile.TemporaryDirectory() as folder_name:
            folder = Path(folder_name)
            if "no-points" in modes:
                members = _prepare(admin_url, url, options.members, folder, db_name)
                path = folder / "purchases.csv"
                purchases = _purchases_file(path, options.lines, members)
                _out(f"file: {path.stat().st_size / 1e6:.0f} MB")
                run("--no-points", path, options.lines, purchases, "--no-points")
            if "points" in modes:
                members = _prepare(admin_url, url, options.members, folder, db_name)
                path = folder / "purchases-points.csv"
                purchases = _purchases_file(path, options.points_lines, members)
                run("with points", path, options.points_lines, purchases)
                _out(_manage(url, "ledger_check").strip())
    finally:
        _sql(admin_url, f"DROP DATABASE IF EXISTS {db_name}")


if __name__ == "__main__":
    main()
