"""The controller kit on the real apiserver: one watch per kind, and a plug-in controller under `all`.

`headwater controller all` runs as a process with a plug-in controller installed beside it the way a
third party would install one (a dist-info with an entry point in `headwater.controllers`; the module
is `tests/plugins/headwater_greeter.py`): its kind, spec, flags and reconciler, nothing else. The test
checks that the plug-in runs with its own flag, and counts the process's watches from the apiserver's
own `apiserver_longrunning_requests` gauge. The process watches one namespace
(`--watch-all-namespaces=false`), so its watches are the only namespace-scoped ones on Flux's groups
while it runs: the session's in-process controllers watch all namespaces.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from headwater.api.crd import crd_manifest
from headwater.api.kinds import kind_named
from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.ports import PortAllocator
from headwater.runtime.kube import KubeClient
from tests.plugins.headwater_greeter import GREETING
from tests.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "headwater_greeter.py"
SRC_API = "source.toolkit.fluxcd.io/v1"
WATCH_LINE = re.compile(r'^apiserver_longrunning_requests\{(?P<labels>[^}]*)\} (?P<value>\S+)$')
#: What `controller all` with the greeter reads: the kinds of the built-in specs and the plug-in's.
EXPECTED_WATCHES = {
    (kind.group, kind.plural)
    for kind in (*(kind_named(k) for k in ("GitRepository", "HelmRepository", "HelmChart", "OCIRepository", "Bucket",
                                            "ExternalArtifact", "Kustomization", "HelmRelease")), GREETING)
}


def install_plugin(site: Path) -> None:
    """What `pip install` of a package declaring the entry point leaves on the path."""
    shutil.copy(PLUGIN, site / PLUGIN.name)
    info = site / "headwater_greeter-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: headwater-greeter\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[headwater.controllers]\ngreeter = headwater_greeter:SPEC\n")


def namespaced_watches(metrics: str, groups: set[str]) -> dict[tuple[str, str], float]:
    found: dict[tuple[str, str], float] = {}
    for line in metrics.splitlines():
        match = WATCH_LINE.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        if labels.get("verb") == "WATCH" and labels.get("scope") == "namespace" and labels.get("group") in groups:
            value = float(match["value"])
            if value:
                found[(labels["group"], labels["resource"])] = value
    return found


@pytest.fixture
async def greeting_crd(kube: KubeClient) -> AsyncIterator[None]:
    crd = crd_manifest(GREETING)
    await kube.apply(crd, field_manager="headwater-tests")

    async def established() -> bool:
        got = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", GREETING.crd_name)
        return any(c["type"] == "Established" and c["status"] == "True"
                   for c in (got.get("status") or {}).get("conditions") or [])

    await wait_for(established, "the Greeting CRD to be established")
    yield
    # the controllers have stopped: drop their finalizer, or the CRD would never finish terminating
    items, _ = await kube.list_all(GREETING.api_version, GREETING.kind)
    for item in items:
        meta = item["metadata"]
        await kube.patch(GREETING.api_version, GREETING.kind, meta["name"], {"metadata": {"finalizers": None}},
                         namespace=meta["namespace"])
    await kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", GREETING.crd_name)

    async def gone() -> bool:
        return await kube.get_or_none("apiextensions.k8s.io/v1", "CustomResourceDefinition", GREETING.crd_name) is None

    await wait_for(gone, "the Greeting CRD to be deleted")


@pytest.fixture
async def controllers_with_plugin(cluster_info: ClusterInfo, namespace: str, tmp_path: Path
                                  ) -> AsyncIterator[int]:
    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site)
    ports = PortAllocator()
    storage_port, health_port = ports.allocate(), ports.allocate()
    log = (tmp_path / "controllers.log").open("wb")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "RUNTIME_NAMESPACE": namespace}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "headwater.cli.main", "controller", "all", "--kubeconfig", str(cluster_info.kubeconfig),
        "--watch-all-namespaces=false", "--greeting=Howdy", "--storage-path", str(tmp_path / "storage"),
        "--storage-addr", f"127.0.0.1:{storage_port}", "--metrics-addr", "0",
        "--health-addr", f"127.0.0.1:{health_port}", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:
        yield health_port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
        log.close()


async def ready(port: int) -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


@pytest.mark.usefixtures("greeting_crd", "flux_crds")
async def test_controller_all_runs_a_plugin_with_its_own_flag_and_watches_each_kind_once(
    kube: KubeClient, namespace: str, controllers_with_plugin: int,
) -> None:
    await wait_for(lambda: ready(controllers_with_plugin), "the controllers to report ready", timeout=60)
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "site", "namespace": namespace},
                       "spec": {"url": "http://127.0.0.1:9/none.git", "interval": "10m", "ref": {"branch": "main"}}})
    await kube.create({"apiVersion": GREETING.api_version, "kind": GREETING.kind,
                       "metadata": {"name": "hello", "namespace": namespace},
                       "spec": {"name": "world", "repositoryRef": {"name": "site"}}})

    async def greeted() -> str | None:
        got = await kube.get(GREETING.api_version, GREETING.kind, "hello", namespace)
        return str((got.get("status") or {}).get("message") or "") or None

    message = await wait_for(greeted, "the greeter to write status.message", timeout=60)
    assert message == "Howdy, world (repository site at no revision yet)"

    groups = {group for group, _ in EXPECTED_WATCHES}
    watches = namespaced_watches(await kube.request_text("/metrics"), groups)
    assert watches == dict.fromkeys(sorted(EXPECTED_WATCHES), 1.0)
