"""The fault suite for apply and prune: kill -9 the kustomize controller mid-work, restart, check.

On the real control plane, `headwater controller kustomize` runs as a child process (as in
production and in `bench/harness.py`). Each iteration publishes a new source revision in which every
Kustomization gains and loses objects (ConfigMaps, and Secrets and ServiceAccounts that come and go
as whole kinds, so both apply and prune have work), waits a random moment from a seeded schedule
(within the time an undisturbed revision takes), kills the process with SIGKILL, publishes another
revision while it is down (Git moves on: what was just created may be gone again), restarts it and
waits for convergence. Then, for every Kustomization:
Ready at the new revision, its inventory equals the set of cluster objects carrying its owner labels
equals what the revision holds (no orphan, nothing lost), and an unlabelled bystander is untouched.

CI runs 10 iterations (about a minute); `HEADWATER_FAULT_ITERATIONS=100` is the nightly size and
`HEADWATER_FAULT_SEED` replays a schedule. The figures of the last runs are in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from headwater.artifact.server import create_app
from headwater.artifact.storage import Storage
from headwater.devcluster.cluster import ClusterInfo
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient
from tests.unit.reconcile.artifacts import Shelf
from tests.waiting import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import harness  # type: ignore[import-not-found]  # bench/ is not a package

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

KS_API = "kustomize.toolkit.fluxcd.io/v1"
SRC_API = "source.toolkit.fluxcd.io/v1"
ITERATIONS = int(os.environ.get("HEADWATER_FAULT_ITERATIONS", "10"))
SEED = int(os.environ.get("HEADWATER_FAULT_SEED", "12"))
KUSTOMIZATIONS = 3
KINDS = {"ConfigMap": "v1", "Secret": "v1", "ServiceAccount": "v1"}
POOL = [("ConfigMap", f"c{i}") for i in range(6)] + [("Secret", "s0"), ("Secret", "s1"), ("ServiceAccount", "sa0")]
ISOLATED = "headwater.dev/isolated"  # the suite's in-process controllers leave these objects alone


def manifest(kind: str, name: str, namespace: str, marker: int) -> str:
    body = {"ConfigMap": f"data: {{rev: '{marker}'}}\n", "Secret": f"stringData: {{rev: '{marker}'}}\n",
            "ServiceAccount": ""}[kind]
    return f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}, namespace: {namespace}}}\n{body}"


@dataclass
class Figures:
    iterations: int = 0
    kills: int = 0
    kills_mid_work: int = 0  # the kill landed before every Kustomization had applied the revision
    objects_checked: int = 0
    lost: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)


@pytest.fixture
async def shelf(tmp_path: Path) -> AsyncIterator[Shelf]:
    (tmp_path / "artifacts").mkdir()
    runner = web.AppRunner(create_app(tmp_path / "artifacts"))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield Shelf(Storage(tmp_path / "artifacts", f"127.0.0.1:{runner.addresses[0][1]}"))
    await runner.cleanup()


@pytest.fixture
async def controller(cluster_info: ClusterInfo, namespace: str, flux_crds: list[str],
                     tmp_path: Path) -> AsyncIterator[harness.ControllerProcess]:
    process = harness.ControllerProcess("kustomize", cluster_info.kubeconfig, tmp_path,
                                        label_selector=f"{ISOLATED}={namespace}")
    await process.start()
    yield process
    await process.stop()


async def kill(process: harness.ControllerProcess) -> None:
    assert process.process is not None
    process.process.kill()  # SIGKILL: no shutdown, no status write, nothing flushed
    await asyncio.to_thread(process.process.wait, 30)


def desired(rng: random.Random, marker: int) -> dict[int, set[tuple[str, str]]]:
    return {k: {(kind, f"k{k}-{name}") for kind, name in POOL if rng.random() < 0.5} for k in range(KUSTOMIZATIONS)}


def files_of(want: dict[int, set[tuple[str, str]]], namespace: str, marker: int) -> dict[str, str]:
    files = {f"ks{k}/{kind}-{name}.yaml": manifest(kind, name, namespace, marker)
             for k, objects in want.items() for kind, name in objects}
    # kustomize needs something to build: an empty directory is a build error
    files |= {f"ks{k}/keep.yaml": manifest("ConfigMap", f"k{k}-keep", namespace, 0) for k in want}
    return files


async def publish(kube: KubeClient, shelf: Shelf, namespace: str, files: dict[str, str]) -> str:
    artifact = shelf.publish(files)
    repo = await kube.get(SRC_API, "GitRepository", "repo", namespace)
    await kube.patch_status(repo, {"artifact": artifact, "observedGeneration": 1, "conditions": [{
        "type": "Ready", "status": "True", "reason": "Succeeded", "message": "stored",
        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}]})
    return str(artifact["revision"])


async def applied(kube: KubeClient, namespace: str, revision: str) -> list[dict[str, Any]] | None:
    items = (await kube.list(KS_API, "Kustomization", namespace)).get("items", [])
    done = [ks for ks in items if (ks.get("status") or {}).get("lastAppliedRevision") == revision
            and cond.is_true((ks.get("status") or {}).get("conditions") or [], "Ready")]
    return items if len(done) == KUSTOMIZATIONS else None


async def owned(kube: KubeClient, namespace: str) -> dict[str, set[tuple[str, str]]]:
    """Objects per owner-label name (the Kustomization), as (kind, name)."""
    found: dict[str, set[tuple[str, str]]] = {}
    for kind, api_version in KINDS.items():
        for item in (await kube.list(api_version, kind, namespace)).get("items", []):
            labels = item["metadata"].get("labels") or {}
            owner = labels.get("kustomize.toolkit.fluxcd.io/name")
            if owner is not None and labels.get("kustomize.toolkit.fluxcd.io/namespace") == namespace:
                found.setdefault(owner, set()).add((kind, item["metadata"]["name"]))
    return found


def check(items: list[dict[str, Any]], found: dict[str, set[tuple[str, str]]],
          want: dict[int, set[tuple[str, str]]], figures: Figures) -> list[str]:
    problems = []
    for ks in items:
        name = ks["metadata"]["name"]
        k = int(name.removeprefix("ks"))
        expected = want[k] | {("ConfigMap", f"k{k}-keep")}
        entries = ks["status"]["inventory"]["entries"]
        inventory = {(e["id"].split("_")[3], e["id"].split("_")[1]) for e in entries}
        labelled = found.get(name, set())
        figures.objects_checked += len(expected | labelled | inventory)
        figures.lost += [f"{name}: {o}" for o in expected - labelled]
        figures.orphans += [f"{name}: {o}" for o in labelled - expected]
        if not inventory == labelled == expected:
            problems.append(f"{name}: inventory {sorted(inventory)} labelled {sorted(labelled)} "
                            f"desired {sorted(expected)}")
    return problems


async def test_kill_9_during_apply_and_prune_leaves_no_orphan_and_loses_nothing(
    kube: KubeClient, namespace: str, shelf: Shelf, controller: harness.ControllerProcess,
) -> None:
    rng = random.Random(SEED)
    labels = {ISOLATED: namespace}
    await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "data": {"keep": "me"},
                       "metadata": {"name": "bystander", "namespace": namespace}})
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace, "labels": labels},
                       "spec": {"url": "https://git.example.invalid/repo.git", "interval": "10m", "suspend": True}})
    want = desired(rng, 0)
    revision = await publish(kube, shelf, namespace, files_of(want, namespace, 0))
    for k in range(KUSTOMIZATIONS):
        await kube.create({"apiVersion": KS_API, "kind": "Kustomization",
                           "metadata": {"name": f"ks{k}", "namespace": namespace, "labels": labels},
                           "spec": {"interval": "10m", "retryInterval": "2s", "path": f"./ks{k}", "prune": True,
                                    "sourceRef": {"kind": "GitRepository", "name": "repo"}}})
    await wait_for(lambda: applied(kube, namespace, revision), "the first revision applied", timeout=60)
    # how long one revision takes to apply and prune, undisturbed: kills are scheduled within it
    took = time.monotonic()
    revision = await publish(kube, shelf, namespace, files_of(desired(rng, 0), namespace, 1))
    await wait_for(lambda: applied(kube, namespace, revision), "an undisturbed revision", timeout=60, interval=0.02)
    window = time.monotonic() - took

    figures = Figures()
    started = time.monotonic()
    problems: list[str] = []
    for marker in range(2, 2 * ITERATIONS + 2, 2):
        # a revision is being applied and pruned when the process is killed ...
        revision = await publish(kube, shelf, namespace, files_of(desired(rng, marker), namespace, marker))
        await asyncio.sleep(rng.uniform(0, window))
        mid_work = await applied(kube, namespace, revision) is None
        await kill(controller)
        figures.kills += 1
        figures.kills_mid_work += mid_work
        # ... and while it is down, Git moves on: what it had just created may be gone again
        want = desired(rng, marker + 1)
        revision = await publish(kube, shelf, namespace, files_of(want, namespace, marker + 1))
        await controller.start()
        items = await wait_for(lambda rev=revision: applied(kube, namespace, rev),  # type: ignore[misc]
                               f"convergence after kill {marker}", timeout=90)
        assert items is not None
        problems += [f"iteration {marker}: {p}" for p in check(items, await owned(kube, namespace), want, figures)]
        figures.iterations += 1
    bystander = await kube.get("v1", "ConfigMap", "bystander", namespace)
    print(f"\nfault suite: seed {SEED}, {figures.iterations} iterations, {figures.kills} kill -9 "
          f"({figures.kills_mid_work} mid-work), {figures.objects_checked} objects checked, "
          f"lost {len(figures.lost)}, orphans {len(figures.orphans)}, {time.monotonic() - started:.0f}s",
          file=sys.stderr)
    assert (problems, figures.lost, figures.orphans) == ([], [], [])
    assert bystander["data"] == {"keep": "me"}
    assert figures.kills_mid_work > 0, "no kill landed during apply or prune: the schedule is too slow"
