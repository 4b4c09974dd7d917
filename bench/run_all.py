"""Every benchmark scenario of issue #8 in sequence, each on a fresh local control plane: one command.

    .venv/bin/python bench/run_all.py --count 100 --record   # all scenarios; rows into docs/benchmarks.md

In order: scale (N pairs to Ready, the unchanged re-reconcile, then the bare-SSA limit on the same
control plane; bench/kustomizations.py), latency (push → applied over `--pushes` commits, annotation
and interval triggers; bench/latency.py), idle (N pairs at `interval: 1m` left alone for `--minutes`;
bench/idle.py). Each scenario prints its table; `--record` appends one dated section per scenario to
docs/benchmarks.md with the machine, the versions and this exact command. `--profile DIR` attaches
py-spy to the controllers of the scale and idle runs and prints their hot functions (not recorded).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import idle
import kustomizations
import latency

SCENARIOS = ("scale", "latency", "idle")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=100, help="N for the scale and idle scenarios")
    p.add_argument("--idle-count", type=int, help="N for the idle scenario (default: --count)")
    p.add_argument("--concurrent", type=int, help="--concurrent of both controllers in the scale run (default: 2 / 4)")
    p.add_argument("--limit-concurrency", default="8,32,64", help="bare-loop concurrencies to try")
    p.add_argument("--pushes", type=int, default=50, help="commits pushed per latency trigger")
    p.add_argument("--trigger", default="annotation,interval", help="latency triggers")
    p.add_argument("--interval", default="10s", help="the objects' interval for the interval trigger")
    p.add_argument("--minutes", type=float, default=10.0, help="the idle window")
    p.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {', '.join(SCENARIOS)}")
    p.add_argument("--cluster", help="use this running dev cluster for every scenario instead of fresh ones")
    p.add_argument("--profile", metavar="DIR", type=lambda d: Path(d).resolve(),
                   help="py-spy profiles of the controllers (scale, idle) into DIR; profiled runs are not recorded")
    p.add_argument("--record", action="store_true", help="append each scenario's result to docs/benchmarks.md")
    return p


async def run_all(args: argparse.Namespace) -> None:
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    took: list[tuple[str, float]] = []
    for scenario in chosen:
        print(f"\n=== {scenario} ===", flush=True)
        started = time.monotonic()
        if scenario == "scale":
            await kustomizations.run(args)
        elif scenario == "latency":
            await latency.run(args)
        else:
            await idle.run(argparse.Namespace(**{**vars(args), "count": args.idle_count or args.count}))
        took.append((scenario, time.monotonic() - started))
    print("\n" + ", ".join(f"{s} took {t:.0f} s" for s, t in took))


def main() -> None:
    asyncio.run(run_all(parser().parse_args()))


if __name__ == "__main__":
    main()
