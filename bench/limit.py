"""The apiserver's own limit: the scale scenario's writes by a bare async server-side-apply loop.

No build, no Git, no health checks, no caches: N namespaces, the 4·N objects of the scale scenario's
apps (Deployment replicas 0, ServiceAccount, Service, ConfigMap) and N Kustomization status writes,
applied with our Kubernetes client as fast as the control plane takes them. Each unit is one app:
its namespace, then its four objects at once, then its status write; the concurrency bounds requests
in flight. Several concurrencies are tried (each on fresh names, so none is a no-op) and the best is
the limit headwater's time to Ready is divided by. The Kustomizations the status writes go to are
created beforehand (untimed), suspended, with a label no controller of the run watches.

    .venv/bin/python bench/limit.py --count 100 [--concurrency 8,32,64] [--cluster NAME]

`bench/kustomizations.py` runs this in the same run, on the same control plane, after its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    KS_API,
    app_files,
    bounded,
    control_plane,
    delete_namespaces,
    markdown_table,
    prepare,
    stamp,
)
from headwater.runtime.kube import KubeClient

FIELD_MANAGER = "bench-limit"
ISOLATED = {"headwater.dev/isolated": "true", "headwater.dev/bench-limit": "true"}


@dataclass
class LimitFigures:
    count: int
    seconds: dict[int, float] = field(default_factory=dict)  # concurrency → wall time
    writes: int = 0  # writes per try

    @property
    def best(self) -> tuple[int, float]:
        return min(self.seconds.items(), key=lambda item: item[1])


def app_objects(name: str, namespace: str) -> list[dict[str, Any]]:
    objects = [yaml.safe_load(text) for text in app_files(name).values()]
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


async def measure(kube: KubeClient, count: int, concurrencies: tuple[int, ...] = (8, 32, 64),
                  cleanup: bool = True) -> LimitFigures:
    await prepare(kube)
    run = stamp()
    home = f"bench-limit-{run}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": home, "labels": ISOLATED}})
    names = [f"app-{i:04d}" for i in range(count)]
    await bounded([lambda n=n: kube.create({  # type: ignore[misc]
        "apiVersion": KS_API, "kind": "Kustomization", "metadata": {"name": n, "namespace": home, "labels": ISOLATED},
        "spec": {"interval": "1h", "path": "./", "prune": True, "suspend": True,
                 "sourceRef": {"kind": "GitRepository", "name": n}}}) for n in names], 16)
    figures = LimitFigures(count, writes=count * 6)
    created: list[str] = []
    try:
        for concurrency in concurrencies:
            targets = [f"{home}-c{concurrency}-{i:04d}" for i in range(count)]
            created += targets
            figures.seconds[concurrency] = await one_try(kube, home, names, targets, concurrency)
    finally:
        if cleanup:
            await delete_namespaces(kube, [home, *created])
    return figures


async def one_try(kube: KubeClient, home: str, names: list[str], targets: list[str], concurrency: int) -> float:
    """Every unit at once, at most `concurrency` requests in flight; the wall time."""
    gate = asyncio.Semaphore(concurrency)
    revision = f"try-{concurrency}"
    condition = {"type": "Ready", "status": "True", "reason": "Succeeded", "message": f"Applied revision: {revision}",
                 "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}

    async def write(obj: dict[str, Any], subresource: str | None = None) -> None:
        async with gate:
            await kube.apply(obj, field_manager=FIELD_MANAGER, force=True, subresource=subresource)

    async def unit(name: str, target: str) -> None:
        await write({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target, "labels": ISOLATED}})
        await asyncio.gather(*(write(o) for o in app_objects(name, target)))
        await write({"apiVersion": KS_API, "kind": "Kustomization", "metadata": {"name": name, "namespace": home},
                     "status": {"observedGeneration": 1, "lastAppliedRevision": revision, "conditions": [condition]}},
                    "status")

    started = time.monotonic()
    await asyncio.gather(*(unit(n, t) for n, t in zip(names, targets, strict=True)))
    return time.monotonic() - started


def rows(f: LimitFigures) -> list[tuple[str, str]]:
    tries = ", ".join(f"{c}: {s:.1f} s" for c, s in f.seconds.items())
    best_c, best_s = f.best
    return [(f"bare SSA loop, same writes ({f.count} namespaces, {4 * f.count} objects, {f.count} status writes)",
             f"**{best_s:.1f} s** at concurrency {best_c}"),
            ("  each concurrency tried", tries)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrency", default="8,32,64", help="comma-separated concurrencies to try")
    parser.add_argument("--cluster", help="use this running dev cluster instead of starting one")
    args = parser.parse_args()
    async with control_plane("bench-limit", args.cluster) as (_, kube):
        figures = await measure(kube, args.count, tuple(int(c) for c in args.concurrency.split(",")),
                                cleanup=bool(args.cluster))
    print(markdown_table(rows(figures)))


if __name__ == "__main__":
    asyncio.run(main())
