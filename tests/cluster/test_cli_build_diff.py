"""`headwater build kustomization` and `diff kustomization` against what the controller really applied.

One fixture: a Git repository served over HTTP with a Deployment (replicas and image tag substituted,
from `postBuild.substitute` and a ConfigMap of `substituteFrom`), a ConfigMap and a Secret, reconciled
by the in-process controllers; the same files are written to a local directory, which the CLI builds.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.runtime.kube import KubeClient
from tests.cluster.test_cli import KS_API, SRC_API, headwater, ks_ready
from tests.kubeconfigs import unreachable_kubeconfig

pytestmark = pytest.mark.cluster

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: ${REPLICAS}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example/web:${TAG}
"""
SETTINGS = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ndata: {password: %s}\n"
EXTRA = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {new: 'yes'}\n"
OLD_PASSWORD, NEW_PASSWORD = "hunter2-old", "correct-horse-new"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def files(password: str = OLD_PASSWORD) -> dict[str, str]:
    return {"app/deploy.yaml": DEPLOYMENT, "app/settings.yaml": SETTINGS, "app/secret.yaml": SECRET % b64(password)}


@dataclass
class Fixture:
    kubeconfig: Path
    namespace: str
    local: Path  # the local checkout's app directory


def write_tree(root: Path, tree: Mapping[str, str]) -> None:
    for relative, text in tree.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)


