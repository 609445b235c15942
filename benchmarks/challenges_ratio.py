"""The sale path with two live challenges against without (issue 12: "earn_api.py
with two active challenges stays >= 85% of its figure without").

    .venv/bin/python benchmarks/challenges_ratio.py [--pairs 3] [--seconds 30]

Runs earn_api.py in pairs, without and then with --challenges, one after the
other so that both runs of a pair meet the same machine, and prints each run's
purchases/s and CPU per purchase (the gunicorn workers' and PostgreSQL's),
each pair's ratio, and the median of the ratios by throughput and by CPU.
The CPU ratio moves less with whatever else the machine runs; on a shared
machine read both, with the load average printed beside each run.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Run:
    rate: float
    worker_ms: float
    postgres_ms: float
    errors: str
    ledger: str
    load: str

    @property
    def cpu_ms(self) -> float:
        return self.worker_ms + self.postgres_ms


def _figure(output: str, label: str) -> str:
    """The value earn_api.py prints after `label` in its report (the last such
    line: "ledger_check ..." is also a progress line before it)."""
    found = re.findall(rf"^\s*{re.escape(label)}\s+(.+)$", output, flags=re.MULTILINE)
    if not found:
        raise RuntimeError(f"earn_api.py printed no {label!r}:\n{output[-2000:]}")
    return found[-1].strip()


def earn_run(*, challenges: bool, seconds: int) -> Run:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "earn_api.py"),
        *("--seconds", str(seconds)),
        "--skip-pgbench",
        *("--status-seconds", "0"),
        *(["--challenges"] if challenges else []),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    out = result.stdout
    return Run(
        rate=float(_figure(out, "API purchases/s")),
        worker_ms=float(_figure(out, "server CPU per purchase (ms)")),
        postgres_ms=float(_figure(out, "PostgreSQL CPU per purchase (ms)")),
        errors=_figure(out, "API errors (non-2xx)"),
        ledger=_figure(out, "ledger_check"),
        load=load,
    )


def _line(name: str, run: Run) -> str:
    return (
        f"  {name:<16} {run.rate:7.1f} purchases/s  CPU {run.worker_ms:5.2f} + "
        f"{run.postgres_ms:5.2f} ms  errors {run.errors}  "
        f"ledger {run.ledger.split(':')[0]}  load before {run.load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="pairs of runs (3)")
    parser.add_argument("--seconds", type=int, default=30, help="measured seconds per run (30)")
    args = parser.parse_args()
    by_rate, by_cpu = [], []
    for pair in range(1, args.pairs + 1):
        without = earn_run(challenges=False, seconds=args.seconds)
        with_them = earn_run(challenges=True, seconds=args.seconds)
        by_rate.append(with_them.rate / without.rate)
        by_cpu.append(without.cpu_ms / with_them.cpu_ms)
        print(f"pair {pair}:", flush=True)
        print(_line("without", without))
        print(_line("2 challenges", with_them))
        print(f"  ratio: {by_rate[-1]:.1%} by purchases/s, {by_cpu[-1]:.1%} by CPU per purchase")
    rate, cpu = statistics.median(by_rate), statistics.median(by_cpu)
    print(f"median of {args.pairs} pairs: {rate:.1%} by purchases/s, {cpu:.1%} by CPU per purchase")
    print(f"goal (>= 85% by purchases/s): {'met' if rate >= 0.85 else 'NOT met'}")


if __name__ == "__main__":
    main()
