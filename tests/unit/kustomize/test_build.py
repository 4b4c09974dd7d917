"""The build step with the real kustomize: generated kustomizations, overlay fields, confinement, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.api.models.kustomize import KustomizationSpec
from headwater.kustomize.build import (
    BuildCache,
    BuildError,
    Built,
    build,
    build_key,
    generate_kustomization,
    is_remote_reference,
    kubectl_binary,
)

pytestmark = pytest.mark.unit

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.0"}]}
"""


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def names(built: list[Built]) -> list[str]:
    return sorted(f"{b.obj['kind']}/{b.obj['metadata'].get('namespace', '')}/{b.obj['metadata']['name']}"
                  for b in built)


def test_generated_kustomization_lists_manifests_and_nested_kustomizations(tmp_path: Path) -> None:
    tree(tmp_path, {
        "apps/web.yaml": DEPLOYMENT,
        "apps/notes.yaml": "just: data\n",
        "apps/readme.md": "# docs\n",
        "apps/nested/kustomization.yaml": "resources: [cm.yaml]\n",
        "apps/nested/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n",
        "apps/nested/ignored.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: not-listed}\n",
    })
    assert generate_kustomization(tmp_path / "apps")["resources"] == ["nested", "web.yaml"]
    assert names(build(tmp_path, KustomizationSpec({"path": "apps"}))) == ["ConfigMap//cfg", "Deployment//web"]


def test_overlay_fields_are_applied(tmp_path: Path) -> None:
    tree(tmp_path, {"kustomization.yaml": "resources: [web.yaml]\ncommonLabels: {}\n", "web.yaml": DEPLOYMENT})
    spec = {"targetNamespace": "prod", "namePrefix": "a-", "nameSuffix": "-z",
            "commonMetadata": {"labels": {"team": "x"}, "annotations": {"owner": "y"}},
            "images": [{"name": "nginx", "newTag": "2.0"}],
            "patches": [{"patch": "- op: replace\n  path: /spec/replicas\n  value: 3\n",
                         "target": {"kind": "Deployment"}}]}
    [built] = build(tmp_path, KustomizationSpec(spec))
    deployment = built.obj
    assert deployment["metadata"]["name"] == "a-web-z"
    assert deployment["metadata"]["namespace"] == "prod"
    assert deployment["metadata"]["labels"] == {"team": "x"}
    assert deployment["metadata"]["annotations"] == {"owner": "y"}
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}, "labels must not touch selectors"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2.0"


