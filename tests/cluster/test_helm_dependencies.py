"""A chart in a Git repository whose dependencies are fetched when the HelmChart is built, then released.

The parent chart depends on `greeter` from an HTTP chart repository behind basic auth (the namespace's
HelmRepository of that URL lends its credentials; the chart's URL lacks the trailing slash the
HelmRepository has, the normalized URLs match), under an alias, with Chart.lock pinning an older version
than the range would pick; on `worker` from Debian's docker-registry (`oci://`, plain HTTP as the
namespace's `insecure` OCI HelmRepository of that URL says); and on a chart next to it in the same Git
repository (`file://`). The HelmRelease installs the four charts' objects; the dependency objects are
there, the Deployment of the dependency Available. The refusals name the chart, the dependency and the repository.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.devcluster.helmtools import HelmTools
from headwater.devcluster.ports import PortAllocator
from headwater.runtime.kube import KubeClient
from headwater.source.helm.archive import read_archive
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
from tests.cluster.helm_repos import HelmHTTPServer, OCIRegistry, index, package
from tests.helm_charts import write_chart
from tests.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NOTES = {
    "charts/notes/Chart.yaml": "apiVersion: v2\nname: notes\nversion: 0.3.1\n",
    "charts/notes/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "
                                      "{{ .Release.Name }}-notes\ndata: {from: notes}\n",
}


WORKER = {
    "Chart.yaml": "apiVersion: v2\nname: worker\nversion: 1.2.0\n",
    "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-worker\n"
                         "data: {from: worker}\n",
}


@pytest.fixture
def worker_registry(tmp_path: Path, helm_tools: HelmTools) -> Iterator[OCIRegistry]:
    """The `worker` chart pushed by `helm push` into a docker-registry."""
    registry = OCIRegistry(tmp_path / "registry").start()
    source = tmp_path / "worker-src" / "worker"
    for name, text in WORKER.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    registry.push(helm_tools, tmp_path / "home", package(helm_tools, tmp_path / "home", source, tmp_path / "out"))
    yield registry
    registry.stop()


@pytest.fixture
async def greeter_repo(tmp_path: Path, helm_tools: HelmTools) -> AsyncIterator[HelmHTTPServer]:
    """greeter 0.1.0 and 0.2.0 in an HTTP repository made by the helm CLI."""
    root = tmp_path / "repo"
    for version in ("0.1.0", "0.2.0"):
        source = tmp_path / f"src-{version}"
        package(helm_tools, tmp_path / "home", write_chart(source, version), root)
        shutil.rmtree(source)
    index(helm_tools, tmp_path / "home", root)
    server = await HelmHTTPServer(root).start()
    yield server
    await server.stop()


def parent_chart(dependencies: str, lock: str | None = None) -> dict[str, str]:
    files = {
        "charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n"
                                 + textwrap.dedent(dependencies),
        "charts/app/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "
                                        "{{ .Release.Name }}-app\ndata: {from: app}\n",
    }
    if lock is not None:
        files["charts/app/Chart.lock"] = textwrap.dedent(lock)
    return files


@pytest.mark.usefixtures("source_controller", "helm_controller")
async def test_dependencies_from_a_helm_repository_and_the_source_are_fetched_and_released(
        kube: KubeClient, namespace: str, tmp_path: Path, repo_builder: RepoBuilder, git_http: GitHttpServer,
        repo_name: str, greeter_repo: HelmHTTPServer, worker_registry: OCIRegistry, helm_tools: HelmTools,
        cluster_info: ClusterInfo) -> None:
    greeter_repo.credentials = ("reader", "s3cret")
    url = greeter_repo.url
    oci = f"oci://{worker_registry.host}/charts"
    repo_builder.create(repo_name, {**NOTES, **parent_chart(f"""\
        - name: greeter
          version: 0.x
          repository: {url}
          alias: frontend
        - name: notes
          version: ~0.3
          repository: file://../notes
        - name: worker
          version: ">=1.0.0 <2.0.0"
          repository: {oci}
        """, lock=f"""\
        dependencies:
        - name: greeter
          repository: {url}
          version: 0.1.0
        - name: worker
          repository: {oci}
          version: 1.2.0
        - name: notes
          repository: file://../notes
          version: 0.3.1
        digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
        generated: "2026-01-01T00:00:00Z"
        """)})
    await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "auth", "namespace": namespace},
                       "stringData": {"username": "reader", "password": "s3cret"}})
    await helm_repository(kube, namespace, "greeters", url + "/", secretRef={"name": "auth"})
    await until(kube, SRC, "HelmRepository", "greeters", namespace, ready, "Ready")
    await helm_repository(kube, namespace, "registry", oci + "/", type="oci", insecure=True)
    await kube.create({"apiVersion": SRC, "kind": "GitRepository", "metadata": {"name": "src", "namespace": namespace},
                       "spec": {"interval": "10m", "url": git_http.url(repo_name), "ref": {"branch": "main"}}})
    await kube.create({"apiVersion": HR, "kind": "HelmRelease", "metadata": {"name": "web", "namespace": namespace},
                       "spec": {"interval": "10m", "values": {"frontend": {"replicas": 2, "greeting": "hi"}},
                                "chart": {"spec": {"chart": "./charts/app",
                                                   "sourceRef": {"kind": "GitRepository", "name": "src"}}}}})
    release = await until(kube, HR, "HelmRelease", "web", namespace, ready, "released", timeout=180)
    assert condition(release, "Ready")["reason"] == "InstallSucceeded"

    chart = await kube.get(SRC, "HelmChart", f"{namespace}-web", namespace)
    assert condition(chart, "Ready")["message"] == "packaged 'app' chart with version '1.0.0'"
    packaged = read_archive(await download(chart["status"]["artifact"]["url"]), label="artifact")
    assert sorted(path for path in packaged.files if path.startswith("charts/")) == [
        "charts/greeter-0.1.0.tgz", "charts/notes-0.3.1.tgz", "charts/worker-1.2.0.tgz"]  # the lock's pin, not 0.2.0
    assert read_archive(packaged.files["charts/greeter-0.1.0.tgz"], label="greeter").version == "0.1.0"
    assert greeter_repo.requests["greeter-0.1.0.tgz"] == 1
    assert greeter_repo.requests["greeter-0.2.0.tgz"] == 0

    for name, data in (("web-app", {"from": "app"}), ("web-notes", {"from": "notes"}),
                       ("web-worker", {"from": "worker"}), ("web-config", {"greeting": "hi"})):
        assert (await kube.get("v1", "ConfigMap", name, namespace))["data"] == data
    await deployment_available(kube, "web", namespace, 2)
    [listed] = helm_json(helm_tools, cluster_info, tmp_path / "helm-home", "list", "-n", namespace)
    assert (listed["name"], listed["status"], listed["chart"]) == ("web", "deployed", "app-1.0.0")


@pytest.mark.usefixtures("source_controller")
async def test_unresolvable_dependencies_are_reported_with_chart_dependency_and_repository(
        kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
        greeter_repo: HelmHTTPServer) -> None:
    closed = f"http://127.0.0.1:{PortAllocator().allocate()}/charts"
    cases = {
        "missing": (f"- {{name: greeter, version: 9.x, repository: '{greeter_repo.url}'}}\n",
                    f"failed to add remote dependency 'greeter': failed to get chart 'greeter' version '9.x' from "
                    f"'{greeter_repo.url}': no 'greeter' chart with version matching '9.x' found"),
        "unreachable": (f"- {{name: greeter, version: 0.1.x, repository: '{closed}'}}\n",
                        f"failed to add remote dependency 'greeter': failed to get chart 'greeter' version '0.1.x' "
                        f"from '{closed}': failed to fetch {closed}/index.yaml: cannot connect ("),
        "traversal": ("- {name: passwd, version: '*', repository: 'file://../../../etc'}\n",
                      "failed to add local dependency 'passwd': local chart reference 'file://../../../etc' points "
                      "outside the source artifact"),
        "aliased": ("- {name: db, version: '1', repository: '@stable'}\n",
                    "failed to add remote dependency 'db': aliased repository dependency is not supported: @stable"),
    }
    files: dict[str, str] = {}
    for name, (dependencies, _) in cases.items():
        files.update({path.replace("charts/app/", f"charts/{name}/"): text.replace("name: app", f"name: {name}")
                      for path, text in parent_chart(dependencies).items()})
    repo_builder.create(repo_name, files)
    await kube.create({"apiVersion": SRC, "kind": "GitRepository", "metadata": {"name": "src", "namespace": namespace},
                       "spec": {"interval": "10m", "url": git_http.url(repo_name), "ref": {"branch": "main"}}})
    for name in cases:
        await helm_chart(kube, namespace, name, f"./charts/{name}", ("GitRepository", "src"))
    for name, (_, detail) in cases.items():
        failed = await until(kube, SRC, "HelmChart", name, namespace, not_ready("DependencyBuildError"), "refused")
        message = condition(failed, "Ready")["message"]
        assert message.startswith(f"dependency build error: HelmChart {namespace}/{name} chart './charts/{name}': "
                                  f"{detail}"), message
        assert condition(failed, "BuildFailed")["reason"] == "DependencyBuildError"
        assert "artifact" not in failed["status"]

        async def warned(chart: str = name, text: str = message) -> bool:
            events = (await kube.list("v1", "Event", namespace, field_selector=f"involvedObject.name={chart}"))["items"]
            return any(e["type"] == "Warning" and e["reason"] == "DependencyBuildError" and e["message"] == text
                       for e in events)
        await wait_for(warned, f"a DependencyBuildError Warning event for {name}", timeout=30)
