"""kill -9 of the helm controller (and its engine) in the middle of upgrades: no release is left locked.

Helm's own weak spot under a crash is the release storage: an upgrade writes `pending-upgrade` first and
`deployed` last, so a controller killed in between leaves a release no later `helm upgrade` accepts
("another operation is in progress") until someone repairs it by hand. Flux's answer, and ours, is to
treat a pending release found at the start of a reconcile as stale (one controller owns a release),
mark it failed (`unlock`) and upgrade again.

`headwater controller helm` runs as a process (its engine a child in the same process group; the whole
group gets SIGKILL, as a container runtime kills a pod); the chart is an ExternalArtifact served by the
session's in-process source controller. Each iteration changes the values, waits a random moment of a
seeded schedule (within the time an undisturbed upgrade takes; a post-upgrade hook Job keeps the release
pending meanwhile), kills the group, looks at what the kill left in the release storage (the real `helm`
CLI), restarts the controller and waits. Afterwards: the
HelmRelease Ready at the new values, the ConfigMap the chart renders holding them, `helm history` ending
in one `deployed` revision with no `pending-*` one anywhere, `status.history` naming that revision, and
at most `maxHistory` release Secrets.

CI runs 6 iterations; `HEADWATER_FAULT_ITERATIONS=100` is the nightly size, `HEADWATER_FAULT_SEED`
replays a schedule. Figures in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.helmtools import HelmTools
from headwater.runtime.kube import KubeClient
from tests.cluster.conftest import RunningSource
from tests.cluster.faultkit import FAST_RETRIES, ISOLATED, ControllerProcess, Figures, wait_until
from tests.cluster.test_helmrelease import HR_API, SRC_API, condition, helm_json, publish_chart
from tests.helm_charts import write_chart

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ITERATIONS = int(os.environ.get("HEADWATER_FAULT_ITERATIONS", "6"))
SEED = int(os.environ.get("HEADWATER_FAULT_SEED", "12"))
MAX_HISTORY = 3


def slow_upgrading_chart(root: Path) -> Path:
    """`write_chart` plus a post-upgrade hook Job: Helm keeps the release `pending-upgrade` until kwok has
    completed it, which widens the window a kill can leave a locked release in."""
    chart = write_chart(root)
    (chart / "templates" / "settle.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: '{{ .Release.Name }}-settle'\n  annotations:\n"
        "    helm.sh/hook: post-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation\n"
        "spec:\n  template:\n    spec:\n      restartPolicy: Never\n"
        "      containers: [{name: settle, image: registry.example/settle:1.0}]\n")
    return chart


def kill_group(process: ControllerProcess) -> None:
    """SIGKILL to the controller and its engine at once: nothing flushed, no release status finished."""
    assert process.process is not None
    os.killpg(os.getpgid(process.process.pid), signal.SIGKILL)
    process.process.wait(30)


async def settled(kube: KubeClient, namespace: str, greeting: str) -> dict[str, Any] | None:
    """The HelmRelease Ready for its current generation, with the ConfigMap holding `greeting`."""
    hr = await kube.get(HR_API, "HelmRelease", "web", namespace)
    ready = condition(hr, "Ready")
    if ready.get("status") != "True" or hr["status"].get("observedGeneration") != hr["metadata"]["generation"]:
        return None
    config = await kube.get_or_none("v1", "ConfigMap", "web-config", namespace)
    return hr if config is not None and config.get("data") == {"greeting": greeting} else None


async def converge(kube: KubeClient, namespace: str, greeting: str, what: str,
                   controller: ControllerProcess) -> dict[str, Any]:
    try:
        return await wait_until(functools.partial(settled, kube, namespace, greeting), what, timeout=180)
    except AssertionError as err:
        hr = await kube.get(HR_API, "HelmRelease", "web", namespace)
        log = controller.log_path.read_text()[-3000:]
        raise AssertionError(f"{err}\nstatus: {hr.get('status')}\ncontroller log:\n{log}") from None


@pytest.mark.usefixtures("flux_crds")
async def test_kill_9_of_the_helm_controller_mid_upgrade_leaves_no_locked_release(
        kube: KubeClient, cluster_info: ClusterInfo, namespace: str, source_controller: RunningSource,
        helm_tools: HelmTools, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    figures = Figures("kill -9 helm controller", SEED)
    home = tmp_path / "home"
    home.mkdir()
    await publish_chart(kube, source_controller, namespace, slow_upgrading_chart(tmp_path / "charts"), 1)
    # The controller process watches only this test's label, its sources included.
    await kube.patch(SRC_API, "ExternalArtifact", "chart", {"metadata": {"labels": {ISOLATED: namespace}}},
                     namespace=namespace)
    controller = ControllerProcess("helm", cluster_info.kubeconfig, tmp_path,
                                           label_selector=f"{ISOLATED}={namespace}", extra=FAST_RETRIES)
    await controller.start()
    try:
        await kube.create({
            "apiVersion": HR_API, "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": namespace, "labels": {ISOLATED: namespace}},
            "spec": {"interval": "10m", "chartRef": {"kind": "ExternalArtifact", "name": "chart"},
                     "maxHistory": MAX_HISTORY, "values": {"greeting": "v0"}}})
        await converge(kube, namespace, "v0", "the first install", controller)
        started = time.monotonic()  # an undisturbed upgrade: the window the kills are drawn from
        await kube.patch(HR_API, "HelmRelease", "web", {"spec": {"values": {"greeting": "v0+"}}}, namespace=namespace)
        await converge(kube, namespace, "v0+", "an undisturbed upgrade", controller)
        undisturbed = time.monotonic() - started
        problems: list[str] = []
        for iteration in range(1, ITERATIONS + 1):
            greeting = f"v{iteration}"
            await kube.patch(HR_API, "HelmRelease", "web", {"spec": {"values": {"greeting": greeting}}},
                             namespace=namespace)
            await asyncio.sleep(rng.uniform(0.0, undisturbed))
            kill_group(controller)
            figures.faults += 1
            left = helm_json(helm_tools, cluster_info, home, "history", "web", "-n", namespace)
            if any(str(entry["status"]).startswith("pending") for entry in left):
                figures.mid_work += 1  # the kill landed between Helm's two release writes
            await controller.start()
            hr = await converge(kube, namespace, greeting, f"convergence after kill {iteration}", controller)
            figures.iterations += 1
            problems += [f"iteration {iteration}: {p}" for p in
                         await release_problems(kube, helm_tools, cluster_info, home, namespace, hr)]
            figures.objects_checked += 2  # the ConfigMap and the Deployment the release renders
    finally:
        await controller.stop()
    line = figures.report(f", undisturbed upgrade {undisturbed:.1f}s")
    assert not problems, "\n".join([line, *problems])
    assert figures.iterations == ITERATIONS


async def release_problems(kube: KubeClient, tools: HelmTools, cluster: ClusterInfo, home: Path, namespace: str,
                           hr: dict[str, Any]) -> list[str]:
    """What is wrong with the release storage after convergence (nothing, when the crash was survived)."""
    problems = []
    stored = helm_json(tools, cluster, home, "history", "web", "-n", namespace)
    statuses = [str(entry["status"]) for entry in stored]
    if statuses[-1] != "deployed" or statuses.count("deployed") != 1:
        problems.append(f"helm history should end in the one deployed revision: {statuses}")
    if any(status.startswith("pending") for status in statuses):
        problems.append(f"a pending release is left: {statuses}")
    newest = (hr["status"].get("history") or [{}])[0]
    if newest.get("version") != stored[-1]["revision"] or newest.get("status") != "deployed":
        problems.append(f"status.history[0] {newest.get('version')}/{newest.get('status')} is not helm's "
                        f"revision {stored[-1]['revision']}")
    secrets = (await kube.list("v1", "Secret", namespace, label_selector="owner=helm,name=web"))["items"]
    if len(secrets) > MAX_HISTORY:
        problems.append(f"{len(secrets)} release Secrets kept, maxHistory is {MAX_HISTORY}")
    deployment = await kube.get_or_none("apps/v1", "Deployment", "web", namespace)
    if deployment is None:
        problems.append("the release's Deployment is gone")
    return problems
