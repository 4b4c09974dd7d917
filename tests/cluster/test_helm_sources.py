"""HelmRepository and HelmChart on the real control plane, with real Helm repositories and the real helm CLI.

The source controller of the session runs the Helm source controllers; charts are made by `helm package`,
indexes by `helm repo index`, OCI charts pushed by `helm push` into Debian's docker-registry. The
acceptance tests release the podinfo chart (from the podinfo Go module) through a HelmRelease with
`spec.chart`, from the HTTP repository and from the OCI registry, to a Deployment kwok makes Available,
checked with `helm list` and `helm get values`.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.devcluster.helmtools import HelmTools
from headwater.runtime.kube import KubeClient
from headwater.runtime.manager import Manager
from headwater.source.helm.archive import read_archive
from tests.cluster.conftest import RunningSource
from tests.cluster.helm_objects import (
    HR,
    SRC,
    condition,
    deployment_available,
    download,
    helm_chart,
    helm_json,
    helm_repository,
    not_ready,
    ready,
    until,
)
from tests.cluster.helm_repos import PODINFO_VERSION, HelmHTTPServer, OCIRegistry, index, package, podinfo_chart_dir
from tests.helm_charts import write_chart, write_hooked_chart

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

@pytest.fixture(scope="module")
def podinfo_archive(helm_tools: HelmTools, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("podinfo")
    return package(helm_tools, work / "home", podinfo_chart_dir(work), work / "out")


@pytest.fixture
async def http_repo(tmp_path: Path, helm_tools: HelmTools, podinfo_archive: Path) -> AsyncIterator[HelmHTTPServer]:
    """podinfo and a small chart in an HTTP repository made by the helm CLI."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(podinfo_archive, root)
    package(helm_tools, tmp_path / "home", write_chart(tmp_path / "src"), root)
    index(helm_tools, tmp_path / "home", root)
    server = await HelmHTTPServer(root).start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, helm_tools: HelmTools, podinfo_archive: Path
             ) -> Iterator[OCIRegistry]:
    registry = OCIRegistry(tmp_path_factory.mktemp("registry")).start()
    registry.push(helm_tools, tmp_path_factory.mktemp("home"), podinfo_archive)
    yield registry
    registry.stop()


@pytest.mark.usefixtures("source_controller")
async def test_index_with_basic_auth_and_a_chart_packaged_with_values_files(
        kube: KubeClient, namespace: str, tmp_path: Path, http_repo: HelmHTTPServer) -> None:
    http_repo.credentials = ("reader", "s3cret")
    await helm_repository(kube, namespace, "charts", http_repo.url)
    refused = await until(kube, SRC, "HelmRepository", "charts", namespace, not_ready("Failed"), "refused")
    assert condition(refused, "FetchFailed")["message"] == (
        f"failed to fetch Helm repository index: failed to fetch {http_repo.url}/index.yaml : 401 Unauthorized")

    await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "auth", "namespace": namespace},
                       "stringData": {"username": "reader", "password": "s3cret"}})
    await kube.patch(SRC, "HelmRepository", "charts", {"spec": {"secretRef": {"name": "auth"}}}, namespace=namespace)
    repo = await until(kube, SRC, "HelmRepository", "charts", namespace, ready, "Ready")
    revision = "sha256:" + hashlib.sha256((http_repo.root / "index.yaml").read_bytes()).hexdigest()
    artifact = repo["status"]["artifact"]
    assert artifact["revision"] == revision
    assert artifact["path"] == f"helmrepository/{namespace}/charts/index-{revision[7:]}.yaml"
    assert condition(repo, "Ready")["message"] == f"stored artifact: revision '{revision}'"
    assert repo["status"]["url"].endswith(f"helmrepository/{namespace}/charts/index.yaml")
    stored = json.loads(await download(artifact["url"]))
    assert [v["version"] for v in stored["entries"]["podinfo"]] == [PODINFO_VERSION]
    assert "sha256:" + hashlib.sha256(await download(artifact["url"])).hexdigest() == artifact["digest"]
    events = (await kube.list("v1", "Event", namespace, field_selector="involvedObject.name=charts"))["items"]
    assert any(e["reason"] == "NewArtifact" and e["message"].startswith("stored fetched index of size ")
               for e in events)

    await helm_chart(kube, namespace, "podinfo", "podinfo", ("HelmRepository", "charts"), version="6.x",
                     valuesFiles=["values.yaml", "values-prod.yaml", "absent.yaml"], ignoreMissingValuesFiles=True)
    chart = await until(kube, SRC, "HelmChart", "podinfo", namespace, ready, "Ready")
    assert chart["status"]["artifact"]["revision"] == f"{PODINFO_VERSION}+1"
    assert chart["status"]["observedChartName"] == "podinfo"
    assert chart["status"]["observedSourceArtifactRevision"] == revision
    assert chart["status"]["observedValuesFiles"] == ["values.yaml", "values-prod.yaml"]
    assert condition(chart, "Ready")["reason"] == "ChartPackageSucceeded"
    assert condition(chart, "Ready")["message"] == (
        f"packaged 'podinfo' chart with version '{PODINFO_VERSION}+1' and merged values files "
        "[values.yaml values-prod.yaml]")
    packaged = read_archive(await download(chart["status"]["artifact"]["url"]), label="artifact")
    assert packaged.version == f"{PODINFO_VERSION}+1"
    values = yaml.safe_load(packaged.files["values.yaml"])
    assert (values["hpa"]["enabled"], values["hpa"]["maxReplicas"]) == (True, 5)  # values-prod.yaml's
    assert values["host"] is None  # values.yaml's, kept
    assert http_repo.requests["podinfo-6.9.2.tgz"] == 1