@pytest.mark.parametrize(
    ("files", "spec", "message"),
    [
        ({"a.yaml": DEPLOYMENT}, {"path": "../../etc"}, "spec.path '../../etc' points outside the artifact"),
        ({"a.yaml": DEPLOYMENT}, {"path": "missing"}, "spec.path 'missing' not found"),
        ({"bad.yaml": "kind: [unclosed\n"}, {}, "bad.yaml: invalid YAML"),
        ({"kustomization.yaml": "resources: [missing.yaml]\n"}, {}, "kustomize build failed"),
        ({"kustomization.yaml": "resources: [https://github.com/x/y//base]\n"}, {"_remote": True},
         "resources 'https://github.com/x/y//base' is a remote base, which is not allowed (--no-remote-bases)"),
        ({"kustomization.yaml": "resources: [../../../../etc/passwd]\n"}, {},
         "'../../../../etc/passwd' points outside"),
        ({"kustomization.yaml": "resources: [a.yaml]\nconfigMapGenerator: [{name: x, files: [k=/etc/hostname]}]\n",
          "a.yaml": DEPLOYMENT}, {}, "'/etc/hostname' points outside the artifact"),
        ({"app/kustomization.yaml": "patches: [{path: ../../outside.yaml}]\n"}, {"path": "app"},
         "'../../outside.yaml' points outside"),
        # #12 defect 1: a builtin generator in a separate file, or inline, read any file of the controller.
        ({"kustomization.yaml": "generators: [gen.yaml]\n",
          "gen.yaml": "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: x}\nfiles: [k=/etc/passwd]\n"},
         {}, "gen.yaml: generators ConfigMapGenerator files '/etc/passwd' points outside the artifact"),
        ({"kustomization.yaml": "generators:\n- |\n  apiVersion: builtin\n  kind: SecretGenerator\n"
                                "  metadata: {name: x}\n  files: [/etc/hostname]\n"},
         {}, "kustomization.yaml: generators SecretGenerator files '/etc/hostname' points outside the artifact"),
        ({"kustomization.yaml": "generators: [gens]\n", "gens/kustomization.yaml": "resources: [g.yaml]\n",
          "gens/g.yaml": "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: x}\nenvs: [../../env]\n"},
         {}, "gens/g.yaml: resources ConfigMapGenerator envs '../../env' points outside the artifact"),
        ({"kustomization.yaml": "transformers: [t.yaml]\n",
          "t.yaml": "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: x}\npath: /etc/passwd\n"},
         {}, "t.yaml: transformers PatchTransformer path '/etc/passwd' points outside the artifact"),
        ({"kustomization.yaml": "transformers: [t.yaml]\n",
          "t.yaml": "apiVersion: example.com/v1\nkind: Exec\nmetadata: {name: x}\n"},
         {}, "is a kustomize plugin, and plugins are disabled in builds"),
        ({"kustomization.yaml": "helmCharts: [{name: x}]\n"}, {}, "helmCharts is not supported"),
        # #12 defect 2: every URL form is remote; file:// is refused even without --no-remote-bases.
        ({"kustomization.yaml": "resources: [file:///etc/kubernetes]\n"}, {},
         "'file:///etc/kubernetes' is a file:// URL, which is not allowed"),
        *[({"kustomization.yaml": f"resources: ['{url}']\n"}, {"_remote": True}, "(--no-remote-bases)")
          for url in ("git::https://example.com/r.git", "git@github.com:org/repo", "ssh://git@h/r",
                      "github.com/org/repo/base?ref=v1", "example.com/org/repo.git/base", "http://h/r")],
    ],
)
def test_bad_input_names_the_file_or_field(tmp_path: Path, files: dict[str, str], spec: dict[str, Any],
                                           message: str) -> None:
    tree(tmp_path / "root", files)
    no_remote = bool(spec.pop("_remote", False))
    with pytest.raises(BuildError) as failure:
        build(tmp_path / "root", KustomizationSpec(spec), no_remote_bases=no_remote)
    assert message in str(failure.value)
    assert str(tmp_path) not in str(failure.value), "messages must not show the controller's temp paths"


@pytest.mark.parametrize(
    ("item", "remote"),
    [
        ("https://github.com/x/y//base?ref=v1", True),
        ("http://example.com/base.yaml", True),
        ("ssh://git@example.com/x/y.git", True),
        ("git::https://example.com/x/y.git", True),
        ("git@github.com:x/y.git", True),
        ("github.com/x/y/base", True),
        ("file:///var/lib/repos/other.git", True),
        ("example.com/org/repo//base?ref=main", True),
        ("example.com/org/repo", True),
        ("./base?ref=main", True),
        ("base", False),
        ("cm.yaml", False),
        ("missing.yaml", False),
        ("../shared", False),
        ("local.dir/cm.yaml", False),
    ],
)
def test_remote_references_are_recognised_in_every_form(tmp_path: Path, item: str, remote: bool) -> None:
    tree(tmp_path, {"base/cm.yaml": "kind: ConfigMap\n", "cm.yaml": "kind: ConfigMap\n",
                    "local.dir/cm.yaml": "kind: ConfigMap\n"})
    assert is_remote_reference(item, tmp_path) is remote


def test_missing_components_can_be_ignored(tmp_path: Path) -> None:
    tree(tmp_path, {"web.yaml": DEPLOYMENT, "comp/kustomization.yaml":
                    "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations: {c: '1'}\n"})
    spec = {"components": ["comp", "absent"], "ignoreMissingComponents": True}
    [built] = build(tmp_path, KustomizationSpec(spec))
    deployment = built.obj
    assert deployment["metadata"]["annotations"] == {"c": "1"}
    written = yaml.safe_load((tmp_path / "kustomization.yaml").read_text())
    assert written["components"] == ["comp"]
    assert written["resources"] == ["web.yaml"], "a Component directory is not a resource"


