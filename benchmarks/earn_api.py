"""The earn API under load, next to pgbench on the same machine.

    .venv/bin/python benchmarks/earn_api.py [--clients N] [--seconds S] [--workers W]

Why pgbench too: req/s alone does not say whether the API is slow or the
machine is (its speed swings by 2x from one hour to the next here). pgbench
runs, with the same clients for the same time, (1) the bare SQL a purchase
must do (one ledger entry, one balance update, one transaction) and (2) its
built-in `simple-update`; the ratios API/pgbench say how much of the
database's capacity the Django layer keeps.

Steps: recreate the `setia_bench` database (PostgreSQL at 127.0.0.1:5432, user
postgres), migrate, seed through the services (benchmarks/seed.py), create a
`pos` API key with `manage.py create_api_key`, start gunicorn; phase 1 posts
purchases, phase 2 reads member statuses (`GET /members/{id}`); then the
ledger check over everything phase 1 wrote, the two pgbench runs, the table;
stop gunicorn and drop the databases (also on Ctrl-C). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
# The interpreter running this script and its environment's gunicorn: the
# checkout's .venv, or a shared one (a worktree of the same checkout).
PYTHON = Path(sys.executable)
GUNICORN = PYTHON.parent / "gunicorn"
DB_NAME = "setia_bench"
# pgbench's own tables for its built-in simple-update (pgbench -i), apart.
PGBENCH_DB = "setia_bench_pgbench"
PGBENCH_SCALE = 10
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
DATABASE_URL = f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{DB_NAME}"
# The SQL of one earn, as the ledger writes it: an entry (a lot) and the account's totals.
PSQL_CONN = ["psql", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"]]
PGBENCH_SCRIPT = """\
\\set member random(:first_member, :last_member)
\\set points random(1, 300)
BEGIN;
INSERT INTO members_pointsentry (member_id, kind, status, points, balance_after, remaining,
  available_at, expires_at, description, source_type, source_id, created_at)
  VALUES (:member, 'earn', 'available', :points, 0, :points, now(), now() + interval '365 days',
  'Points earned', 'purchase', 'pgbench', now());
UPDATE members_pointsaccount SET balance = balance + :points,
  lifetime_earned = lifetime_earned + :points, updated_at = now() WHERE member_id = :member;
END;
"""


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _psql(sql: str, database: str = "postgres") -> str:
    result = subprocess.run(
        [*PSQL_CONN, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def _bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CACHE_URL"}}
    env.update(
        DATABASE_URL=DATABASE_URL,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-" + os.urandom(24).hex(),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        # Plain http on loopback: no redirect to https.
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
    )
    env.update(extra or {})
    return env


def _manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(PYTHON), str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Setup:
    api_key: str
    member_ids: list[str]


def database_create(
    *, members: int, env: dict[str, str], campaigns: bool = False, challenges: bool = False
) -> Setup:
    """A fresh setia_bench: migrated, cache table, seeded (with the three live
    campaigns of `--campaigns`, the two challenges of `--challenges`), with a
    pos key."""
    _psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    _psql(f"CREATE DATABASE {DB_NAME}")
    _manage("migrate", "--no-input", env=env)
    _manage("createcachetable", env=env)
    seeded = subprocess.run(
        [
            str(PYTHON),
            str(ROOT / "benchmarks" / "seed.py"),
            *("--members", str(members)),
            *(["--campaigns"] if campaigns else []),
            *(["--challenges"] if challenges else []),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    member_ids = json.loads(seeded.stdout.strip().splitlines()[-1])["members"]
    key = _manage("create_api_key", "bench-till", "--scopes", "pos", "--store", "bench", env=env)
    return Setup(api_key=key.strip().splitlines()[-1], member_ids=member_ids)


def database_drop() -> None:
    _psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def gunicorn_start(
    *, port: int, workers: int, threads: int, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    worker_class = "gthread" if threads > 1 else "sync"
    command = [
        str(GUNICORN),
        "loyalty.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--backlog",
        "2048",
        "--keep-alive",
        "30",
    ]
    with log.open("wb") as handle:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def gunicorn_wait(*, port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until the app answers a request (any status below 500)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/purchases/0")
            status = conn.getresponse().status
            conn.close()
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer in time")


def server_stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session (gunicorn and its workers, or redis)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class Tally:
    """One client's counts; merged at the end (no lock on the hot path)."""

    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def sale_body(reference: str, member_id: str, rng: random.Random) -> bytes:
    items = [
        {
            "sku": f"SKU-{rng.randint(1, 500)}",
            "name": "Item",
            "category": rng.choice(["snacks", "drinks", "household"]),
            "quantity": rng.randint(1, 3),
            "unit_price": f"{rng.randint(100, 9999) / 100:.2f}",
        }
        for _ in range(rng.randint(1, 3))
    ]
    return json.dumps({"reference": reference, "member_id": member_id, "items": items}).encode()