@pytest.mark.usefixtures("source_controller")
async def test_hostile_index_and_chart_are_refused_with_the_file_named(
        kube: KubeClient, namespace: str, tmp_path: Path, http_repo: HelmHTTPServer) -> None:
    good_index = (http_repo.root / "index.yaml").read_bytes()
    bomb = "\n".join(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]" for i in range(1, 9))
    (http_repo.root / "index.yaml").write_text(f"apiVersion: v1\nx0: &x0 [a, a, a, a, a]\n{bomb}\nentries: {{}}\n")
    await helm_repository(kube, namespace, "bomb", http_repo.url)
    refused = await until(kube, SRC, "HelmRepository", "bomb", namespace, not_ready("IndexationFailed"), "refused")
    message = condition(refused, "Ready")["message"]
    assert message.startswith(f"failed to load Helm repository from index YAML: HelmRepository {namespace}/bomb "
                              f"index.yaml from {http_repo.url}/index.yaml: ")
    assert "aliases" in message
    assert "artifact" not in refused["status"]

    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w:gz") as tar:
        for name, data in (("greeter/Chart.yaml", b"apiVersion: v2\nname: greeter\nversion: 0.1.0\n"),):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("greeter/templates/secret.yaml")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        tar.addfile(link)
    (http_repo.root / "greeter-0.1.0.tgz").write_bytes(evil.getvalue())
    (http_repo.root / "index.yaml").write_bytes(good_index)
    await helm_repository(kube, namespace, "charts", http_repo.url)
    await until(kube, SRC, "HelmRepository", "charts", namespace, ready, "Ready")
    await helm_chart(kube, namespace, "greeter", "greeter", ("HelmRepository", "charts"))
    chart = await until(kube, SRC, "HelmChart", "greeter", namespace, not_ready("ChartPullError"), "refused")
    assert condition(chart, "FetchFailed")["message"] == (
        f"chart pull error: HelmChart {namespace}/greeter chart {http_repo.url}/greeter-0.1.0.tgz: entry "
        "'greeter/templates/secret.yaml' is a symlink; charts may hold only regular files")
    assert "artifact" not in chart["status"]

    await helm_chart(kube, namespace, "nine", "podinfo", ("HelmRepository", "charts"), version="9.*")
    stalled = await until(kube, SRC, "HelmChart", "nine", namespace,
                          lambda o: condition(o, "Stalled").get("status") == "True", "stalled")
    assert condition(stalled, "Stalled")["message"] == (
        "invalid chart reference: failed to get chart version for remote reference: no 'podinfo' chart with version "
        "matching '9.*' found")

    await helm_chart(kube, namespace, "bucket", "chart", ("Bucket", "b"))
    missing = await until(kube, SRC, "HelmChart", "bucket", namespace, not_ready("SourceUnavailable"), "unavailable")
    assert "the Bucket kind is not implemented yet" in condition(missing, "Ready")["message"]
    assert condition(missing, "Reconciling").get("reason") == "ProgressingWithRetry"


