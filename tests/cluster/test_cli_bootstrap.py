"""`headwater bootstrap git` against the real test Git servers (HTTP basic auth, SSH with known_hosts).

The in-process session controllers reconcile the GitRepository and Kustomization `flux-system` that
bootstrap creates; kwok makes the installed controller Deployments Available. Each test bootstraps into
its own namespace (`--namespace`), so the cluster-wide objects are suffixed with it and never collide.
Teardown suspends the sync Kustomization and drops its finalizer first: its inventory holds the CRDs,
which the session cluster's other tests need, so its deletion must never prune.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import HttpAuth
from headwater.devcluster.gitserver_ssh import GitSshServer
from headwater.runtime.kube import KubeClient
from tests.cluster.test_cli import Result, headwater
from tests.integration.conftest import HttpFactory

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

KS_API = "kustomize.toolkit.fluxcd.io/v1"
SRC_API = "source.toolkit.fluxcd.io/v1"
CRD_API = "apiextensions.k8s.io/v1"
PASSWORD = "b00tstrap-s3cret"
PATCH = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- gotk-components.yaml
- gotk-sync.yaml
patches:
- target: {kind: Deployment, name: kustomize-controller}
  patch: |
    - op: add
      path: /metadata/labels/patched-by-user
      value: "yes"
"""


@pytest.fixture
async def sync_namespace(kube: KubeClient, namespace: str, kustomize_controller: object) -> AsyncIterator[str]:
    """The test's namespace, left without a pruning Kustomization or cluster RBAC of this install."""
    yield namespace
    for api, kind in ((KS_API, "Kustomization"), (SRC_API, "GitRepository")):
        if await kube.get_or_none(api, kind, "flux-system", namespace) is not None:
            await kube.patch(api, kind, "flux-system", {"spec": {"suspend": True}}, namespace=namespace)
            await kube.patch(api, kind, "flux-system", {"metadata": {"finalizers": None}}, namespace=namespace)
            await kube.delete(api, kind, "flux-system", namespace)
    assert await kube.get_or_none(KS_API, "Kustomization", "flux-system", namespace) is None
    assert await kube.get_or_none(CRD_API, "CustomResourceDefinition", "kustomizations.kustomize.toolkit.fluxcd.io")
    selector = f"app.kubernetes.io/instance={namespace}"
    for kind in ("ClusterRoleBinding", "ClusterRole"):
        items, _ = await kube.list_all("rbac.authorization.k8s.io/v1", kind, label_selector=selector)
        for item in items:
            await kube.delete("rbac.authorization.k8s.io/v1", kind, item["metadata"]["name"])


def show(builder: RepoBuilder, repo: str, path: str) -> str:
    return builder.git.out("--git-dir", str(builder.root / repo), "show", f"main:{path}")


def commits(builder: RepoBuilder, repo: str) -> int:
    return int(builder.git.out("--git-dir", str(builder.root / repo), "rev-list", "--count", "main").strip())


async def ready_at(kube: KubeClient, namespace: str, revision: str) -> None:
    repo = await kube.get(SRC_API, "GitRepository", "flux-system", namespace)
    ks = await kube.get(KS_API, "Kustomization", "flux-system", namespace)
    assert repo["status"]["artifact"]["revision"] == revision
    assert ks["status"]["lastAppliedRevision"] == revision
    for obj in (repo, ks):
        ready = [c for c in obj["status"]["conditions"] if c["type"] == "Ready"]
        assert [c["status"] for c in ready] == ["True"], ready


