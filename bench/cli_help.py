"""How long `headwater --help` (and a subcommand's help) takes, start to exit, as a user runs it.

The CLI promises to feel instant (under 150 ms for `headwater --help` on a 2-core machine): subcommands are
imported lazily, so help must not pay for the runtime, aiohttp or rich. Each command is run `--runs` times
as a fresh process through the venv's `headwater` entry point (the console script a user types), after
two warm-up runs so the page cache is hot, and the min / median / p95 / max wall times are reported.

    .venv/bin/python bench/cli_help.py [--runs 30] [--record]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (["--help"], ["get", "--help"], ["create", "source", "git", "--help"], ["version", "--client"])
TARGET_SECONDS = 0.150


def entry_point() -> str:
    candidate = Path(sys.executable).with_name("headwater")
    return str(candidate) if candidate.exists() else "headwater"


def time_command(args: list[str], runs: int) -> list[float]:
    command = [entry_point(), *args]
    for _ in range(2):
        subprocess.run(command, capture_output=True, check=False)
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        seconds.append(time.perf_counter() - started)
    return seconds


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--record", action="store_true", help="append the result to docs/benchmarks.md")
    args = parser.parse_args()
    rows = []
    for command in COMMANDS:
        seconds = time_command(command, args.runs)
        rows.append((" ".join(["headwater", *command]), min(seconds), statistics.median(seconds),
                     percentile(seconds, 0.95), max(seconds)))
    header = "| command | min | median | p95 | max |\n|---|---:|---:|---:|---:|\n"
    table = header + "".join(f"| `{c}` | " + " | ".join(f"{v * 1000:.0f} ms" for v in values) + " |\n"
                             for c, *values in rows)
    print(table)
    help_median = rows[0][2]
    verdict = "meets" if help_median < TARGET_SECONDS else "misses"
    print(f"`headwater --help` median {help_median * 1000:.0f} ms {verdict} the {TARGET_SECONDS * 1000:.0f} ms target")
    if args.record:
        machine = f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
        with (ROOT / "docs" / "benchmarks.md").open("a") as handle:
            handle.write(f"\n## CLI start-up ({datetime.now(UTC):%Y-%m-%d})\n\n"
                         f"Machine: {machine}. Command: `.venv/bin/python bench/cli_help.py --runs {args.runs} "
                         f"--record`; {args.runs} fresh processes per command after 2 warm-ups.\n\n{table}\n"
                         f"`headwater --help` median {help_median * 1000:.0f} ms: {verdict} the "
                         f"{TARGET_SECONDS * 1000:.0f} ms target.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