@pytest.mark.usefixtures("source_controller")
async def test_chart_from_a_git_repository_with_the_revision_strategy_and_confined_values(
        kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str) -> None:
    chart_yaml = "apiVersion: v2\nname: greeter\nversion: 0.4.0\n"
    repo = repo_builder.create(repo_name, {
        "charts/greeter/Chart.yaml": chart_yaml, "charts/greeter/values.yaml": "greeting: hello\n",
        "charts/greeter/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        "envs/prod.yaml": "greeting: prod\n"})
    await kube.create({"apiVersion": SRC, "kind": "GitRepository", "metadata": {"name": "src", "namespace": namespace},
                       "spec": {"interval": "10m", "url": git_http.url(repo_name), "ref": {"branch": "main"}}})
    await helm_chart(kube, namespace, "greeter", "./charts/greeter", ("GitRepository", "src"),
                     reconcileStrategy="Revision", valuesFiles=["envs/prod.yaml"])
    head = repo.head("main")
    chart = await until(kube, SRC, "HelmChart", "greeter", namespace, ready, "Ready")
    assert chart["status"]["artifact"]["revision"] == f"0.4.0+{head[:12]}.1"
    assert chart["status"]["observedSourceArtifactRevision"] == f"main@sha1:{head}"
    packaged = read_archive(await download(chart["status"]["artifact"]["url"]), label="artifact")
    assert packaged.files["values.yaml"] == b"greeting: prod\n"

    second = repo.commit({"README.md": "new\n"}, "a commit outside the chart")
    await kube.patch(SRC, "GitRepository", "src", {"metadata": {"annotations": {
        "reconcile.fluxcd.io/requestedAt": "again"}}}, namespace=namespace)
    await until(kube, SRC, "HelmChart", "greeter", namespace,
                lambda o: ready(o) and o["status"]["artifact"]["revision"] == f"0.4.0+{second[:12]}.1",
                "rebuilt for the new commit (the Revision strategy)", timeout=60)

    await kube.patch(SRC, "HelmChart", "greeter", {"spec": {"valuesFiles": ["../../etc/passwd"]}}, namespace=namespace)
    stalled = await until(kube, SRC, "HelmChart", "greeter", namespace,
                          lambda o: condition(o, "Stalled").get("status") == "True", "stalled")
    assert condition(stalled, "Stalled")["reason"] == "ValuesFilesError"
    assert condition(stalled, "Stalled")["message"] == (
        f"values files merge error: HelmChart {namespace}/greeter: spec.valuesFiles[0]: path '../../etc/passwd' "
        "points outside the source")


async def _release_podinfo(kube: KubeClient, namespace: str, source: str, cluster_info: ClusterInfo,
                           helm_tools: HelmTools, home: Path) -> None:
    await kube.create({"apiVersion": HR, "kind": "HelmRelease", "metadata": {"name": "web", "namespace": namespace},
                       "spec": {"interval": "10m", "values": {"replicaCount": 2},
                                "chart": {"spec": {"chart": "podinfo", "version": "6.9.x",
                                                   "sourceRef": {"kind": "HelmRepository", "name": source}}}}})
    release = await until(kube, HR, "HelmRelease", "web", namespace, ready, "released", timeout=180)
    assert condition(release, "Ready")["reason"] == "InstallSucceeded"
    chart = await kube.get(SRC, "HelmChart", f"{namespace}-web", namespace)
    assert chart["status"]["artifact"]["revision"] == PODINFO_VERSION
    assert condition(chart, "Ready")["message"] == f"pulled 'podinfo' chart with version '{PODINFO_VERSION}'"

    await deployment_available(kube, "web-podinfo", namespace, 2)
    [listed] = helm_json(helm_tools, cluster_info, home, "list", "-n", namespace)
    assert (listed["name"], listed["status"], listed["chart"]) == ("web", "deployed", f"podinfo-{PODINFO_VERSION}")
    assert helm_json(helm_tools, cluster_info, home, "get", "values", "web", "-n", namespace) == {"replicaCount": 2}


@pytest.mark.usefixtures("source_controller", "helm_controller")
async def test_podinfo_from_the_http_repository_is_released(
        kube: KubeClient, namespace: str, tmp_path: Path, http_repo: HelmHTTPServer, helm_tools: HelmTools,
        cluster_info: ClusterInfo) -> None:
    await helm_repository(kube, namespace, "podinfo", http_repo.url)
    await _release_podinfo(kube, namespace, "podinfo", cluster_info, helm_tools, tmp_path / "home")


@pytest.mark.usefixtures("source_controller", "helm_controller")
async def test_podinfo_from_the_oci_registry_is_released(
        kube: KubeClient, namespace: str, tmp_path: Path, registry: OCIRegistry, helm_tools: HelmTools,
        cluster_info: ClusterInfo, source_controller: RunningSource, helm_controller: Manager) -> None:
    await helm_repository(kube, namespace, "podinfo", f"oci://{registry.host}/charts", type="oci", insecure=True)
    await _release_podinfo(kube, namespace, "podinfo", cluster_info, helm_tools, tmp_path / "home")
    repo = await kube.get(SRC, "HelmRepository", "podinfo", namespace)
    assert not repo.get("status") or repo["status"] == {"observedGeneration": -1}, "an OCI HelmRepository is static"
    assert "finalizers.fluxcd.io" not in (repo["metadata"].get("finalizers") or [])


@pytest.mark.usefixtures("source_controller", "helm_controller")
async def test_a_chart_with_a_hook_and_a_test_is_released_from_the_http_repository(
        kube: KubeClient, namespace: str, tmp_path: Path, helm_tools: HelmTools, cluster_info: ClusterInfo) -> None:
    """Issue 13's acceptance: hook and test Pods run, the release is Ready, Available, and helm sees it."""
    root = tmp_path / "repo"
    package(helm_tools, tmp_path / "home", write_hooked_chart(tmp_path / "src"), root)
    index(helm_tools, tmp_path / "home", root)
    server = await HelmHTTPServer(root).start()
    try:
        await helm_repository(kube, namespace, "charts", server.url)
        await kube.create({"apiVersion": HR, "kind": "HelmRelease",
                           "metadata": {"name": "web", "namespace": namespace},
                           "spec": {"interval": "10m", "test": {"enable": True}, "values": {"replicas": 2},
                                    "chart": {"spec": {"chart": "hooked", "version": "0.1.x",
                                                       "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}}})
        release = await until(kube, HR, "HelmRelease", "web", namespace, ready, "released and tested", timeout=180)
    finally:
        await server.stop()
    assert condition(release, "Ready")["reason"] == "TestSucceeded"
    assert condition(release, "Released")["message"] == (
        f"Helm install succeeded for release {namespace}/web.v1 with chart hooked@0.1.0")
    [snapshot] = release["status"]["history"]
    assert (snapshot["chartName"], snapshot["chartVersion"], snapshot["status"]) == ("hooked", "0.1.0", "deployed")
    assert snapshot["testHooks"]["web-smoke"]["phase"] == "Succeeded"
    assert server.requests["hooked-0.1.0.tgz"] == 1
    for job in ("web-migrate", "web-smoke"):
        done = await kube.get("batch/v1", "Job", job, namespace)
        assert (done.get("status") or {}).get("succeeded") == 1, f"hook Job {job}: {done.get('status')}"
    await deployment_available(kube, "web", namespace, 2)

    home = tmp_path / "helm-home"
    [listed] = helm_json(helm_tools, cluster_info, home, "list", "-n", namespace)
    assert (listed["name"], listed["status"], listed["chart"], listed["revision"]) == (
        "web", "deployed", "hooked-0.1.0", "1")
    [revision] = helm_json(helm_tools, cluster_info, home, "history", "web", "-n", namespace)
    assert (revision["revision"], revision["status"], revision["chart"]) == (1, "deployed", "hooked-0.1.0")
    assert revision["description"] == "Install complete"
