"""The `headwater` CLI (get, reconcile, suspend, resume, version) as a subprocess against the cluster.

The controllers run in the test process, so the CLI is awaited as an asyncio subprocess: a blocking
call would freeze the very controllers whose reconciliation it waits for.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.runtime.kube import KubeClient
from tests.kubeconfigs import unreachable_kubeconfig
from tests.secrets_scan import record_cli_output
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster

KS_API = "kustomize.toolkit.fluxcd.io/v1"
SRC_API = "source.toolkit.fluxcd.io/v1"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{a: '{value}'}}\n"


def kustomization(name: str, namespace: str, path: str, target: str) -> dict[str, Any]:
    return {"apiVersion": KS_API, "kind": "Kustomization", "metadata": {"name": name, "namespace": namespace},
            "spec": {"interval": "10m", "path": path, "prune": True, "targetNamespace": target,
                     "sourceRef": {"kind": "GitRepository", "name": "repo"}}}


async def ks_ready(kube: KubeClient, namespace: str, name: str, revision: str) -> None:
    async def probe() -> bool:
        status = (await kube.get(KS_API, "Kustomization", name, namespace)).get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        return ready and status.get("lastAppliedRevision") == revision

    await wait_for(probe, f"Kustomization {name} to apply {revision}")


@dataclass
class Result:
    rc: int
    out: str
    err: str


async def headwater(kubeconfig: Path | str, *args: str, timeout: float = 60) -> Result:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "FLUX_SYSTEM_NAMESPACE")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "headwater.cli.main", *args, "--kubeconfig", str(kubeconfig),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    result = Result(proc.returncode, out.decode(), err.decode())
    record_cli_output(args, result.out, result.err)
    assert "Traceback" not in result.err, result.err
    return result


@dataclass
class Setup:
    kubeconfig: Path
    namespace: str
    revision: str


@pytest.fixture
async def flux_objects(
    kube: KubeClient, cluster_info: ClusterInfo, namespace: str, repo_builder: RepoBuilder,
    git_http: GitHttpServer, repo_name: str, kustomize_controller: object,
) -> Setup:
    """A GitRepository `repo` and a Kustomization `apps` (applying one ConfigMap), both Ready."""
    repo = repo_builder.create(repo_name, {"apps/settings.yaml": CONFIGMAP.format(value="1")})
    revision = f"main@sha1:{repo.head('main')}"
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"}}})
    await kube.create(kustomization("apps", namespace, "./apps", namespace))
    await ks_ready(kube, namespace, "apps", revision)
    return Setup(cluster_info.kubeconfig, namespace, revision)


def rows(text: str) -> list[list[str]]:
    return [line.split(None, 5 if "NAMESPACE" in text.splitlines()[0] else 4)
            for line in text.splitlines() if line.strip()]


async def test_get_tables(flux_objects: Setup) -> None:
    kc, ns, revision = flux_objects.kubeconfig, flux_objects.namespace, flux_objects.revision
    short = revision[: len("main@sha1:") + 8]

    git = await headwater(kc, "get", "sources", "git", "-n", ns)
    assert git.rc == 0, git.err
    header, row = rows(git.out)
    assert header == ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]
    assert row[:4] == ["repo", short, "False", "True"]
    assert short + "'" in row[4], "flux shortens the digest in the message too (utils.TruncateHex)"
    assert revision not in row[4]

    ks = await headwater(kc, "get", "ks", "-n", ns)
    assert ks.rc == 0, ks.err
    assert rows(ks.out)[1][:4] == ["apps", short, "False", "True"]
    assert "\x1b[" not in ks.out, "no colours or rich tables when stdout is not a terminal"

    bare = await headwater(kc, "get", "kustomizations", "-n", ns, "--no-header")
    assert bare.out.split()[:4] == ["apps", short, "False", "True"]
    assert "NAME" not in bare.out

    everywhere = await headwater(kc, "get", "kustomizations", "-A")
    assert everywhere.rc == 0, everywhere.err
    lines = everywhere.out.splitlines()
    assert lines[0].split()[:3] == ["NAMESPACE", "NAME", "REVISION"]
    assert [ns, "apps", short, "False", "True"] in [line.split()[:5] for line in lines[1:]]

    both = await headwater(kc, "get", "all", "-n", ns)
    assert both.rc == 0, both.err
    names = [line.split()[0] for line in both.out.splitlines() if line.strip()]
    assert names == ["NAME", "gitrepository/repo", "NAME", "kustomization/apps"]

    failing = await headwater(kc, "get", "ks", "-n", ns, "--status-selector", "ready=false")
    assert failing.rc == 0
    assert failing.out == ""
    assert f"✗ no Kustomization objects found in {ns} namespace" in failing.err
    ready = await headwater(kc, "get", "ks", "-n", ns, "--status-selector", "Ready=True", "--no-header")
    assert ready.out.split()[0] == "apps"


async def test_connection_flags_before_the_subcommand_and_from_the_environment(flux_objects: Setup) -> None:
    kc, ns = flux_objects.kubeconfig, flux_objects.namespace
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "FLUX_SYSTEM_NAMESPACE")}

    async def plain(*args: str, **extra: str) -> Result:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "headwater.cli.main", *args, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={**env, **extra})
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return Result(proc.returncode or 0, out.decode(), err.decode())

    before = await plain("--kubeconfig", str(kc), "-n", ns, "--timeout", "30s", "get", "ks", "--no-header")
    assert before.rc == 0, before.err
    assert before.out.split()[0] == "apps"
    from_env = await plain("get", "ks", "--no-header", KUBECONFIG=str(kc), FLUX_SYSTEM_NAMESPACE=ns)
    assert from_env.rc == 0, from_env.err
    assert from_env.out.split()[0] == "apps"
    after_wins = await plain("-n", "nowhere", "get", "ks", "-n", ns, "--no-header", KUBECONFIG=str(kc))
    assert after_wins.out.split()[0] == "apps"
    flag_beats_env = await plain("-n", "nowhere", "get", "ks", KUBECONFIG=str(kc), FLUX_SYSTEM_NAMESPACE=ns)
    assert "nowhere namespace" in flag_beats_env.err
    bad_timeout = await plain("--timeout", "soon", "get", "ks", KUBECONFIG=str(kc))
    assert bad_timeout.rc == 2
    assert "soon" in bad_timeout.err


async def test_reconcile_and_with_source_after_a_new_commit(
    kube: KubeClient, flux_objects: Setup, repo_builder: RepoBuilder, repo_name: str,
) -> None:
    kc, ns, revision = flux_objects.kubeconfig, flux_objects.namespace, flux_objects.revision

    git = await headwater(kc, "reconcile", "source", "git", "repo", "-n", ns)
    assert git.rc == 0, git.err
    assert f"► annotating GitRepository repo in {ns} namespace" in git.err
    assert "◎ waiting for GitRepository reconciliation" in git.err
    assert f"✔ fetched revision {revision}" in git.err
    obj = await kube.get(SRC_API, "GitRepository", "repo", ns)
    token = obj["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]
    assert obj["status"]["lastHandledReconcileAt"] == token
    assert token.endswith("Z")

    ks = await headwater(kc, "reconcile", "kustomization", "apps", "-n", ns)
    assert ks.rc == 0, ks.err
    assert f"► annotating Kustomization apps in {ns} namespace" in ks.err
    assert f"✔ applied revision {revision}" in ks.err

    repo = repo_builder.open(repo_name)
    repo.commit({"apps/settings.yaml": CONFIGMAP.format(value="2")}, "settings: 2")
    new_revision = f"main@sha1:{repo.head('main')}"
    both = await headwater(kc, "reconcile", "ks", "apps", "--with-source", "-n", ns)
    assert both.rc == 0, both.err
    lines = both.err.splitlines()
    assert lines.index(f"► annotating GitRepository repo in {ns} namespace") < lines.index(
        f"► annotating Kustomization apps in {ns} namespace")
    assert f"✔ fetched revision {new_revision}" in lines
    assert f"✔ applied revision {new_revision}" in lines
    assert (await kube.get("v1", "ConfigMap", "settings", ns))["data"] == {"a": "2"}


async def test_reconcile_failures(kube: KubeClient, flux_objects: Setup) -> None:
    kc, ns = flux_objects.kubeconfig, flux_objects.namespace

    missing = await headwater(kc, "reconcile", "kustomization", "nope", "-n", ns)
    assert missing.rc == 1
    assert missing.err.strip() == f"✗ Kustomization '{ns}/nope' not found"
    missing_src = await headwater(kc, "reconcile", "source", "git", "nope", "-n", ns)
    assert missing_src.rc == 1
    assert f"✗ GitRepository '{ns}/nope' not found" in missing_src.err

    # nobody reconciles an isolated Kustomization: the request is never handled
    isolated = kustomization("orphan", ns, "./apps", ns)
    isolated["metadata"]["labels"] = {"headwater.dev/isolated": "true"}
    await kube.create(isolated)
    late = await headwater(kc, "reconcile", "ks", "orphan", "-n", ns, "--timeout", "1s")
    assert late.rc == 1
    assert f"✗ timed out after 1s waiting for Kustomization '{ns}/orphan' to handle the reconcile request" \
        in late.err

    # Ready=False: the reconcile is handled but fails, and the CLI says why
    await kube.create(kustomization("broken", ns, "./does-not-exist", ns))
    broken = await headwater(kc, "reconcile", "ks", "broken", "-n", ns, "--timeout", "30s")
    assert broken.rc == 1, broken.err
    assert "✗ Kustomization reconciliation failed:" in broken.err
    assert "does-not-exist" in broken.err


async def test_suspend_and_resume(kube: KubeClient, flux_objects: Setup) -> None:
    kc, ns, revision = flux_objects.kubeconfig, flux_objects.namespace, flux_objects.revision

    suspended = await headwater(kc, "suspend", "kustomization", "apps", "-n", ns)
    assert suspended.rc == 0, suspended.err
    assert suspended.err.splitlines() == [f"► suspending kustomization apps in {ns} namespace",
                                          "✔ kustomization suspended"]
    assert (await kube.get(KS_API, "Kustomization", "apps", ns))["spec"]["suspend"] is True
    table = await headwater(kc, "get", "ks", "-n", ns, "--no-header")
    assert table.out.split()[2] == "True"

    refused = await headwater(kc, "reconcile", "ks", "apps", "-n", ns)
    assert refused.rc == 1
    assert f"✗ resource is suspended: Kustomization '{ns}/apps'" in refused.err
    late = await headwater(kc, "reconcile", "ks", "apps", "-n", ns, "--timeout", "1s")
    assert late.rc == 1

    resumed = await headwater(kc, "resume", "ks", "apps", "-n", ns)
    assert resumed.rc == 0, resumed.err
    assert f"► resuming kustomization apps in {ns} namespace" in resumed.err
    assert "✔ Kustomization reconciliation completed" in resumed.err
    assert f"✔ applied revision {revision}" in resumed.err
    assert (await kube.get(KS_API, "Kustomization", "apps", ns))["spec"]["suspend"] is False

    every = await headwater(kc, "suspend", "source", "git", "--all", "-n", ns)
    assert every.rc == 0, every.err
    assert (await kube.get(SRC_API, "GitRepository", "repo", ns))["spec"]["suspend"] is True
    back = await headwater(kc, "resume", "source", "git", "repo", "-n", ns)
    assert back.rc == 0, back.err
    assert f"✔ fetched revision {revision}" in back.err

    nothing = await headwater(kc, "suspend", "ks", "nope", "-n", ns)
    assert nothing.rc == 1
    assert f"✗ Kustomization '{ns}/nope' not found" in nothing.err
    no_name = await headwater(kc, "suspend", "ks", "-n", ns)
    assert no_name.rc == 1
    assert "please specify" in no_name.err


async def test_version(cluster_info: ClusterInfo) -> None:
    both = await headwater(cluster_info.kubeconfig, "version")
    assert both.rc == 0, both.err
    lines = both.out.splitlines()
    assert lines[0].startswith("headwater: v")
    assert lines[1].startswith("kubernetes: v1.")
    client = await headwater("/nonexistent/kubeconfig", "version", "--client")
    assert client.rc == 0
    assert client.out.splitlines() == [lines[0]]


async def test_unreachable_cluster_is_one_clear_line(tmp_path: Path) -> None:
    kubeconfig = unreachable_kubeconfig(tmp_path)
    for args in (["get", "ks"], ["get", "all", "-A"], ["reconcile", "ks", "apps"], ["suspend", "ks", "apps"],
                 ["resume", "source", "git", "repo"], ["version"]):
        result = await headwater(kubeconfig, *args, timeout=30)
        assert result.rc == 1, args
        assert result.err.count("\n") == 1, result.err
        assert result.err.startswith("✗ cannot reach the Kubernetes API at https://127.0.0.1:1"), result.err
    missing = await headwater(tmp_path / "absent", "get", "ks")
    assert missing.rc == 1
    assert missing.err.startswith("✗ kubeconfig: no kubeconfig found")
