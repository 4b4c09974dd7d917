"""`headwater install`, `check` and `uninstall` against a private control plane this module starts.

`uninstall` deletes the Flux CRDs, which the session cluster's other tests rely on, so none of this runs
there. The acceptance scenario: install; a GitRepository + Kustomization (reconciled by the controllers
running as a local process, as in the demo) apply a ConfigMap into another namespace; the controllers
are stopped (what deleting their Deployments does in a real cluster) and `uninstall` runs: controllers,
RBAC and CRDs are gone, the ConfigMap the Kustomization applied is still there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from headwater.devcluster.cluster import Cluster, ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.devcluster.ports import PortAllocator
from headwater.runtime.kube import KubeClient, connect
from tests.cluster.test_cli import headwater
from tests.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

CRD_API = "apiextensions.k8s.io/v1"
KS_CRD = "kustomizations.kustomize.toolkit.fluxcd.io"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: survivor, namespace: apps}\ndata: {a: '1'}\n"


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[ClusterInfo]:
    cluster = Cluster(f"pytest-install-{os.getpid()}")
    info = cluster.up(lambda _m: None)
    try:
        yield info
    finally:
        cluster.down(lambda _m: None)


@pytest.fixture
async def private_kube(private_cluster: ClusterInfo) -> AsyncIterator[KubeClient]:
    client = connect(private_cluster.kubeconfig, user_agent="headwater-tests")
    yield client
    await client.close()


async def start_controllers(kubeconfig: Path, storage: Path) -> asyncio.subprocess.Process:
    port = PortAllocator().allocate()
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "headwater.cli.main", "controller", "all", "--kubeconfig", str(kubeconfig),
        "--storage-path", str(storage), "--storage-addr", f"127.0.0.1:{port}",
        "--storage-adv-addr", f"127.0.0.1:{port}", "--metrics-addr", "0", "--health-addr", "0",
        "--log-file", str(storage.parent / "controllers.log"),  # read by the secrets scan
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, start_new_session=True)


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


async def test_install_check_uninstall_keeps_workloads(
    private_cluster: ClusterInfo, private_kube: KubeClient, repo_builder: RepoBuilder, git_http: GitHttpServer,
    repo_name: str, tmp_path: Path,
) -> None:
    kc, kube = private_cluster.kubeconfig, private_kube

    pre = await headwater(kc, "check", "--pre")
    assert pre.rc == 0, pre.err
    assert "✔ kubernetes 1.36." in pre.err
    assert ">=1.33.0-0" in pre.err

    before = await headwater(kc, "check", "--timeout", "10s")
    assert before.rc == 1
    assert "✗ source-controller: deployment not ready: Deployment not found" in before.err
    assert before.err.rstrip().endswith("✗ checks failed")

    first = await headwater(kc, "install", "--timeout", "3m", timeout=240)
    assert first.rc == 0, first.err
    assert "► installing components in flux-system namespace" in first.err
    assert f"CustomResourceDefinition/{KS_CRD} created" in first.err
    assert "✔ source-controller: deployment ready" in first.err
    assert "✔ kustomize-controller: deployment ready" in first.err
    assert first.err.rstrip().endswith("✔ install finished")
    again = await headwater(kc, "install", "--timeout", "3m", timeout=240)
    assert again.rc == 0, again.err
    assert "created" not in again.err
    assert "configured" not in again.err
    assert "Deployment/flux-system/source-controller unchanged" in again.err

    healthy = await headwater(kc, "check")
    assert healthy.rc == 0, healthy.err
    for line in ("✔ source-controller: deployment ready", "► ghcr.io/headwater/headwater:0.1.0",
                 f"✔ {KS_CRD}/v1", "✔ distribution: headwater-v0.1.0", "✔ all checks passed"):
        assert line in healthy.err

    repo_builder.create(repo_name, {"apps/cm.yaml": CONFIGMAP})
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    await kube.create({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                       "metadata": {"name": "fleet", "namespace": "flux-system"},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"}}})
    await kube.create({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                       "metadata": {"name": "apps", "namespace": "flux-system"},
                       "spec": {"interval": "10m", "path": "./apps", "prune": True,
                                "sourceRef": {"kind": "GitRepository", "name": "fleet"}}})
    controllers = await start_controllers(kc, tmp_path / "storage")
    try:
        async def applied() -> bool:
            return await kube.get_or_none("v1", "ConfigMap", "survivor", "apps") is not None

        await wait_for(applied, "the Kustomization to apply the ConfigMap", timeout=90)
        ks = await kube.get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "apps", "flux-system")
        assert ks["metadata"]["finalizers"], "the controller put its finalizer on"
    finally:
        await stop(controllers)

    dry = await headwater(kc, "uninstall", "--dry-run")
    assert dry.rc == 0, dry.err
    assert "✔ Deployment/flux-system/source-controller deleted (dry run)" in dry.err
    assert await kube.get_or_none(CRD_API, "CustomResourceDefinition", KS_CRD) is not None

    refused = await headwater(kc, "uninstall")  # no --silent and no terminal: the prompt reads EOF
    assert refused.rc == 1
    assert "✗ aborting" in refused.err
    assert await kube.get_or_none("apps/v1", "Deployment", "source-controller", "flux-system") is not None

    gone = await headwater(kc, "uninstall", "--silent", timeout=120)
    assert gone.rc == 0, gone.err
    order = [gone.err.index(text) for text in (
        "✔ Deployment/flux-system/kustomize-controller deleted", "✔ ClusterRole/crd-controller-flux-system deleted",
        "✔ Kustomization/flux-system/apps finalizers deleted", f"✔ CustomResourceDefinition/{KS_CRD} deleted",
        "✔ Namespace/flux-system deleted", "✔ uninstall finished")]
    assert order == sorted(order), gone.err

    async def crds_gone() -> bool:
        items, _ = await kube.list_all(CRD_API, "CustomResourceDefinition")
        return not [c for c in items if c["spec"]["group"].endswith(".fluxcd.io")]

    await wait_for(crds_gone, "the Flux CRDs to be deleted", timeout=60)
    assert await kube.get_or_none("apps/v1", "Deployment", "source-controller", "flux-system") is None
    assert await kube.get_or_none("rbac.authorization.k8s.io/v1", "ClusterRole", "crd-controller-flux-system") is None
    assert await kube.get_or_none("rbac.authorization.k8s.io/v1", "ClusterRoleBinding",
                                  "cluster-reconciler-flux-system") is None
    survivor = await kube.get("v1", "ConfigMap", "survivor", "apps")
    assert survivor["data"] == {"a": "1"}

    after = await headwater(kc, "check", "--timeout", "5s")
    assert after.rc == 1
    assert "no installation found" in after.err


async def test_install_export_and_bad_flags_touch_no_cluster(tmp_path: Path) -> None:
    nowhere = tmp_path / "kubeconfig"  # does not exist: --export and flag errors must not need it
    export = await headwater(nowhere, "install", "--export", "--components-extra", "source-controller",
                             "--registry", "registry.example/team", "-v", "v9.9.9", "-n", "gitops")
    assert export.rc == 0, export.err
    assert export.out.startswith("---\n# headwater version: v9.9.9\n")
    assert "image: registry.example/team/headwater:9.9.9" in export.out
    assert "namespace: gitops" in export.out

    for args, message in ((["--components", "notification-controller"], "not implemented by headwater yet"),
                          (["--components", "nope"], "unknown component 'nope'"),
                          (["-v", "v1/2"], "invalid --version"),
                          (["-n", "Bad_NS"], "invalid --namespace")):
        result = await headwater(nowhere, "install", *args)
        assert result.rc == 1, (args, result.err)
        assert result.err.count("✗") == 1
        assert message in result.err


async def test_commands_report_an_unreachable_cluster_in_one_line(tmp_path: Path) -> None:
    port = PortAllocator().allocate()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: gone, cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: abc}}}}]
contexts: [{{name: gone, context: {{cluster: gone, user: u}}}}]
current-context: gone
""")
    for args in (["install", "--timeout", "10s"], ["uninstall", "--silent", "--timeout", "10s"],
                 ["check", "--timeout", "10s"], ["check", "--pre", "--timeout", "10s"]):
        result = await headwater(kubeconfig, *args)
        assert result.rc == 1, (args, result.err)
        lines = [line for line in result.err.splitlines() if line.strip()]
        assert lines[-1].startswith("✗ "), (args, result.err)
        assert sum(line.startswith("✗") for line in lines) == 1, (args, result.err)
        assert f"127.0.0.1:{port}" in lines[-1], (args, result.err)