def client_run(
    *,
    number: int,
    port: int,
    setup: Setup,
    start_at: float,
    stop_at: float,
    stop: threading.Event,
    tally: Tally,
    phase: str = "purchases",
) -> None:
    """Post purchases (or, phase "status", read member statuses) on one
    keep-alive connection until `stop_at`; count those sent after `start_at`
    (before it is warm-up)."""
    rng = random.Random(number)
    headers = {
        "Authorization": f"Api-Key {setup.api_key}",
        "Content-Type": "application/json",
        "Connection": "keep-alive",
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = 0
    while not stop.is_set():
        now = time.perf_counter()
        if now >= stop_at:
            break
        sent += 1
        reference = f"c{number}-{sent}"
        member_id = rng.choice(setup.member_ids)
        began = time.perf_counter()
        try:
            if phase == "status":
                conn.request("GET", f"/api/v1/members/{member_id}", headers=headers)
            else:
                conn.request(
                    "POST",
                    "/api/v1/purchases",
                    body=sale_body(reference, member_id, rng),
                    headers={**headers, "Idempotency-Key": f"bench-{reference}"},
                )
            response = conn.getresponse()
            response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        took = time.perf_counter() - began
        if began < start_at:
            continue
        tally.latencies.append(took)
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
        if status.startswith("2"):
            tally.ok += 1
        else:
            tally.errors += 1
    conn.close()


@dataclass(frozen=True)
class ApiResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    statuses: dict[str, int]
    client_cpu_s: float
    # CPU time per request of the gunicorn workers and of PostgreSQL's
    # processes over the measured seconds: what a request costs, whatever else
    # the machine does (the wall-clock figures above move with it).
    server_cpu_ms: float = float("nan")
    database_cpu_ms: float = float("nan")


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_of(pids: list[int]) -> dict[int, float]:
    """CPU seconds of each of `pids` still running (from /proc): its own
    (utime + stime) and that of its children it has reaped (cutime + cstime),
    so PostgreSQL's backends that end (a connection older than
    DATABASE_CONN_MAX_AGE is replaced) still count, in the postmaster."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = sum(int(f) for f in fields[11:15]) / _TICKS
    return found


def _cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between the two readings: by the processes running
    at the second (those started since count from 0)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(p) for p in found]


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def api_load(
    *,
    port: int,
    setup: Setup,
    clients: int,
    seconds: float,
    warmup: float,
    stop: threading.Event,
    phase: str = "purchases",
    server_pid: int | None = None,
) -> ApiResult:
    tallies = [Tally() for _ in range(clients)]
    start_at = time.perf_counter() + warmup
    stop_at = start_at + seconds
    cpu_before = time.process_time()
    threads = [
        threading.Thread(
            target=client_run,
            kwargs={
                "number": n,
                "port": port,
                "setup": setup,
                "start_at": start_at,
                "stop_at": stop_at,
                "stop": stop,
                "tally": tallies[n],
                "phase": phase,
            },
            daemon=True,
        )
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    # CPU over the measured seconds only (after the warm-up).
    while time.perf_counter() < start_at and not stop.is_set():
        time.sleep(0.05)
    workers = _children(server_pid) if server_pid else []
    database = _postgres_pids()
    server_before, database_before = _cpu_of(workers), _cpu_of(database)
    while time.perf_counter() < stop_at and not stop.is_set():
        time.sleep(0.05)
    server_cpu = _cpu_spent(server_before, _cpu_of(workers))
    database_cpu = _cpu_spent(database_before, _cpu_of(_postgres_pids()))
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)
    cpu = time.process_time() - cpu_before
    latencies = sorted(x for t in tallies for x in t.latencies)
    statuses: dict[str, int] = {}
    for t in tallies:
        for status, count in t.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    done = max(len(latencies), 1)
    return ApiResult(
        server_cpu_ms=1000 * server_cpu / done if workers else float("nan"),
        database_cpu_ms=1000 * database_cpu / done,
        requests_per_s=len(latencies) / seconds,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        errors=sum(t.errors for t in tallies),
        requests=len(latencies),
        statuses=statuses,
        client_cpu_s=cpu,
    )


@dataclass(frozen=True)
class PgbenchResult:
    tps: float
    latency_ms: float
    failed: int


def pgbench_run(*, clients: int, seconds: int, workdir: Path) -> PgbenchResult:
    """The same clients for the same time on the bare ledger SQL of one earn."""
    pgbench = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    first, last, count = _psql(
        "SELECT min(member_id), max(member_id), count(*) FROM members_pointsaccount",
        database=DB_NAME,
    ).split("|")
    if int(last) - int(first) + 1 != int(count):
        raise RuntimeError("member ids are not contiguous; pgbench would hit missing members")
    script = workdir / "earn.sql"
    script.write_text(PGBENCH_SCRIPT)
    result = subprocess.run(
        [
            *(pgbench, "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-n"),
            *("-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds)),
            *("-D", f"first_member={first}", "-D", f"last_member={last}", "-f", str(script)),
            DB_NAME,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return _pgbench_parse(result)


def pgbench_simple_update(*, clients: int, seconds: int) -> PgbenchResult:
    """pgbench's built-in `simple-update` (one UPDATE, one SELECT, one INSERT
    per transaction) on its own tables, scale PGBENCH_SCALE, same clients and time."""
    pgbench = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    connect = (pgbench, "-h", PG["host"], "-p", PG["port"], "-U", PG["user"])
    _psql(f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")
    _psql(f"CREATE DATABASE {PGBENCH_DB}")
    subprocess.run(
        [*connect, "-i", "-q", "-s", str(PGBENCH_SCALE), PGBENCH_DB],
        check=True,
        capture_output=True,
        text=True,
    )
    result = subprocess.run(
        [
            *connect,
            *("-n", "-b", "simple-update"),
            *("-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds)),
            PGBENCH_DB,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return _pgbench_parse(result)


def _pgbench_parse(result: subprocess.CompletedProcess[str]) -> PgbenchResult:
    tps = re.search(r"tps = ([\d.]+)", result.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", result.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
    if tps is None:
        raise RuntimeError(f"pgbench gave no tps:\n{result.stdout}\n{result.stderr}")
    return PgbenchResult(
        tps=float(tps.group(1)),
        latency_ms=float(latency.group(1)) if latency else float("nan"),
        failed=int(failed.group(1)) if failed else 0,
    )


def ledger_check(*, env: dict[str, str]) -> str:
    """`manage.py ledger_check` over what the run wrote: its last line."""
    result = subprocess.run(
        [str(PYTHON), str(ROOT / "manage.py"), "ledger_check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = (result.stdout + result.stderr).strip().splitlines()
    verdict = "passed" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
    return f"{verdict}: {lines[-1] if lines else ''}"


def report(
    *,
    args: argparse.Namespace,
    api: ApiResult,
    status: ApiResult | None,
    pg: PgbenchResult | None,
    simple: PgbenchResult | None,
    checked: str,
    load: str,
) -> None:
    threads = f"gthread x{args.threads}" if args.threads > 1 else "sync"
    _out()
    _out(
        f"clients {args.clients}, {args.seconds} s, gunicorn {args.workers} workers ({threads}), "
        f"{args.members} members, cache {args.cache}"
        f"{', 3 live campaigns' if args.campaigns else ''}"
        f"{', 2 live challenges (every member in both)' if args.challenges else ''}"
        f"; load average before: {load}"
    )
    rows = [
        ("API purchases/s", f"{api.requests_per_s:.1f}"),
        ("API p50 (ms)", f"{api.p50_ms:.1f}"),
        ("API p99 (ms)", f"{api.p99_ms:.1f}"),
        ("API errors (non-2xx)", f"{api.errors} of {api.requests}"),
        ("load clients' CPU (s)", f"{api.client_cpu_s:.1f}"),
        ("server CPU per purchase (ms)", f"{api.server_cpu_ms:.2f}"),
        ("PostgreSQL CPU per purchase (ms)", f"{api.database_cpu_ms:.2f}"),
    ]
    if status is not None:
        rows += [
            ("status reads/s", f"{status.requests_per_s:.1f}"),
            ("status p50 (ms)", f"{status.p50_ms:.1f}"),
            ("status p99 (ms)", f"{status.p99_ms:.1f}"),
            ("status errors (non-2xx)", f"{status.errors} of {status.requests}"),
            ("server CPU per status (ms)", f"{status.server_cpu_ms:.2f}"),
            ("PostgreSQL CPU per status (ms)", f"{status.database_cpu_ms:.2f}"),
        ]
    if pg is not None:
        rows += [
            ("pgbench earn SQL tps", f"{pg.tps:.1f}"),
            ("pgbench earn latency (ms)", f"{pg.latency_ms:.2f}"),
            ("ratio API/earn SQL", f"{api.requests_per_s / pg.tps:.3f}" if pg.tps else "n/a"),
        ]
    if simple is not None:
        rows += [
            ("pgbench simple-update tps", f"{simple.tps:.1f}"),
            (
                "ratio API/simple-update",
                f"{api.requests_per_s / simple.tps:.3f}" if simple.tps else "n/a",
            ),
        ]
    rows.append(("ledger_check", checked))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        _out(f"  {name:<{width}}  {value:>14}")
    if set(api.statuses) - {"201"}:
        _out(f"  statuses: {json.dumps(api.statuses, sort_keys=True)}")
    goal = api.requests_per_s >= 500 and api.p99_ms < 100 and api.errors == 0
    _out(f"  goal (>= 500 purchases/s, p99 < 100 ms, no errors): {'met' if goal else 'NOT met'}")
    if status is not None:
        met = status.requests_per_s >= 1500 and status.errors == 0
        _out(f"  goal (>= 1,500 status reads/s, no errors): {'met' if met else 'NOT met'}")
    if simple is not None and simple.tps:
        met = api.requests_per_s / simple.tps >= 0.07
        _out(f"  goal (ratio to simple-update >= 0.07): {'met' if met else 'NOT met'}")


def redis_start(*, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private, memory-only redis-server for the cache (throttle counters)."""
    port = _free_port()
    process = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(workdir)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("redis-server did not start")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--seconds", type=int, default=60, help="measured seconds per run (60)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (4)")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker; >1 uses gthread (1: sync)"
    )
    parser.add_argument("--members", type=int, default=1000, help="members to seed (1000)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first (3)")
    parser.add_argument(
        "--cache",
        choices=["db", "redis"],
        default="redis",
        help="Django cache for the API throttle: the default database table, or a private redis",
    )
    parser.add_argument("--skip-pgbench", action="store_true", help="API only")
    parser.add_argument(
        "--campaigns",
        action="store_true",
        help="three live campaigns: a multiplier, a category bonus, a budgeted spend bonus",
    )
    parser.add_argument(
        "--challenges",
        action="store_true",
        help="two live challenges every member takes part in: a spend goal, a weekly streak",
    )
    parser.add_argument(
        "--status-seconds",
        type=int,
        default=None,
        help="seconds of the status-read phase (default: --seconds; 0 skips it)",
    )
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, _interrupt)
    # The till API's default limit is 200 requests/s per key; the benchmark
    # measures the server, not the limit, so it lifts it (the throttle still runs).
    env = _bench_env({"LOYALTY_API_RATE": "10000000/min"})
    stop = threading.Event()
    server: subprocess.Popen[bytes] | None = None
    redis: subprocess.Popen[bytes] | None = None
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="setia-bench-") as tmp:
        workdir = Path(tmp)
        try:
            if args.cache == "redis":
                redis, env["CACHE_URL"] = redis_start(workdir=workdir)
            _out(f"creating {DB_NAME} with {args.members} members ...")
            setup = database_create(
                members=args.members,
                env=env,
                campaigns=args.campaigns,
                challenges=args.challenges,
            )
            port = _free_port()
            log = workdir / "gunicorn.log"
            server = gunicorn_start(
                port=port, workers=args.workers, threads=args.threads, env=env, log=log
            )
            gunicorn_wait(port=port, process=server)
            _out(f"gunicorn on 127.0.0.1:{port}; {args.clients} clients for {args.seconds} s ...")
            api = api_load(
                port=port,
                setup=setup,
                clients=args.clients,
                seconds=args.seconds,
                warmup=args.warmup,
                stop=stop,
                server_pid=server.pid,
            )
            status_seconds = args.seconds if args.status_seconds is None else args.status_seconds
            status = None
            if status_seconds:
                _out(f"status reads, {args.clients} clients for {status_seconds} s ...")
                status = api_load(
                    port=port,
                    setup=setup,
                    clients=args.clients,
                    seconds=status_seconds,
                    warmup=args.warmup,
                    stop=stop,
                    phase="status",
                    server_pid=server.pid,
                )
            server_stop(server)
            _out("ledger_check ...")
            checked = ledger_check(env=env)
            pg = simple = None
            if not args.skip_pgbench:
                _out(f"pgbench, {args.clients} clients for {args.seconds} s, twice ...")
                pg = pgbench_run(clients=args.clients, seconds=args.seconds, workdir=workdir)
                simple = pgbench_simple_update(clients=args.clients, seconds=args.seconds)
            report(
                args=args, api=api, status=status, pg=pg, simple=simple, checked=checked, load=load
            )
            if api.errors and log.exists():
                _out("gunicorn log (tail):")
                _out("\n".join(log.read_text(errors="replace").splitlines()[-20:]))
        except KeyboardInterrupt:
            stop.set()
            _out("interrupted; cleaning up")
        except subprocess.CalledProcessError as exc:
            _out(f"failed: {' '.join(map(str, exc.cmd))}\n{exc.stdout}\n{exc.stderr}")
            raise SystemExit(1) from exc
        finally:
            stop.set()
            if server is not None:
                server_stop(server)
            if redis is not None:
                server_stop(redis)
            database_drop()
            _psql(f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
