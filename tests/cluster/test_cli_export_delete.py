"""`headwater export …` and `headwater delete …` against the local cluster.

The round trip a user relies on: export live objects (status and server bookkeeping stripped), delete
them, `kubectl apply -f` the export with the pinned kubectl, and get the same specs back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.runtime.kube import KubeClient
from tests.cluster.test_cli_create import CONFIGMAP, KS_API, SRC_API, cli, one_error_line
from tests.cluster.test_kustomization import kubectl
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster

NOISE = ("status", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "finalizers")


async def ready(kube: KubeClient, api: str, kind: str, name: str, namespace: str) -> None:
    async def probe() -> bool:
        obj = await kube.get(api, kind, name, namespace)
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (obj.get("status") or {}).get("conditions") or [])

    await wait_for(probe, f"{kind} {name} to be Ready")


async def gone(kube: KubeClient, api: str, kind: str, name: str, namespace: str) -> None:
    async def probe() -> bool:
        return await kube.get_or_none(api, kind, name, namespace) is None

    await wait_for(probe, f"{kind} {name} to be deleted")


@pytest.mark.usefixtures("kustomize_controller")
async def test_export_delete_then_kubectl_apply_recreates_equal_specs(
    kube: KubeClient, cluster_info: ClusterInfo, namespace: str, repo_builder: RepoBuilder,
    git_http: GitHttpServer, repo_name: str, tmp_path: Path,
) -> None:
    kc, ns = cluster_info.kubeconfig, namespace
    repo_builder.create(repo_name, {"apps/settings.yaml": CONFIGMAP})
    await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": ns},
                       "type": "Opaque", "stringData": {"username": "u", "password": "p"}})
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": ns, "labels": {"team": "a"},
                                    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                                    "note": "kept"}},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"},
                                "secretRef": {"name": "creds"}}})
    await kube.create({"apiVersion": KS_API, "kind": "Kustomization", "metadata": {"name": "apps", "namespace": ns},
                       "spec": {"interval": "10m", "path": "./apps", "prune": True, "targetNamespace": ns,
                                "sourceRef": {"kind": "GitRepository", "name": "repo"}}})
    await ready(kube, KS_API, "Kustomization", "apps", ns)
    before_source = (await kube.get(SRC_API, "GitRepository", "repo", ns))["spec"]
    before_ks = (await kube.get(KS_API, "Kustomization", "apps", ns))["spec"]

    source = await cli(kc, "export", "source", "git", "repo", "--with-credentials", "-n", ns)
    assert source.rc == 0, source.err
    ks = await cli(kc, "export", "ks", "apps", "-n", ns)
    assert ks.rc == 0, ks.err
    assert source.out.startswith("---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n")
    documents = [doc for doc in yaml.safe_load_all(source.out + ks.out) if doc]
    assert [d["kind"] for d in documents] == ["GitRepository", "Secret", "Kustomization"]
    for doc in documents:
        assert not set(NOISE) & (set(doc) | set(doc["metadata"])), doc
    git, secret, kustomization = documents
    assert git["metadata"] == {"name": "repo", "namespace": ns, "labels": {"team": "a"},
                               "annotations": {"note": "kept"}}
    assert secret == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": ns},
                      "type": "Opaque", "data": {"password": "cA==", "username": "dQ=="}}
    assert kustomization["spec"] == before_ks

    deleted = await cli(kc, "delete", "ks", "apps", "--silent", "-n", ns)
    assert deleted.rc == 0, deleted.err
    assert deleted.err.splitlines() == [f"► deleting kustomization apps in {ns} namespace", "✔ kustomization deleted"]
    deleted = await cli(kc, "delete", "source", "git", "repo", "-s", "-n", ns)
    assert deleted.rc == 0, deleted.err
    assert "✔ source git deleted" in deleted.err
    await kube.delete("v1", "Secret", "creds", ns)
    await gone(kube, KS_API, "Kustomization", "apps", ns)
    await gone(kube, SRC_API, "GitRepository", "repo", ns)
    await gone(kube, "v1", "ConfigMap", "settings", ns)  # prune: true, so the finalizer removed what it applied

    manifest = tmp_path / "export.yaml"
    manifest.write_text(source.out + ks.out)
    await kubectl(str(kc), "apply", "-f", str(manifest))
    assert (await kube.get(SRC_API, "GitRepository", "repo", ns))["spec"] == before_source
    assert (await kube.get(KS_API, "Kustomization", "apps", ns))["spec"] == before_ks
    stored = await kube.get("v1", "Secret", "creds", ns)
    assert stored["data"] == {"password": "cA==", "username": "dQ=="}
    await ready(kube, KS_API, "Kustomization", "apps", ns)


@pytest.mark.usefixtures("flux_crds")
async def test_export_all_missing_and_empty(kube: KubeClient, cluster_info: ClusterInfo, namespace: str) -> None:
    kc, ns = cluster_info.kubeconfig, namespace
    for name in ("b", "a"):
        await kube.create({"apiVersion": SRC_API, "kind": "GitRepository", "metadata": {
            "name": name, "namespace": ns, "labels": {"headwater.dev/isolated": "true"}},
            "spec": {"url": "https://example.com/r", "interval": "1h", "ref": {"branch": "main"},
                     "secretRef": {"name": "missing"}}})
    every = await cli(kc, "export", "source", "git", "--all", "-n", ns)
    assert every.rc == 0, every.err
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(every.out) if d] == ["a", "b"]
    assert "\n\n---\n" in every.out

    one_error_line(await cli(kc, "export", "source", "git", "a", "--with-credentials", "-n", ns),
                   "failed to retrieve secret missing", f"Secret '{ns}/missing' not found")
    one_error_line(await cli(kc, "export", "source", "git", "nope", "-n", ns),
                   f"GitRepository '{ns}/nope' not found")
    one_error_line(await cli(kc, "export", "ks", "--all", "-n", ns), f"no Kustomization objects found in {ns}")
    one_error_line(await cli(kc, "export", "ks", "-n", ns), "Kustomization name is required")


@pytest.mark.usefixtures("flux_crds")
async def test_delete_asks_first(kube: KubeClient, cluster_info: ClusterInfo, namespace: str) -> None:
    kc, ns = cluster_info.kubeconfig, namespace
    await kube.create({"apiVersion": KS_API, "kind": "Kustomization", "metadata": {
        "name": "apps", "namespace": ns, "labels": {"headwater.dev/isolated": "true"}},
        "spec": {"interval": "10m", "prune": False, "sourceRef": {"kind": "GitRepository", "name": "repo"}}})

    declined = await cli(kc, "delete", "ks", "apps", "-n", ns, stdin="n\n")
    one_error_line(declined, "aborting")
    assert "Are you sure you want to delete this kustomization" in declined.err
    closed = await cli(kc, "delete", "kustomization", "apps", "-n", ns, stdin="")
    one_error_line(closed, "aborting")
    assert await kube.get_or_none(KS_API, "Kustomization", "apps", ns) is not None

    accepted = await cli(kc, "delete", "ks", "apps", "-n", ns, stdin="y\n")
    assert accepted.rc == 0, accepted.err
    assert accepted.err.strip().endswith("✔ kustomization deleted")
    await gone(kube, KS_API, "Kustomization", "apps", ns)

    one_error_line(await cli(kc, "delete", "ks", "apps", "-s", "-n", ns), f"Kustomization '{ns}/apps' not found")
    one_error_line(await cli(kc, "delete", "source", "git", "repo", "-s", "-n", ns),
                   f"GitRepository '{ns}/repo' not found")
    one_error_line(await cli(kc, "delete", "source", "git", "-n", ns), "source git name is required")