def assert_clean(result: Result, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.out + result.err, "a secret was printed"


async def test_bootstrap_over_http_is_idempotent_and_keeps_user_patches(
    kube: KubeClient, cluster_info: ClusterInfo, sync_namespace: str, repo_builder: RepoBuilder,
    git_http_factory: HttpFactory, repo_name: str,
) -> None:
    ns = sync_namespace
    server = git_http_factory(auth=HttpAuth.basic("flux", PASSWORD))
    repo = repo_builder.create(repo_name, {"README.md": "fleet\n"})
    args = ["bootstrap", "git", "--url", server.url(repo_name), "-u", "flux", "-p", PASSWORD,
            "--allow-insecure-http", "--path", "clusters/dev", "-n", ns, "--timeout", "3m",
            "--author-email", "flux@example.com"]

    first = await headwater(cluster_info.kubeconfig, *args, timeout=240)
    assert first.rc == 0, first.err
    assert_clean(first, PASSWORD)
    for line in ("► cloning branch \"main\" from Git repository", "✔ cloned repository",
                 "✔ committed component manifests to \"main\"", "► installing components in " + ns,
                 "✔ committed sync manifests to \"main\"", "✔ GitRepository reconciled successfully",
                 "✔ Kustomization reconciled successfully", "✔ all components are healthy"):
        assert line in first.err, first.err
    assert commits(repo_builder, repo_name) == 3  # initial + components + sync
    head = repo.head("main")
    log = repo_builder.git.out("--git-dir", str(repo_builder.root / repo_name), "log", "-1", "--format=%an <%ae>|%s")
    assert log.strip() == "Flux <flux@example.com>|Add headwater sync manifests"
    components = show(repo_builder, repo_name, "clusters/dev/flux-system/gotk-components.yaml")
    assert f"name: {ns}" in components
    assert "kind: CustomResourceDefinition" in components
    sync = show(repo_builder, repo_name, "clusters/dev/flux-system/gotk-sync.yaml")
    assert "path: ./clusters/dev" in sync
    assert "interval: 1m0s" in sync
    assert "prune: true" in sync
    assert show(repo_builder, repo_name, "clusters/dev/flux-system/kustomization.yaml").splitlines()[-2:] == \
        ["- gotk-components.yaml", "- gotk-sync.yaml"]
    await ready_at(kube, ns, f"main@sha1:{head}")
    secret = await kube.get("v1", "Secret", "flux-system", ns)
    assert base64.b64decode(secret["data"]["username"]) == b"flux"
    assert base64.b64decode(secret["data"]["password"]) == PASSWORD.encode()
    deployment = await kube.get("apps/v1", "Deployment", "kustomize-controller", ns)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"][:2] == ["controller", "kustomize"]

    second = await headwater(cluster_info.kubeconfig, *args, timeout=240)
    assert second.rc == 0, second.err
    assert "✔ component manifests are up to date" in second.err
    assert "✔ sync manifests are up to date" in second.err
    assert repo.head("main") == head, "a re-run with nothing changed must not commit"

    patched = repo.commit({"clusters/dev/flux-system/kustomization.yaml": PATCH}, "patch the kustomize controller")
    third = await headwater(cluster_info.kubeconfig, *args, timeout=240)
    assert third.rc == 0, third.err
    assert repo.head("main") == patched, "the user's kustomization.yaml is kept as it is"
    assert show(repo_builder, repo_name, "clusters/dev/flux-system/kustomization.yaml").strip() == PATCH.strip()
    await ready_at(kube, ns, f"main@sha1:{patched}")
    deployment = await kube.get("apps/v1", "Deployment", "kustomize-controller", ns)
    assert deployment["metadata"]["labels"].get("patched-by-user") == "yes"


async def test_bootstrap_over_ssh_scans_the_host_key(
    kube: KubeClient, cluster_info: ClusterInfo, sync_namespace: str, repo_builder: RepoBuilder,
    git_ssh: GitSshServer, repo_name: str,
) -> None:
    ns = sync_namespace
    repo = repo_builder.create(repo_name, {"README.md": "fleet\n"})
    key = git_ssh.client_keys["ed25519"]
    result = await headwater(cluster_info.kubeconfig, "bootstrap", "git", "--url", git_ssh.url(repo_name),
                             "--private-key-file", str(key.private_key), "-n", ns, "--timeout", "3m",
                             "--network-policy=false", timeout=240)
    assert result.rc == 0, result.err
    assert "✔ host key ssh-ed25519 SHA256:" in result.err
    assert "BEGIN OPENSSH PRIVATE KEY" not in result.out + result.err
    await ready_at(kube, ns, f"main@sha1:{repo.head('main')}")
    secret = await kube.get("v1", "Secret", "flux-system", ns)
    assert base64.b64decode(secret["data"]["identity"]) == key.private_key.read_bytes()
    assert base64.b64decode(secret["data"]["identity.pub"]).decode().split()[:2] == key.public_key.split()[:2]
    known_hosts = base64.b64decode(secret["data"]["known_hosts"]).decode()
    assert git_ssh.known_hosts_line("ed25519").split()[1:] in [line.split()[1:] for line in known_hosts.splitlines()]
    assert show(repo_builder, repo_name, "flux-system/gotk-sync.yaml").count("path: ./\n") == 1
    assert await kube.get_or_none("networking.k8s.io/v1", "NetworkPolicy", "allow-egress", ns) is None


async def test_bootstrap_rejects_bad_input_with_one_line(
    cluster_info: ClusterInfo, git_http_factory: HttpFactory, repo_builder: RepoBuilder, repo_name: str,
    tmp_path: Path,
) -> None:
    server = git_http_factory(auth=HttpAuth.basic("flux", PASSWORD))
    repo_builder.create(repo_name, {"README.md": "x\n"})
    kc = cluster_info.kubeconfig
    cases = [
        (["--url", server.url(repo_name)], "scheme http is insecure, pass --allow-insecure-http=true"),
        (["--url", "ssh://git@127.0.0.1:1/x.git"], "an ssh:// URL needs --private-key-file"),
        (["--url", "ssh://git@127.0.0.1:1/x.git", "--private-key-file", str(tmp_path / "nope")],
         "--private-key-file"),
        (["--url", "ftp://example.com/x"], "invalid --url"),
        (["--url", server.url(repo_name), "--allow-insecure-http", "--interval", "soon"], "invalid --interval"),
        (["--url", server.url(repo_name), "--allow-insecure-http", "-u", "flux", "-p", "wrong-" + PASSWORD,
          "-n", "bootstrap-wrong-password"], "authentication"),
    ]
    for extra, message in cases:
        result = await headwater(kc, "bootstrap", "git", *extra, "--timeout", "30s", timeout=60)
        assert result.rc == 1, (extra, result.err)
        failures = [line for line in result.err.splitlines() if line.startswith("✗")]
        assert len(failures) == 1, (extra, result.err)
        assert message.lower() in failures[0].lower(), (extra, result.err)
        assert_clean(result, PASSWORD)
