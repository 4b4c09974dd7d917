"""What the fault suites share: a real Git repository, the source and kustomize controllers as processes,
three pruning Kustomizations, and the checks that say whether a fault lost or orphaned anything.

Every fault family (kill -9 of a controller, apiserver or etcd restart, Git server faults, full artifact
storage) runs the same workload: one GitRepository served by the real `git http-backend`, three
Kustomizations on paths of it that gain and lose ConfigMaps, Secrets and ServiceAccounts from commit to
commit (whole kinds come and go, so apply and prune both have work), and an unlabelled bystander
ConfigMap. After the fault heals, `Workload.check` asserts for every Kustomization: Ready at the newest
revision, its `status.inventory` equals the cluster objects carrying its owner labels equals what the
revision holds. `ArtifactWatch` meanwhile downloads whatever artifact the GitRepository's status names
and checks its digest, so a half-written or missing artifact served at any moment is caught.

Objects carry `headwater.dev/isolated` and `headwater.dev/isolated-source`, which the suite's in-process
controllers leave alone; the controllers started here watch only the test's own label value.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from headwater.devcluster.gitrepos import Repo
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient
from headwater.runtime.kube.errors import ApiError, ClusterUnreachable

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import harness  # type: ignore[import-not-found]  # bench/ is not a package

ControllerProcess = harness.ControllerProcess  # `headwater controller NAME` as a child process

KS_API = "kustomize.toolkit.fluxcd.io/v1"
SRC_API = "source.toolkit.fluxcd.io/v1"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
KUSTOMIZATIONS = 3
KINDS = {"ConfigMap": "v1", "Secret": "v1", "ServiceAccount": "v1"}
POOL = [("ConfigMap", f"c{i}") for i in range(6)] + [("Secret", "s0"), ("Secret", "s1"), ("ServiceAccount", "sa0")]
ISOLATED = "headwater.dev/isolated"  # the suite's in-process kustomize (and helm) controllers skip these
ISOLATED_SOURCE = "headwater.dev/isolated-source"  # and its in-process source controller skips these
# Retries stay short, so recovery is measured in seconds rather than in a backoff grown during the fault.
FAST_RETRIES = ("--min-retry-delay", "200ms", "--max-retry-delay", "2s")

Desired = dict[int, set[tuple[str, str]]]
T = TypeVar("T")


# --------------------------------------------------------------------------- what a revision holds


def manifest(kind: str, name: str, namespace: str, marker: int) -> str:
    body = {"ConfigMap": f"data: {{rev: '{marker}'}}\n", "Secret": f"stringData: {{rev: '{marker}'}}\n",
            "ServiceAccount": ""}[kind]
    return f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}, namespace: {namespace}}}\n{body}"


def desired(rng: random.Random) -> Desired:
    """A random half of the pool for each Kustomization (names prefixed by its index)."""
    return {k: {(kind, f"k{k}-{name}") for kind, name in POOL if rng.random() < 0.5} for k in range(KUSTOMIZATIONS)}


def files_of(want: Desired, namespace: str, marker: int) -> dict[str, str]:
    files = {f"ks{k}/{kind}-{name}.yaml": manifest(kind, name, namespace, marker)
             for k, objects in want.items() for kind, name in objects}
    # kustomize needs something to build: an empty directory is a build error
    files |= {f"ks{k}/keep.yaml": manifest("ConfigMap", f"k{k}-keep", namespace, 0) for k in want}
    return files


def expected(want: Desired, k: int) -> set[tuple[str, str]]:
    return want[k] | {("ConfigMap", f"k{k}-keep")}


# --------------------------------------------------------------------------- figures and checks


@dataclass
class Figures:
    """What one fault family did and found; printed as one line and copied into docs/reliability.md."""

    family: str
    seed: int
    iterations: int = 0
    faults: int = 0
    mid_work: int = 0  # the fault landed before every Kustomization had applied the revision
    objects_checked: int = 0
    lost: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def report(self, extra: str = "") -> str:
        line = (f"\nfault suite [{self.family}]: seed {self.seed}, {self.iterations} iterations, {self.faults} faults "
                f"({self.mid_work} mid-work), {self.objects_checked} objects checked, lost {len(self.lost)}, "
                f"orphans {len(self.orphans)}{extra}, {time.monotonic() - self.started:.0f}s")
        print(line, file=sys.stderr)
        return line


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


def check(items: list[dict[str, Any]], found: dict[str, set[tuple[str, str]]], want: Desired,
          figures: Figures) -> list[str]:
    """Inventory == labelled objects == the revision's objects, per Kustomization; the differences."""
    problems = []
    for ks in items:
        name = ks["metadata"]["name"]
        k = int(name.removeprefix("ks"))
        wanted = expected(want, k)
        entries = ks["status"]["inventory"]["entries"]
        inventory = {(e["id"].split("_")[3], e["id"].split("_")[1]) for e in entries}
        labelled = found.get(name, set())
        figures.objects_checked += len(wanted | labelled | inventory)
        figures.lost += [f"{name}: {o}" for o in wanted - labelled]
        figures.orphans += [f"{name}: {o}" for o in labelled - wanted]
        if not inventory == labelled == wanted:
            problems.append(f"{name}: inventory {sorted(inventory)} labelled {sorted(labelled)} "
                            f"desired {sorted(wanted)}")
    return problems