@pytest.fixture
async def applied(
    kube: KubeClient, cluster_info: ClusterInfo, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer,
    repo_name: str, kustomize_controller: object, tmp_path: Path,
) -> Fixture:
    repo = repo_builder.create(repo_name, files())
    revision = f"main@sha1:{repo.head('main')}"
    await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vars", "namespace": namespace},
                       "data": {"TAG": "1.2.3"}})
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"}}})
    await kube.create({
        "apiVersion": KS_API, "kind": "Kustomization", "metadata": {"name": "app", "namespace": namespace},
        "spec": {"interval": "10m", "path": "./app", "prune": True, "targetNamespace": namespace,
                 "sourceRef": {"kind": "GitRepository", "name": "repo"},
                 "commonMetadata": {"labels": {"team": "blue"}},
                 "postBuild": {"substitute": {"REPLICAS": "2"},
                               "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]}}})
    await ks_ready(kube, namespace, "app", revision)
    write_tree(tmp_path / "checkout", files())
    return Fixture(cluster_info.kubeconfig, namespace, tmp_path / "checkout" / "app")


def leaves(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(obj, dict):
        return [leaf for k, v in obj.items() for leaf in leaves(v, (*path, k))]
    if isinstance(obj, list):
        return [leaf for i, v in enumerate(obj) for leaf in leaves(v, (*path, i))]
    return [(path, obj)]


def at(obj: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        obj = obj[part]
    return obj


async def test_build_prints_what_the_controller_applied(kube: KubeClient, applied: Fixture) -> None:
    ns = applied.namespace
    result = await headwater(applied.kubeconfig, "build", "kustomization", "app", "--path", str(applied.local),
                             "-n", ns)
    assert result.rc == 0, result.err
    assert result.out.endswith("---\n")
    built = [doc for doc in yaml.safe_load_all(result.out) if doc]
    assert sorted((o["kind"], o["metadata"]["name"]) for o in built) == [
        ("ConfigMap", "settings"), ("Deployment", "web"), ("Secret", "creds")]
    for obj in built:
        live = await kube.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], ns)
        for path, value in leaves(obj):
            if obj["kind"] == "Secret" and path[0] in ("data", "stringData"):
                assert value == "***", "Secret values are masked in build output"
                assert path[1] in live["data"], path
                continue
            assert at(live, path) == value, (obj["kind"], path)
        assert obj["metadata"]["labels"] == {"team": "blue", "kustomize.toolkit.fluxcd.io/name": "app",
                                             "kustomize.toolkit.fluxcd.io/namespace": ns}
    assert OLD_PASSWORD not in result.out
    assert b64(OLD_PASSWORD) not in result.out
    deployment = next(o for o in built if o["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2  # substitute, typed by the apiserver's schema
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:1.2.3"
    assert not (applied.local / "kustomization.yaml").exists(), "the user's directory is never written to"


async def test_build_dry_run_needs_no_cluster(applied: Fixture, tmp_path: Path) -> None:
    ks_file = tmp_path / "app.yaml"
    ks_file.write_text(yaml.safe_dump({
        "apiVersion": KS_API, "kind": "Kustomization", "metadata": {"name": "app"},
        "spec": {"path": "./app", "targetNamespace": "prod", "namePrefix": "p-",
                 "sourceRef": {"kind": "GitRepository", "name": "repo"},
                 "postBuild": {"substitute": {"REPLICAS": "5", "TAG": "9"},
                               "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]}}}))
    result = await headwater("/nonexistent/kubeconfig", "build", "ks", "app", "--path", str(applied.local),
                             "--kustomization-file", str(ks_file), "--dry-run", "-n", "apps")
    assert result.rc == 0, result.err
    built = {o["kind"]: o for o in yaml.safe_load_all(result.out) if o}
    assert built["Deployment"]["metadata"]["name"] == "p-web"
    assert built["Deployment"]["metadata"]["namespace"] == "prod"
    assert built["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:9"
    assert built["Deployment"]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"] == "apps"


async def test_diff_reports_drift_creation_and_masks_secrets(applied: Fixture) -> None:
    kc, ns, local = applied.kubeconfig, applied.namespace, applied.local

    same = await headwater(kc, "diff", "kustomization", "app", "--path", str(local), "-n", ns)
    assert (same.rc, same.out) == (0, ""), same.err

    (local / "deploy.yaml").write_text(DEPLOYMENT.replace("${REPLICAS}", "3"))
    (local / "extra.yaml").write_text(EXTRA)
    (local / "secret.yaml").write_text(SECRET % b64(NEW_PASSWORD))
    (local / "settings.yaml").unlink()
    changed = await headwater(kc, "diff", "ks", "app", "--path", str(local), "-n", ns, "--progress-bar=false")
    assert changed.rc == 1, changed.err
    assert changed.err == "✗ identified at least one change, exiting with non-zero exit code\n"
    out = changed.out
    assert f"► Deployment/{ns}/web drifted\n\nspec.replicas\n  ± value change\n    - 2\n    + 3\n" in out
    assert f"► ConfigMap/{ns}/extra created\n" in out
    assert f"► Secret/{ns}/creds drifted\n\ndata.password\n  ± value change\n    - *** (before)\n" \
           f"    + *** (after)\n" in out
    assert f"► ConfigMap/{ns}/settings deleted\n" in out
    for secret in (OLD_PASSWORD, NEW_PASSWORD, b64(OLD_PASSWORD), b64(NEW_PASSWORD)):
        assert secret not in out
    for noise in ("managedFields", "resourceVersion", "generation", "status"):
        assert noise not in out


async def test_diff_failures_exit_2(applied: Fixture) -> None:
    kc, ns, local = applied.kubeconfig, applied.namespace, applied.local
    (local / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n")
    broken = await headwater(kc, "diff", "ks", "app", "--path", str(local), "-n", ns)
    assert broken.rc == 2
    assert broken.out == ""
    assert broken.err.count("\n") == 1, broken.err
    assert broken.err.startswith("✗ broken.yaml: invalid YAML"), broken.err

    built = await headwater(kc, "build", "ks", "app", "--path", str(local), "-n", ns)
    assert built.rc == 1
    assert built.err.startswith("✗ broken.yaml: invalid YAML"), built.err


async def test_missing_kustomization_and_path(applied: Fixture) -> None:
    kc, ns, local = applied.kubeconfig, applied.namespace, applied.local
    for command, rc in (("build", 1), ("diff", 2)):
        missing = await headwater(kc, command, "ks", "nope", "--path", str(local), "-n", ns)
        assert missing.rc == rc
        assert missing.err == f"✗ Kustomization '{ns}/nope' not found\n"
        no_dir = await headwater(kc, command, "ks", "app", "--path", str(local / "absent"), "-n", ns)
        assert no_dir.rc == rc
        assert no_dir.err == f'✗ invalid resource path "{local / "absent"}"\n'


async def test_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    kubeconfig = unreachable_kubeconfig(tmp_path)
    write_tree(tmp_path, {"app/settings.yaml": SETTINGS})
    for command, rc in (("build", 1), ("diff", 2)):
        result = await headwater(kubeconfig, command, "ks", "app", "--path", str(tmp_path / "app"), timeout=30)
        assert result.rc == rc
        assert result.err.count("\n") == 1, result.err
        assert result.err.startswith("✗ cannot reach the Kubernetes API at https://127.0.0.1:1"), result.err
