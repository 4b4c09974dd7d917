"""Git server faults: down, slow, HTTP 500, truncated packs. The last good artifact stays served, nothing
is pruned, and once the server heals everything converges on the new revision.

The source and kustomize controllers run as processes; the GitRepository (basic auth, the password a
planted canary the secrets scan looks for) reads the real `git http-backend` through `FaultyGit`. For
each fault: a new revision is committed (it drops some of the applied objects and adds others), the
fault switched on, a reconcile requested. Expected: the GitRepository Ready=False and FetchFailed with
reason GitOperationFailed and a message naming the URL and what went wrong (no traceback, no secret);
its artifact unchanged and still downloadable with its digest; every Kustomization still Ready at the
old revision with all of its objects (nothing pruned). Then the fault heals and every Kustomization
converges on the new revision with inventory == labelled objects == the revision's objects.

CI runs each fault once; `HEADWATER_FAULT_GIT_ROUNDS=N` repeats the list.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import HttpAuth
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient
from tests.cluster import faultkit
from tests.cluster.faultkit import ArtifactWatch, Figures, Workload, desired, expected, owned, wait_until
from tests.cluster.gitfaults import Fault, FaultyGit
from tests.integration.conftest import HttpFactory
from tests.secrets_scan import PlantSecret

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ROUNDS = int(os.environ.get("HEADWATER_FAULT_GIT_ROUNDS", "1"))
SEED = int(os.environ.get("HEADWATER_FAULT_SEED", "12"))
TIMEOUT = 2.0  # the GitRepository's spec.timeout; a slow answer comes after 2.5 times that

# fault → what the Ready message must say besides the URL
FAULTS: dict[Fault, str] = {
    Fault("down"): "connection refused",
    Fault("slow", "refs"): "timed out",
    Fault("slow", "pack"): "timed out",
    Fault("error", "refs"): "500",
    Fault("error", "pack"): "500",
    Fault("truncate", "pack"): "ended early",
    Fault("cut", "pack"): "broke in the middle of the response",
}


async def test_git_server_faults_keep_the_last_artifact_and_prune_nothing(
    kube: KubeClient, cluster_info: ClusterInfo, namespace: str, flux_crds: list[str],
    repo_builder: RepoBuilder, git_http_factory: HttpFactory, repo_name: str, tmp_path: Path,
    plant_secret: PlantSecret,
) -> None:
    password = plant_secret("Git password of the fault suite")
    server = git_http_factory(auth=HttpAuth.basic("git", password))
    rng = random.Random(SEED)
    repo = repo_builder.create(repo_name, None)
    figures = Figures("Git server faults", SEED)
    async with FaultyGit(server.base_url, delay=2.5 * TIMEOUT) as git:
        url = git.url(repo_name)
        workload = Workload(kube, namespace, repo, url, timeout=f"{TIMEOUT:.0f}s",
                            secret={"username": "git", "password": password})
        want = desired(rng)
        revision = await workload.create(want)
        watch = ArtifactWatch(workload)
        messages: list[str] = []
        failed_requests = 0
        async with workload.controllers(cluster_info.kubeconfig, tmp_path), watch.running():
            await workload.converged(revision, "the first revision")
            for round_ in range(ROUNDS):
                for fault, phrase in FAULTS.items():
                    label = f"round {round_}, {fault}"
                    good = (await workload.source())["status"]["artifact"]
                    new_want = desired(rng)
                    new_revision = await workload.commit(new_want)
                    injected = git.injected
                    await git.set(fault)
                    await workload.request_reconcile()
                    stamp = workload.last_request
                    repo_obj = await wait_until(lambda s=stamp: workload.failed_after(s),  # type: ignore[misc]
                                                f"{label}: GitRepository Ready=False", timeout=60)
                    figures.faults += 1
                    failed_requests += git.injected - injected
                    conditions = repo_obj["status"]["conditions"]
                    message = cond.get_message(conditions, "Ready")
                    messages.append(f"{fault}: {cond.get_reason(conditions, 'Ready')}: {message}")
                    figures.problems += check_failure(label, repo_obj, url, phrase, password)
                    if repo_obj["status"]["artifact"] != good:
                        figures.problems.append(f"{label}: the artifact changed: {repo_obj['status']['artifact']}")
                    if not await faultkit.served(good["url"], good["digest"]):
                        figures.problems.append(f"{label}: the last good artifact is not served")
                    items = await workload.applied(revision)  # still Ready at the old revision ...
                    if items is None:
                        figures.problems.append(f"{label}: a Kustomization left the old revision")
                    found = await owned(kube, namespace)  # ... and nothing of it pruned
                    for k in want:
                        have = found.get(f"ks{k}", set())
                        figures.objects_checked += len(expected(want, k))
                        figures.lost += [f"{label}: ks{k}: {o}" for o in expected(want, k) - have]
                    await git.set(Fault("pass"))
                    await workload.request_reconcile()
                    want, revision = new_want, new_revision
                    items = await workload.converged(revision, f"{label}: convergence after healing")
                    await workload.check(items, want, figures, label)
                    figures.iterations += 1
            untouched = await workload.bystander_untouched()
    figures.report(watch.summary() + f", {failed_requests} requests failed by the proxy")
    print("\n".join(["messages:", *messages]))
    assert (figures.problems, figures.lost, figures.orphans) == ([], [], [])
    assert watch.bad == []
    assert untouched
    assert figures.faults == len(FAULTS) * ROUNDS


def check_failure(label: str, repo: dict[str, Any], url: str, phrase: str, password: str) -> list[str]:
    """Ready=False and FetchFailed, reason GitOperationFailed, a message naming the URL and the fault."""
    conditions = repo["status"]["conditions"]
    problems = []
    for kind in ("Ready", "FetchFailed"):
        found = cond.get(conditions, kind) or {}
        want_status = "False" if kind == "Ready" else "True"
        message = str(found.get("message", ""))
        if (found.get("status"), found.get("reason")) != (want_status, "GitOperationFailed"):
            problems.append(f"{label}: {kind} is {found.get('status')}/{found.get('reason')}: {message}")
        if url not in message or phrase.lower() not in message.lower():
            problems.append(f"{label}: {kind} message names neither {url} nor {phrase!r}: {message}")
        if "Traceback" in message or 'File "' in message or password in message:
            problems.append(f"{label}: {kind} message leaks internals: {message}")
    return problems