def test_yaml_1_1_booleans_stay_strings(tmp_path: Path) -> None:
    tree(tmp_path, {"web.yaml": DEPLOYMENT})
    [built] = build(tmp_path, KustomizationSpec({"commonMetadata": {"annotations": {"a": "y", "b": "on", "c": "no"}}}))
    deployment = built.obj
    assert deployment["metadata"]["annotations"] == {"a": "y", "b": "on", "c": "no"}


BASE_SPEC: dict[str, Any] = {"path": "./apps", "interval": "1m", "prune": True}


@pytest.mark.parametrize(
    ("change", "shapes"),
    [
        ({"interval": "5m"}, False),
        ({"prune": False}, False),
        ({"timeout": "2m", "wait": True, "force": True}, False),
        ({"path": "./other"}, True),
        ({"targetNamespace": "t"}, True),
        ({"namePrefix": "x-"}, True),
        ({"nameSuffix": "-x"}, True),
        ({"commonMetadata": {"labels": {"a": "b"}}}, True),
        ({"patches": [{"patch": "{}"}]}, True),
        ({"images": [{"name": "nginx", "newTag": "2"}]}, True),
        ({"components": ["c"]}, True),
        ({"ignoreMissingComponents": True}, True),
        ({"ignoreMissingComponents": False}, False),  # the API's default: the same build
    ],
)
def test_build_key_changes_with_every_shaping_input(change: dict[str, Any], shapes: bool) -> None:
    key = build_key("sha256:aa", KustomizationSpec(BASE_SPEC))
    assert (build_key("sha256:aa", KustomizationSpec({**BASE_SPEC, **change})) != key) is shapes


def test_build_key_covers_the_artifact_and_extra_inputs_and_cache_hits() -> None:
    base = KustomizationSpec(BASE_SPEC)
    key = build_key("sha256:aa", base)
    assert build_key("sha256:bb", base) != key
    assert build_key("sha256:aa", base, extra={"VAR": "1"}) != key
    cache = BuildCache()
    built = [Built({"kind": "A"}, "kind: A\n")]
    cache.put(("ns", "one"), key, built)
    assert cache.get(("ns", "one"), key) == built
    assert cache.get(("ns", "one"), "another-key") is None, "changed inputs miss"
    assert cache.get(("ns", "two"), key) is None
    assert (cache.hits, cache.misses) == (1, 2)


def test_build_cache_keeps_one_entry_per_kustomization_whatever_their_number() -> None:
    cache = BuildCache()
    for index in range(5000):
        cache.put(("ns", f"ks-{index}"), f"key-{index}", [])
    assert len(cache) == 5000
    assert all(cache.get(("ns", f"ks-{i}"), f"key-{i}") == [] for i in range(5000)), "nothing evicted"
    cache.put(("ns", "ks-0"), "new-key", [])
    assert len(cache) == 5000, "a new build replaces the old one"
    cache.forget(("ns", "ks-0"))
    assert len(cache) == 4999


def test_files_elsewhere_in_the_artifact_can_be_used_as_in_flux(tmp_path: Path) -> None:
    tree(tmp_path, {
        "base/web.yaml": DEPLOYMENT,
        "patches/replicas.yaml": "- op: replace\n  path: /spec/replicas\n  value: 5\n",
        "overlay/kustomization.yaml": "resources: [../base/web.yaml]\n"
                                      "patches: [{path: ../patches/replicas.yaml, target: {kind: Deployment}}]\n",
    })
    [built] = build(tmp_path, KustomizationSpec({"path": "overlay"}))
    assert built.obj["spec"]["replicas"] == 5