async def patiently(call: Callable[[], Awaitable[T]], what: str, timeout: float = 60.0) -> T:
    """`call()`, retried while the apiserver is unreachable or answers 5xx (it is being restarted)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()
        except (ClusterUnreachable, TimeoutError, aiohttp.ClientError) as err:
            problem: Exception = err
        except ApiError as err:
            if err.status < 500 and err.status != 429:
                raise
            problem = err
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: the apiserver did not answer within {timeout:.0f}s: {problem}")
        await asyncio.sleep(0.2)


async def wait_until(probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = 90.0,
                     interval: float = 0.1) -> T:
    """Poll `probe` until truthy; an unreachable apiserver counts as "not yet"."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = await probe()
        except (ClusterUnreachable, TimeoutError, aiohttp.ClientError) as err:
            last = f"apiserver unreachable: {err}"
        except ApiError as err:
            if err.status < 500 and err.status != 429:
                raise
            last = f"apiserver answered {err.status}: {err}"
        if last and not isinstance(last, str):
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")
        await asyncio.sleep(interval)


def ready(obj: dict[str, Any]) -> dict[str, Any] | None:
    return cond.get((obj.get("status") or {}).get("conditions") or [], "Ready")


# --------------------------------------------------------------------------- the workload


class Workload:
    """The GitRepository, three Kustomizations and a bystander in `namespace`, fed by commits to `repo`."""

    def __init__(self, kube: KubeClient, namespace: str, repo: Repo, url: str, *, timeout: str = "60s",
                 secret: dict[str, str] | None = None) -> None:
        self.kube, self.namespace, self.repo, self.url = kube, namespace, repo, url
        self.timeout = timeout
        self.secret = secret
        self.labels = {ISOLATED: namespace, ISOLATED_SOURCE: namespace}
        self.selector = f"{ISOLATED}={namespace}"
        self.marker = 0
        self.last_request = ""

    def controllers(self, kubeconfig: Path, workdir: Path, source_flags: Sequence[str] = ()) -> harness.Controllers:
        """The source and kustomize controllers as processes, watching only this workload; the source
        controller's storage in `workdir/storage`."""
        return harness.Controllers(kubeconfig, workdir, None, label_selector=self.selector, extra=FAST_RETRIES,
                                   source_extra=source_flags)

    async def create(self, want: Desired, extra_files: dict[str, str | bytes] | None = None) -> str:
        """Commit the first revision, create the objects; the revision (`main@sha1:…`)."""
        revision = await self.commit(want, extra_files)
        await self.kube.create({"apiVersion": "v1", "kind": "ConfigMap", "data": {"keep": "me"},
                                "metadata": {"name": "bystander", "namespace": self.namespace}})
        spec: dict[str, Any] = {"url": self.url, "interval": "10m", "timeout": self.timeout,
                                "ref": {"branch": "main"}}
        if self.secret is not None:
            await self.kube.create({"apiVersion": "v1", "kind": "Secret", "stringData": self.secret,
                                    "metadata": {"name": "git-auth", "namespace": self.namespace}})
            spec["secretRef"] = {"name": "git-auth"}
        await self.kube.create({"apiVersion": SRC_API, "kind": "GitRepository", "spec": spec,
                                "metadata": {"name": "repo", "namespace": self.namespace, "labels": self.labels}})
        for k in range(KUSTOMIZATIONS):
            await self.kube.create({"apiVersion": KS_API, "kind": "Kustomization",
                                    "metadata": {"name": f"ks{k}", "namespace": self.namespace, "labels": self.labels},
                                    "spec": {"interval": "10m", "retryInterval": "1s", "path": f"./ks{k}",
                                             "prune": True, "timeout": "30s",
                                             "sourceRef": {"kind": "GitRepository", "name": "repo"}}})
        return revision

    async def commit(self, want: Desired, extra_files: dict[str, str | bytes] | None = None) -> str:
        """A commit holding exactly `want` (and `extra_files`); its revision. Does not wake the source."""
        self.marker += 1
        files: dict[str, str | bytes] = {**files_of(want, self.namespace, self.marker), **(extra_files or {})}
        sha = await asyncio.to_thread(self.repo.commit, files, f"revision {self.marker}", replace=True)
        return f"main@sha1:{sha}"

    async def request_reconcile(self) -> None:
        """Ask the source controller to look at Git now (`flux reconcile source git`)."""
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        self.last_request = stamp
        await patiently(lambda: self.kube.patch(SRC_API, "GitRepository", "repo",
                                                {"metadata": {"annotations": {REQUESTED_AT: stamp}}},
                                                namespace=self.namespace), "requesting a reconcile")

    async def publish(self, want: Desired, extra_files: dict[str, str | bytes] | None = None) -> str:
        revision = await self.commit(want, extra_files)
        await self.request_reconcile()
        return revision

    async def source(self) -> dict[str, Any]:
        return await self.kube.get(SRC_API, "GitRepository", "repo", self.namespace)

    async def kustomizations(self) -> list[dict[str, Any]]:
        return list((await self.kube.list(KS_API, "Kustomization", self.namespace)).get("items", []))

    async def applied(self, revision: str) -> list[dict[str, Any]] | None:
        """The Kustomizations, once every one is Ready at `revision`; else None."""
        items = await self.kustomizations()
        done = [ks for ks in items if (ks.get("status") or {}).get("lastAppliedRevision") == revision
                and cond.is_true((ks.get("status") or {}).get("conditions") or [], "Ready")]
        return items if len(done) == KUSTOMIZATIONS else None

    async def converged(self, revision: str, what: str, timeout: float = 90.0) -> list[dict[str, Any]]:
        return await wait_until(lambda: self.applied(revision), f"{what}: every Kustomization Ready at {revision}",
                                timeout=timeout)

    async def check(self, items: list[dict[str, Any]], want: Desired, figures: Figures, label: str) -> None:
        found = await patiently(lambda: owned(self.kube, self.namespace), "listing owned objects")
        figures.problems += [f"{label}: {p}" for p in check(items, found, want, figures)]

    async def failed_after(self, stamp: str) -> dict[str, Any] | None:
        """The GitRepository, once the reconcile asked for at `stamp` ended with Ready=False."""
        repo = await self.source()
        status = repo.get("status") or {}
        if status.get("lastHandledReconcileAt") == stamp and (ready(repo) or {}).get("status") == "False":
            return repo
        return None

    async def bystander_untouched(self) -> bool:
        bystander = await self.kube.get("v1", "ConfigMap", "bystander", self.namespace)
        return bool(bystander.get("data") == {"keep": "me"})


