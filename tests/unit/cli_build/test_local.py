"""The local side of `build/diff kustomization`: Kustomization files, flags, scratch builds, prune list."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.kustomize.local import (
    LocalBuildError,
    Request,
    build_local,
    build_root,
    local_path,
    parse_local_sources,
    read_kustomization_file,
    remove_ignored,
    to_yaml,
)
from headwater.kustomize.preview import masked_pair, pruned, without_noise

pytestmark = pytest.mark.unit

KS = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: %s%s}\nspec: {path: ./}\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {v: '${V:=none}'}\n"


def test_read_kustomization_file_picks_name_and_namespace(tmp_path: Path) -> None:
    file = tmp_path / "ks.yaml"
    file.write_text("\n---\n".join([CM % "x", KS % ("app", ", namespace: other"), KS % ("app", "")]))
    found = read_kustomization_file(file, "app", "apps")
    assert found["metadata"] == {"name": "app", "namespace": "apps"}
    with pytest.raises(LocalBuildError, match="failed to find kustomization with name 'web' and namespace 'apps'"):
        read_kustomization_file(file, "web", "apps")


@pytest.mark.parametrize(("text", "message"), [
    ("a: [", "failed to unmarshal kustomization file"),
    (KS.replace("spec: {path: ./}", "spec: 3") % ("app", ""), "Kustomization 'apps/app' has no spec"),
])
def test_read_kustomization_file_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "ks.yaml"
    file.write_text(text)
    with pytest.raises(LocalBuildError, match=message) as err:
        read_kustomization_file(file, "app", "apps")
    assert str(file) in str(err.value)


@pytest.mark.parametrize(("values", "expected"), [
    ((), {}),
    (("GitRepository/flux-system/repo=./a",), {"GitRepository/flux-system/repo": "./a"}),
    (("GitRepository/a/r=x,OCIRepository/b/o=y", "Bucket/c/b=z"),
     {"GitRepository/a/r": "x", "OCIRepository/b/o": "y", "Bucket/c/b": "z"}),
])
def test_parse_local_sources(values: tuple[str, ...], expected: dict[str, str]) -> None:
    assert parse_local_sources(values) == expected


@pytest.mark.parametrize("bad", ["GitRepository/repo=./a", "GitRepository/a/r", "GitRepository//r=x"])
def test_parse_local_sources_rejects(bad: str) -> None:
    with pytest.raises(LocalBuildError, match="is not Kind/namespace/name=path"):
        parse_local_sources((bad,))


def test_local_path_of_a_nested_kustomization() -> None:
    nested = {"metadata": {"name": "child", "namespace": "ns"},
              "spec": {"path": "./apps", "sourceRef": {"kind": "GitRepository", "name": "repo"}}}
    assert local_path(nested, {"GitRepository/ns/repo": "/src"}) == Path("/src/apps")
    with pytest.raises(LocalBuildError, match="cannot get local path for GitRepository/ns/repo of kustomization child"):
        local_path(nested, {})


def test_to_yaml_is_flux_multidoc() -> None:
    assert to_yaml([{"kind": "A", "apiVersion": "v1"}, {"b": [1]}]) == "apiVersion: v1\nkind: A\n---\nb:\n- 1\n---\n"


def test_remove_ignored(tmp_path: Path) -> None:
    for name in ("keep.yaml", "skip/a.yaml", "deep/x/drop.yaml", "deep/x/keep.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    remove_ignored(tmp_path, ["/skip/", "drop.yaml"])
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["deep/x/keep.yaml", "keep.yaml"]


def test_dry_run_build_of_a_generated_kustomization(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.yaml").write_text(CM % "a")
    (tmp_path / "app" / "ignored.yaml").write_text(CM % "b")
    ks = tmp_path / "ks.yaml"
    ks.write_text(yaml.safe_dump({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "app"},
        "spec": {"path": "./app", "targetNamespace": "t", "postBuild": {
            "substitute": {"V": "set"}, "substituteFrom": [{"kind": "Secret", "name": "absent"}]}}}))
    request = Request(name="app", namespace="ns", path=tmp_path / "app", kustomization_file=ks,
                      ignore_paths=("ignored.yaml",), dry_run=True)
    results = asyncio.run(build_local(request, None, None))
    assert [r.objects for r in results] == [[{
        "apiVersion": "v1", "kind": "ConfigMap", "data": {"v": "set"},
        "metadata": {"name": "a", "namespace": "t", "labels": {"kustomize.toolkit.fluxcd.io/name": "app",
                                                              "kustomize.toolkit.fluxcd.io/namespace": "ns"}}}]]
    assert sorted(p.name for p in (tmp_path / "app").iterdir()) == ["a.yaml", "ignored.yaml"], "files untouched"


def test_without_noise_and_masked_pair() -> None:
    live: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "status": {},
                            "metadata": {"name": "s", "uid": "u", "resourceVersion": "1", "managedFields": [],
                                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
                            "data": {"a": "MQ=="}}
    merged = {**live, "data": {"a": "Mg=="}}
    assert without_noise(live)["metadata"] == {"name": "s", "annotations": live["metadata"]["annotations"]}
    old, new, drifted = masked_pair(merged, live, merged)
    assert drifted
    assert (old["data"], new["data"]) == ({"a": "*** (before)"}, {"a": "*** (after)"})
    assert old["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == "***"
    assert live["data"] == {"a": "MQ=="}, "the inputs are not modified"


def test_masked_sops_values_compare_by_keys_only() -> None:
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "MQ=="}}
    desired = {**live, "data": {"a": "KipTT1BTKio="}}  # **SOPS**
    assert masked_pair(desired, live, desired)[2] is False
    assert masked_pair(desired, live, {**desired, "data": {"a": "x", "b": "y"}})[2] is True


def test_pruned_lists_inventory_objects_left_out_of_the_build() -> None:
    ks = {"spec": {"prune": True}, "status": {"inventory": {"entries": [
        {"id": "ns_old_apps_Deployment", "v": "v1"}, {"id": "ns_kept__ConfigMap", "v": "v1"}]}}}
    kept = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept", "namespace": "ns"}}
    assert [(c.action, c.subject) for c in pruned(ks, [kept])] == [("deleted", "Deployment/ns/old")]
    assert pruned({**ks, "spec": {"prune": False}}, [kept]) == []


def test_build_root_reaches_only_what_the_kustomizations_reference(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    for name in ("apps/prod", "apps/base", "other"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "apps/prod/kustomization.yaml").write_text("resources: [../base]\n")
    (tmp_path / "apps/base/kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (tmp_path / "other/kustomization.yaml").write_text("resources: [../../../etc]\n")
    assert build_root(tmp_path / "apps/base") == tmp_path / "apps/base"
    assert build_root(tmp_path / "apps/prod") == tmp_path / "apps"
    assert build_root(tmp_path / "other") == tmp_path, "never above the work tree: the build refuses it"


def write_ks(path: Path, name: str, spec: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                                    "metadata": {"name": name}, "spec": spec}))


def test_recursive_dry_run_follows_local_sources(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "child.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "child", "namespace": "ns"},
        "spec": {"path": "./apps", "sourceRef": {"kind": "GitRepository", "name": "other"}}}))
    (tmp_path / "checkout" / "apps").mkdir(parents=True)
    (tmp_path / "checkout" / "apps" / "cm.yaml").write_text(CM % "from-child")
    write_ks(tmp_path / "ks.yaml", "parent", {"path": "./infra"})
    request = Request(name="parent", namespace="ns", path=tmp_path / "infra", kustomization_file=tmp_path / "ks.yaml",
                      dry_run=True, recursive=True,
                      local_sources={"GitRepository/ns/other": str(tmp_path / "checkout")})
    results = asyncio.run(build_local(request, None, None))
    assert [(r.kustomization["metadata"]["name"], [o["metadata"]["name"] for o in r.objects]) for r in results] == [
        ("parent", ["child"]), ("child", ["from-child"])]
    child_labels = results[1].objects[0]["metadata"]["labels"]
    assert child_labels["kustomize.toolkit.fluxcd.io/name"] == "child"


def test_dry_run_build_masks_sops_secrets(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "secret.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"token": "RU5DW0FFUzI1Nl9HQ00sZGF0YTp4XQ=="},
        "sops": {"mac": "ENC[AES256_GCM,data:abc,type:str]", "version": "3.9.0"}}))
    write_ks(tmp_path / "ks.yaml", "app", {"path": "./app"})
    request = Request(name="app", namespace="ns", path=tmp_path / "app", kustomization_file=tmp_path / "ks.yaml",
                      dry_run=True)
    (secret,) = asyncio.run(build_local(request, None, None))[0].objects
    assert secret["data"] == {"token": "KipTT1BTKio="}  # base64 of **SOPS**
    assert "sops" not in secret