def test_only_what_spec_path_builds_is_checked(tmp_path: Path) -> None:
    """#12 defect 4: a hostile directory elsewhere in the artifact must not break other paths."""
    tree(tmp_path / "root", {"good/a.yaml": DEPLOYMENT,
                             "evil/kustomization.yaml": "configMapGenerator: [{name: x, files: [/etc/passwd]}]\n",
                             "evil/bomb.yaml": "a: &a [" + ",".join(["x"] * 10) + "]\n"})
    [built] = build(tmp_path / "root", KustomizationSpec({"path": "good"}))
    assert built.obj["kind"] == "Deployment"
    with pytest.raises(BuildError, match="points outside the artifact"):
        build(tmp_path / "root", KustomizationSpec({"path": "evil"}))


def test_the_kustomize_child_cannot_read_outside_the_artifact(tmp_path: Path) -> None:
    """Defence in depth: with the reference check bypassed, Landlock still stops the read."""
    from headwater.kustomize.sandbox import Limits, landlock_available, run_confined

    if not landlock_available():
        pytest.skip("this kernel has no Landlock")
    (tmp_path / "outside.txt").write_text("controller-secret")
    root = tree(tmp_path / "root", {"kustomization.yaml":
                                    f"configMapGenerator: [{{name: x, files: [k={tmp_path}/outside.txt]}}]\n"})
    argv = [kubectl_binary(), "kustomize", "--load-restrictor=LoadRestrictionsNone", str(root)]
    result = run_confined(argv, readable=root, no_network=True, limits=Limits(seconds=60), what="build")
    assert result.returncode != 0
    assert b"permission denied" in result.stderr
    assert b"controller-secret" not in result.stdout


def test_the_kustomize_child_is_stopped_at_its_output_limit(tmp_path: Path) -> None:
    from headwater.kustomize.sandbox import Limits, SandboxError, run_confined

    root = tree(tmp_path / "root", {"kustomization.yaml": "configMapGenerator: [{name: x, literals: [k=%s]}]\n"
                                    % ("v" * 4096)})
    argv = [kubectl_binary(), "kustomize", str(root)]
    with pytest.raises(SandboxError, match="produced more than 2 KiB of manifests"):
        run_confined(argv, readable=root, no_network=True, limits=Limits(output_bytes=2048, seconds=60),
                     what="build")


def laughs(levels: int) -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "data:",
             "  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("content", "message"), [
    pytest.param(laughs(9), "apps/lol.yaml: aliases expand", id="alias bomb"),
    pytest.param("a: " + "[" * 20_000 + "]" * 20_000 + "\n", "apps/lol.yaml: nested deeper than 512 levels",
                 id="20,000-deep flow nesting"),
    pytest.param("".join(" " * i + "k:\n" for i in range(1500)) + " " * 1500 + "v: 1\n",
                 "apps/lol.yaml: nested deeper than 512 levels", id="deep block nesting"),
])
def test_hostile_yaml_in_a_resource_is_refused_before_kustomize_runs(
        tmp_path: Path, content: str, message: str) -> None:
    """#12 defects 3 and 6: an alias bomb or deep nesting is refused naming the file, never a traceback
    (RecursionError) and never a kustomize child growing without bound."""
    tree(tmp_path, {"apps/kustomization.yaml": "resources: [lol.yaml]\n", "apps/lol.yaml": content})
    with pytest.raises(BuildError, match=message):
        build(tmp_path, KustomizationSpec({"path": "apps"}))


def test_an_alias_bomb_reaching_the_kustomize_child_is_stopped_at_its_memory_limit(tmp_path: Path) -> None:
    """Defence in depth for defect 3: with our YAML check bypassed, kustomize expands the bomb and the
    child's address-space limit stops it with a message naming the limit (it once grew to 13 GB)."""
    from headwater.kustomize.sandbox import Limits, SandboxError, run_confined

    root = tree(tmp_path / "root", {"kustomization.yaml": "resources: [lol.yaml]\n", "lol.yaml": laughs(9)})
    argv = [kubectl_binary(), "kustomize", str(root)]
    with pytest.raises(SandboxError, match="build exceeded the 1 GiB memory limit"):
        run_confined(argv, readable=root, no_network=True, limits=Limits(seconds=120), what="build")