# --------------------------------------------------------------------------- the served artifact


@dataclass
class ArtifactWatch:
    """Downloads the artifact the GitRepository's status names, again and again, and checks its digest.

    A download refused while the source controller (whose process serves the storage) is down counts as
    `unavailable`, not as a failure; a 404 or a digest mismatch while the status still names that
    artifact is a `bad` serving: the status pointed at a missing or half-written file.
    """

    workload: Workload
    checks: int = 0
    verified: int = 0
    unavailable: int = 0
    superseded: int = 0  # a 404 after the status had moved on to a newer artifact: not a fault
    bad: list[str] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)

    async def once(self, session: aiohttp.ClientSession) -> None:
        try:
            artifact = (await self.workload.source()).get("status", {}).get("artifact")
        except (ClusterUnreachable, ApiError, TimeoutError, aiohttp.ClientError):
            return
        if not artifact:
            return
        self.checks += 1
        try:
            async with session.get(artifact["url"]) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            self.unavailable += 1
            return
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if status == 200 and digest == artifact["digest"]:
            self.verified += 1
            self.digests.add(digest)
            return
        with contextlib.suppress(ClusterUnreachable, ApiError, TimeoutError, aiohttp.ClientError):
            now = (await self.workload.source()).get("status", {}).get("artifact") or {}
            if now.get("digest") != artifact["digest"] and status == 404:
                self.superseded += 1
                return
        self.bad.append(f"{artifact['url']}: HTTP {status}, {len(body)} bytes, digest {digest}, "
                        f"status says {artifact['digest']}")

    @contextlib.asynccontextmanager
    async def running(self, interval: float = 0.05) -> AsyncIterator[ArtifactWatch]:
        async def loop() -> None:
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                while True:
                    await self.once(session)
                    await asyncio.sleep(interval)

        task = asyncio.create_task(loop())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def summary(self) -> str:
        return (f", artifact downloads {self.checks} ({self.verified} digest verified, {self.unavailable} refused "
                f"while down, {self.superseded} superseded, {len(self.bad)} bad)")


async def served(url: str, digest: str) -> bool:
    """Whether `url` answers 200 with bytes of that digest."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status == 200 and "sha256:" + hashlib.sha256(await response.read()).hexdigest() == digest


async def kill(process: harness.ControllerProcess) -> None:
    """SIGKILL: no shutdown, no status write, nothing flushed."""
    assert process.process is not None
    process.process.kill()
    await asyncio.to_thread(process.process.wait, 30)
