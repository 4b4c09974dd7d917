"""Dependency resolution of chart directories: what is missing, where it comes from, what is refused."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from headwater.source.helm.archive import Chart, ChartError, read_archive
from headwater.source.helm.dependencies import (
    Dependency,
    DependencyError,
    LocalChart,
    RemoteChart,
    archive_name,
    locate,
    missing,
    requested,
)
from headwater.source.helm.dependency_build import build_dependencies
from headwater.source.helm.dependency_repos import repository_key
from headwater.source.helm.directory import chart_directory, read_directory
from headwater.source.helm.limits import DEFAULT_LIMITS, HelmLimits
from tests.unit.artifact.conftest import write_tree

PARENT = "apiVersion: v2\nname: app\nversion: 1.0.0\n"


def chart(files: dict[str, bytes], dependencies: list[dict[str, str]] | None = None) -> Chart:
    metadata = {"apiVersion": "v2", "name": "app", "version": "1.0.0"}
    if dependencies is not None:
        metadata["dependencies"] = dependencies  # type: ignore[assignment]
    return Chart(metadata, {"Chart.yaml": b"", **files})


@pytest.mark.parametrize(("lock", "expected"), [
    (None, [Dependency("db", "1.x", "https://charts.example/", "store"), Dependency("cache", "", "")]),
    (b"dependencies:\n- {name: db, version: 1.4.2, repository: 'https://charts.example/'}\n",
     [Dependency("db", "1.4.2", "https://charts.example/")]),
    (b"dependencies: []\ndigest: sha256:00\n", []),
])
def test_the_lock_file_takes_precedence_over_chart_yaml(lock: bytes | None, expected: list[Dependency]) -> None:
    files = {"Chart.lock": lock} if lock is not None else {}
    subject = chart(files, [{"name": "db", "version": "1.x", "repository": "https://charts.example/",
                             "alias": "store"}, {"name": "cache"}])
    assert requested(subject, "chart") == expected


@pytest.mark.parametrize(("files", "expected"), [
    ({}, [Dependency("chart-yaml", "", "")]),
    ({"requirements.yaml": b"# no list here\n"}, [Dependency("chart-yaml", "", "")]),
    ({"requirements.yaml": b"dependencies:\n- {name: db, version: 1.x, repository: 'https://a/'}\n"},
     [Dependency("db", "1.x", "https://a/")]),
    ({"requirements.yaml": b"dependencies:\n- {name: db, version: 1.x, repository: 'https://a/'}\n",
      "requirements.lock": b"dependencies:\n- {name: db, version: 1.2.0, repository: 'https://a/'}\n",
      "Chart.lock": b"dependencies:\n- {name: ignored, version: 9.9.9}\n"},
     [Dependency("db", "1.2.0", "https://a/")]),
])
def test_the_deprecated_requirements_files_count_as_helm_reads_them(files: dict[str, bytes],
                                                                    expected: list[Dependency]) -> None:
    subject = Chart({"apiVersion": "v1", "name": "app", "version": "1.0.0", "dependencies": [{"name": "chart-yaml"}]},
                    {"Chart.yaml": b"", **files})
    assert requested(subject, "chart") == expected


@pytest.mark.parametrize(("dependencies", "lock", "message"), [
    ([{"version": "1"}], None, "chart/Chart.yaml: dependencies[0] has no name"),
    ([{"name": "db", "version": 1}], None, "chart/Chart.yaml: dependencies[0].version must be a string"),
    (None, b"- a\n", "chart/Chart.lock: the file is not a mapping"),
    (None, b"dependencies: {db: 1}\n", "chart/Chart.lock: dependencies must be a list"),
])
def test_malformed_dependency_lists_are_refused(dependencies: list[dict[str, object]] | None, lock: bytes | None,
                                                message: str) -> None:
    files = {"Chart.lock": lock} if lock is not None else {}
    with pytest.raises(ChartError, match=re.escape(message)):
        requested(chart(files, dependencies), "chart")  # type: ignore[arg-type]


@pytest.mark.parametrize(("path", "name"), [
    ("redis-1.2.3.tgz", "redis"), ("redis-cluster-1.2.3.tgz", "redis-cluster"), ("db-1.0.0-rc.1+b.2.tgz", "db"),
    ("redis.tgz", None), ("redis-latest.tgz", None), ("redis-1.2.3.tar", None),
])
def test_archive_names(path: str, name: str | None) -> None:
    assert archive_name(path) == name


def test_vendored_charts_and_aliases_are_not_fetched_again() -> None:
    subject = chart({"charts/db/Chart.yaml": b"", "charts/redis-cluster-2.0.0.tgz": b"", "charts/notes.txt": b""})
    wanted = [Dependency("db", "1", "https://a/"), Dependency("redis", "2", "https://a/"),
              Dependency("redis-cluster", "2", "https://a/"), Dependency("web", "3", "https://a/", "db"),
              Dependency("mq", "1", "https://a/", "queue"), Dependency("mq", "1", "https://a/", "jobs")]
    assert missing(subject, wanted) == [Dependency("redis", "2", "https://a/"),
                                        Dependency("mq", "1", "https://a/", "queue")]


@pytest.mark.parametrize(("repository", "where"), [
    ("file://../common", LocalChart("charts/common")),
    ("file://./sub", LocalChart("charts/app/sub")),
    ("file:///lib/x", LocalChart("charts/app/lib/x")),
    ("https://charts.example/stable", RemoteChart("https://charts.example/stable/")),
    ("http://127.0.0.1:8080/charts//", RemoteChart("http://127.0.0.1:8080/charts/")),
    ("oci://registry.example/charts/", RemoteChart("oci://registry.example/charts")),
])
def test_dependency_repositories_are_located(repository: str, where: LocalChart | RemoteChart) -> None:
    assert locate(Dependency("x", "1", repository), "charts/app") == where


@pytest.mark.parametrize(("repository", "message"), [
    ("file://../../../etc", "local chart reference 'file://../../../etc' points outside the source artifact"),
    ("file://../../..", "local chart reference 'file://../../..' points outside the source artifact"),
    ("@stable", "aliased repository dependency is not supported: @stable"),
    ("alias:stable", "invalid dependency repository URL: alias:stable"),
    ("ftp://charts.example/", "invalid dependency repository URL: ftp://charts.example/"),
    ("oci://", "invalid dependency repository URL: oci:// (no registry host)"),
    ("https:///nohost", "invalid dependency repository URL: https:///nohost (the URL has no host)"),
    ("", "it is not in charts/ and names no repository to fetch it from"),
])
def test_unresolvable_repositories_are_refused(repository: str, message: str) -> None:
    with pytest.raises(DependencyError, match=re.escape(message)):
        locate(Dependency("x", "1", repository), "charts/app")


class NoRemote:
    """A chart source for builds that must not reach any repository."""

    async def fetch(self, remote: RemoteChart, dependency: Dependency) -> bytes:
        raise AssertionError(f"{dependency.name} fetched from {remote.url}")


async def build(root: Path, path: str = "charts/app", limits: HelmLimits = DEFAULT_LIMITS) -> Chart:
    parent = read_directory(chart_directory(root, path), label="chart", limits=limits)
    built, _ = await build_dependencies(parent, root=root, chart_path=path, charts=NoRemote(), label="HelmChart ns/x",
                                        limits=limits)
    return built


async def test_a_local_dependency_is_packaged_into_charts(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {
        "charts/app/Chart.yaml": PARENT + "dependencies:\n- {name: common, version: '~0.2', "
                                 "repository: 'file://../common'}\n- {name: db, version: 1.0.0}\n",
        "charts/app/charts/db/Chart.yaml": "apiVersion: v2\nname: db\nversion: 1.0.0\n",
        "charts/common/Chart.yaml": "apiVersion: v2\nname: common\nversion: 0.2.5\ntype: library\n",
        "charts/common/templates/_h.tpl": "{{- define \"x\" }}y{{ end }}\n"})
    built = await build(root)
    assert sorted(p for p in built.files if p.startswith("charts/")) == ["charts/common-0.2.5.tgz",
                                                                         "charts/db/Chart.yaml"]
    common = read_archive(built.files["charts/common-0.2.5.tgz"], label="common")
    assert sorted(common.files) == ["Chart.yaml", "templates/_h.tpl"]


@pytest.mark.parametrize(("files", "message"), [
    ({"charts/app/Chart.yaml": PARENT + "dependencies:\n- {name: common, version: '1', repository: 'file://../../..'}\n"},
     "HelmChart ns/x: failed to add local dependency 'common': local chart reference 'file://../../..' points "
     "outside the source artifact"),
    ({"charts/app/Chart.yaml": PARENT + "dependencies:\n- {name: common, version: '1', repository: 'file://../nope'}\n"},
     "HelmChart ns/x: failed to add local dependency 'common': repository 'file://../nope': path 'charts/nope' not "
     "found in the source artifact"),
    ({"charts/app/Chart.yaml": PARENT + "dependencies:\n- {name: common, version: '>=1', repository: 'file://../c'}\n",
      "charts/c/Chart.yaml": "apiVersion: v2\nname: common\nversion: 0.2.5\n"},
     "HelmChart ns/x: failed to add local dependency 'common': can't get a valid version for constraint '>=1' (the "
     "chart at 'charts/c' is version '0.2.5')"),
    ({"charts/app/Chart.yaml": PARENT + "dependencies:\n- {name: common, version: '1', repository: 'file://../c'}\n",
      "charts/c/Chart.yaml": "apiVersion: v2\nname: other\nversion: 1.0.0\n"},
     "HelmChart ns/x: failed to add local dependency 'common': repository 'file://../c': the chart at 'charts/c' is "
     "named 'other', not 'common'"),
    ({"charts/app/Chart.yaml": PARENT + "dependencies:\n- {name: common, version: 'x.y!', repository: 'file://../c'}\n",
      "charts/c/Chart.yaml": "apiVersion: v2\nname: common\nversion: 1.0.0\n"},
     "HelmChart ns/x: failed to add local dependency 'common': invalid version/constraint format 'x.y!'"),
    ({"charts/app/Chart.yaml": PARENT + "dependencies:\n- {name: db, version: '1', repository: '@stable'}\n"},
     "HelmChart ns/x: failed to add remote dependency 'db': aliased repository dependency is not supported: @stable"),
    ({"charts/app/Chart.yaml": PARENT + "dependencies:\n- {name: db, version: '1'}\n"},
     "HelmChart ns/x: failed to add remote dependency 'db': it is not in charts/ and names no repository"),
])
async def test_unresolvable_dependencies_name_the_chart_dependency_and_repository(
        tmp_path: Path, files: dict[str, str], message: str) -> None:
    root = write_tree(tmp_path / "src", files)  # type: ignore[arg-type]
    with pytest.raises(DependencyError, match=re.escape(message)):
        await build(root)


async def test_a_chart_with_its_dependencies_stays_within_the_total_size(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {
        "charts/app/Chart.yaml": PARENT + "dependencies:\n- {name: c, version: '1', repository: 'file://../c'}\n",
        "charts/app/big.txt": "x" * 3000,
        "charts/c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\n",
        "charts/c/noise.bin": random.Random(0).randbytes(2000)})  # incompressible: the archive is 2000+ bytes
    with pytest.raises(DependencyError, match=r"with its dependencies the chart is \d+ bytes, more than the maximum "
                                              r"of 4000 bytes"):
        await build(root, limits=HelmLimits(max_chart_total_size=4000))


@pytest.mark.parametrize(("url", "key"), [
    ("https://charts.example/stable", "https://charts.example/stable/"),
    ("https://charts.example/stable///", "https://charts.example/stable/"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
    ("oci://registry.example/charts/", "oci://registry.example/charts"),
    ("ftp://charts.example/", None),
    ("", None),
])
def test_helm_repositories_are_matched_by_their_normalized_url(url: str, key: str | None) -> None:
    assert repository_key(url) == key
    if key is not None:
        assert locate(Dependency("x", "1", url), ".") == RemoteChart(key)
