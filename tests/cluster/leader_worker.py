"""A candidate process for the leader-election tests: one `LeaderElector` with short timings.

It appends `<identity> started <time>` to `--out` on start and `<identity> leading <time>` when it
becomes leader (wall-clock seconds, flushed and fsynced, so the lines survive `kill -9`), renews until it is
killed, and releases the Lease on SIGTERM. Run: `python leader_worker.py --kubeconfig K --namespace N
--name LEASE --out FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from headwater.runtime.kube import connect
from headwater.runtime.leader import LeaderElector, LeadershipLost


def note(out: Path, identity: str, event: str) -> None:
    with out.open("a", encoding="utf-8") as handle:
        handle.write(f"{identity} {event} {time.time():.6f}\n")
        handle.flush()
        os.fsync(handle.fileno())


async def main(args: argparse.Namespace) -> int:
    kube = connect(args.kubeconfig, user_agent="headwater-leader-worker")
    elector = LeaderElector(kube, args.namespace, args.name, lease_duration=args.lease,
                            renew_deadline=args.renew, retry_period=args.retry)
    out = Path(args.out)
    note(out, elector.identity, "started")

    async def lead() -> None:
        note(out, elector.identity, "leading")

    releasing: list[asyncio.Task[bool]] = []  # keep a reference to the task the handler starts
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGTERM, lambda: releasing.append(asyncio.ensure_future(elector.release())))
    try:
        await elector.run(lead, lambda: note(out, elector.identity, "stopped"))
    except LeadershipLost:
        return 1
    finally:
        await kube.close()
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--lease", type=float, default=4.0)
    parser.add_argument("--renew", type=float, default=3.0)
    parser.add_argument("--retry", type=float, default=0.5)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
