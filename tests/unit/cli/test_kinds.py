"""Kinds resolve as kubectl resolves them, from the kind registry (Flux kinds) and discovery (the rest).

Tables: the registry's `resolve`; the verbs' command trees (`get KS` is `get kustomizations`); and the
commands themselves on a fake cluster (`get`, `reconcile`, `trace`, `events --for`), flags spelled in
pflag's grammar.
"""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from headwater.api import kinds
from headwater.api.kinds import ALL_KINDS, KUSTOMIZATION, resolve
from headwater.cli.main import cli
from tests.unit.cli.fake_cluster import FakeCluster, use

pytestmark = pytest.mark.unit

READY = {"conditions": [{"type": "Ready", "status": "True", "message": "Applied revision: main@sha1:abc"}]}


@pytest.mark.parametrize(("text", "kind"), [
    ("Kustomization", "Kustomization"),
    ("kustomization", "Kustomization"),
    ("KUSTOMIZATIONS", "Kustomization"),
    ("ks", "Kustomization"),
    ("KS", "Kustomization"),
    ("kustomizations.kustomize.toolkit.fluxcd.io", "Kustomization"),
    ("ks.v1.kustomize.toolkit.fluxcd.io", "Kustomization"),
    ("gitrepo", "GitRepository"),
    ("GitRepositories", "GitRepository"),
    ("hr", "HelmRelease"),
    ("helmreleases.helm.toolkit.fluxcd.io", "HelmRelease"),
    ("hc", "HelmChart"),
    ("ocirepo", "OCIRepository"),
    ("alerts", "Alert"),
    ("imagepolicies", "ImagePolicy"),
    ("ks.v9.kustomize.toolkit.fluxcd.io", None),  # a version not served
    ("ks.apps", None),  # another group
    ("deploy", None),  # not a Flux kind
    ("", None),
])
def test_registry_resolves_kubectl_names(text: str, kind: str | None) -> None:
    found = resolve(text)
    assert (found.kind if found else None) == kind


def test_every_kind_has_its_names_and_a_cli_noun() -> None:
    for kind in ALL_KINDS:
        assert kinds.by_cli_noun(kind.cli_noun) is kind
        for name in kind.names:
            assert resolve(name) is kind
            assert resolve(f"{name}.{kind.group}") is kind


@pytest.mark.parametrize(("kind", "obj", "source"), [
    ("Kustomization", {"spec": {"sourceRef": {"kind": "OCIRepository", "name": "app"}}},
     ("OCIRepository", "ns", "app")),
    ("Kustomization", {"spec": {"sourceRef": {"kind": "GitRepository", "name": "r", "namespace": "flux"}}},
     ("GitRepository", "flux", "r")),
    ("HelmRelease", {"spec": {"chart": {"spec": {"sourceRef": {"kind": "HelmRepository", "name": "charts"}}}}},
     ("HelmRepository", "ns", "charts")),
    ("HelmRelease", {"spec": {"chartRef": {"kind": "OCIRepository", "name": "podinfo"}}},
     ("OCIRepository", "ns", "podinfo")),
    ("GitRepository", {"spec": {"include": [{"repository": {"name": "other"}}]}}, None),  # same kind: not a source
    ("Alert", {"spec": {"providerRef": {"name": "slack"}}}, None),
])
def test_source_of(kind: str, obj: dict[str, Any], source: tuple[str, str, str] | None) -> None:
    found = kinds.source_of(kinds.kind_named(kind), {"metadata": {"name": "x", "namespace": "ns"}, **obj})
    assert (None if found is None else (found[0].kind, found[1], found[2])) == source


# -- the verbs' trees ------------------------------------------------------------------------------


def leaf(*words: str) -> click.Command | None:
    command: click.Command | None = cli
    ctx = click.Context(cli, info_name="headwater")
    for word in words:
        assert isinstance(command, click.Group), words
        command = command.get_command(ctx, word)
        if command is None:
            return None
        ctx = click.Context(command, parent=ctx, info_name=word)
    return command


@pytest.mark.parametrize(("canonical", "spellings"), [
    (("get", "kustomizations"), [("get", "ks"), ("get", "KS"), ("get", "kustomization"), ("get", "Kustomization"),
                                 ("get", "kustomizations.kustomize.toolkit.fluxcd.io")]),
    (("get", "sources", "git"), [("get", "source", "git"), ("get", "Sources", "Git"), ("get", "gitrepo"),
                                 ("get", "GitRepositories")]),
    (("get", "helmreleases"), [("get", "hr"), ("get", "HelmRelease")]),
    (("get", "images", "policy"), [("get", "image", "policy"), ("get", "imagepolicies")]),
    (("reconcile", "kustomization"), [("reconcile", "ks"), ("reconcile", "KS"), ("reconcile", "Kustomizations")]),
    (("reconcile", "source", "git"), [("reconcile", "gitrepository"), ("reconcile", "Source", "GIT")]),
    (("suspend", "kustomization"), [("suspend", "ks"), ("suspend", "Kustomization")]),
    (("resume", "source", "git"), [("resume", "gitrepo")]),
    (("export", "source", "git"), [("export", "GitRepository")]),
    (("delete", "kustomization"), [("delete", "ks.kustomize.toolkit.fluxcd.io")]),
    (("create", "kustomization"), [("create", "ks"), ("create", "Kustomization")]),
    (("create", "source", "git"), [("create", "gitrepo")]),
    (("create", "helmrelease"), [("create", "hr"), ("create", "HelmRelease")]),
    (("create", "source", "helm"), [("create", "helmrepo"), ("create", "Source", "Helm")]),
    (("create", "source", "chart"), [("create", "hc"), ("create", "helmcharts")]),
    (("reconcile", "helmrelease"), [("reconcile", "hr"), ("reconcile", "HelmReleases")]),
    (("suspend", "source", "chart"), [("suspend", "hc")]),
    (("delete", "helmrelease"), [("delete", "hr")]),
    (("export", "source", "helm"), [("export", "helmrepositories")]),
    (("tree", "kustomization"), [("tree", "ks"), ("tree", "KS")]),
    (("build", "kustomization"), [("build", "ks")]),
    (("diff", "kustomization"), [("diff", "Kustomization")]),
])
def test_verbs_resolve_kinds_as_kubectl(canonical: tuple[str, ...], spellings: list[tuple[str, ...]]) -> None:
    target = leaf(*canonical)
    assert target is not None
    for words in spellings:
        assert leaf(*words) is target, words


@pytest.mark.parametrize("words", [("get", "deployments"), ("reconcile", "alert"), ("resume", "alert"),
                                   ("suspend", "source", "external"), ("tree", "hr")])
def test_verbs_only_offer_kinds_they_apply_to(words: tuple[str, ...]) -> None:
    assert leaf(*words) is None


def test_every_kind_has_get_export_and_delete() -> None:
    for kind in ALL_KINDS:
        for verb in ("get", "export", "delete"):
            assert leaf(verb, kind.kind) is not None, (verb, kind.kind)


# -- the commands, on a fake cluster ---------------------------------------------------------------


def ks(name: str = "apps", namespace: str = "flux-system", suspend: bool = False) -> dict[str, Any]:
    return {"apiVersion": KUSTOMIZATION.api_version, "kind": "Kustomization",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"sourceRef": {"kind": "GitRepository", "name": "repo"}, "path": "./apps", "suspend": suspend},
            "status": {**READY, "lastAppliedRevision": "main@sha1:abc"}}


def git(name: str = "repo") -> dict[str, Any]:
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"url": "https://example.com/repo", "ref": {"branch": "main"}},
            "status": {**READY, "artifact": {"revision": "main@sha1:abc"}}}


def deployment() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "frontend", "namespace": "flux-system",
                         "labels": {"kustomize.toolkit.fluxcd.io/name": "apps",
                                    "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}}}


def invoke(monkeypatch: pytest.MonkeyPatch, cluster: FakeCluster, args: list[str]) -> Result:
    use(monkeypatch, cluster)
    return CliRunner().invoke(cli, args, env={"FLUX_SYSTEM_NAMESPACE": None, "KUBECONFIG": None})


@pytest.mark.parametrize(("args", "first_column"), [
    (["get", "ks"], ["NAME", "apps"]),
    (["get", "KS"], ["NAME", "apps"]),
    (["get", "Kustomization"], ["NAME", "apps"]),
    (["get", "kustomizations", "--no-header"], ["apps"]),
    (["get", "ks", "--no-header=true"], ["apps"]),
    (["get", "ks", "--no-header=false"], ["NAME", "apps"]),
    (["get", "ks", "-A"], ["NAMESPACE", "flux-system", "team"]),
    (["get", "ks", "-A=true"], ["NAMESPACE", "flux-system", "team"]),
    (["get", "ks", "--all-namespaces=false"], ["NAME", "apps"]),
    (["get", "ks", "-A", "--no-header"], ["flux-system", "team"]),
    (["get", "gitrepo"], ["NAME", "repo"]),
    (["get", "source", "git"], ["NAME", "repo"]),
])
def test_get(monkeypatch: pytest.MonkeyPatch, args: list[str], first_column: list[str]) -> None:
    result = invoke(monkeypatch, FakeCluster(ks(), ks("other", "team"), git()), args)
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()] == first_column


@pytest.mark.parametrize(("args", "reconciled"), [
    (["reconcile", "ks", "apps"], ["Kustomization/apps"]),
    (["reconcile", "KS", "apps"], ["Kustomization/apps"]),
    (["reconcile", "Kustomization", "apps", "--with-source"], ["GitRepository/repo", "Kustomization/apps"]),
    (["reconcile", "kustomization", "apps", "--with-source=true"], ["GitRepository/repo", "Kustomization/apps"]),
    (["reconcile", "kustomization", "apps", "--with-source=false"], ["Kustomization/apps"]),
    (["reconcile", "source", "git", "repo"], ["GitRepository/repo"]),
    (["reconcile", "gitrepositories", "repo"], ["GitRepository/repo"]),
])
def test_reconcile(monkeypatch: pytest.MonkeyPatch, args: list[str], reconciled: list[str]) -> None:
    cluster = FakeCluster(ks(), git())
    result = invoke(monkeypatch, cluster, args)
    assert result.exit_code == 0, result.output
    assert cluster.patched == reconciled
    assert "reconciliation completed" in result.output


def test_reconcile_refuses_a_suspended_object(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = FakeCluster(ks(suspend=True), git())
    result = invoke(monkeypatch, cluster, ["reconcile", "ks", "apps", "--with-source"])
    assert result.exit_code == 1
    assert result.output.strip() == "✗ resource is suspended: Kustomization 'flux-system/apps'"
    assert cluster.patched == []


TRACED = ["deploy/frontend", "Deployment/frontend", "deployments/frontend", "DEPLOY/frontend",
          "deployments.apps/frontend", "deploy.v1.apps/frontend"]


@pytest.mark.parametrize("args", [
    *([spelling] for spelling in TRACED),
    ["deploy", "frontend"],
    ["Deployment", "frontend"],
    ["frontend", "--kind=deployment", "--api-version=apps/v1"],
    ["frontend", "--kind", "Deployment", "--api-version", "apps/v1"],
    ["frontend", "--kind=deployments", "--api-version=apps/v1"],
    ["frontend", "--kind=deploy", "--api-version=apps/v1"],
])
def test_trace_resolves_kinds(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    result = invoke(monkeypatch, FakeCluster(deployment(), ks(), git()), ["trace", *args])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == "Object:          Deployment/frontend"
    assert "Kustomization:   apps" in lines
    assert "GitRepository:   repo" in lines


@pytest.mark.parametrize(("args", "message"), [
    (["widgets/x"], "✗ the server doesn't have a resource type \"widgets\""),
    (["deploy.v1.batch/frontend"], "✗ the server doesn't have a resource type \"deploy.v1.batch\""),
    (["frontend", "--kind=widget", "--api-version=apps/v1"], "✗ the cluster serves no kind 'widget' in 'apps/v1'"),
    (["ks/nope"], "✗ Kustomization 'flux-system/nope' not found"),
])
def test_trace_failures(monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    result = invoke(monkeypatch, FakeCluster(deployment(), ks(), git()), ["trace", *args])
    assert result.exit_code == 1
    assert result.output.strip() == message


def test_trace_a_flux_object_by_short_name(monkeypatch: pytest.MonkeyPatch) -> None:
    managed = ks("child")
    managed["metadata"]["labels"] = deployment()["metadata"]["labels"]
    result = invoke(monkeypatch, FakeCluster(managed, ks(), git()), ["trace", "KS/child"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "Object:          Kustomization/child"


def event(kind: str, name: str, reason: str, second: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{name}.{reason}", "namespace": "flux-system"},
            "involvedObject": {"kind": kind, "name": name}, "type": "Normal", "reason": reason, "message": reason,
            "lastTimestamp": f"2026-01-01T00:00:0{second}Z"}


@pytest.mark.parametrize(("selector", "reasons"), [
    ("Kustomization/apps", ["Fetched", "Applied"]),  # the object's events and its source's
    ("KS/apps", ["Fetched", "Applied"]),
    ("kustomizations/apps", ["Fetched", "Applied"]),
    ("ks", ["Applied", "Other"]),
    ("gitrepo/repo", ["Fetched"]),
])
def test_events_for(monkeypatch: pytest.MonkeyPatch, selector: str, reasons: list[str]) -> None:
    cluster = FakeCluster(ks(), ks("other"), git(), event("GitRepository", "repo", "Fetched", 1),
                          event("Kustomization", "apps", "Applied", 2), event("Kustomization", "other", "Other", 3))
    result = invoke(monkeypatch, cluster, ["events", "--for", selector])
    assert result.exit_code == 0, result.output
    assert [line.split()[2] for line in result.stdout.splitlines()[1:]] == reasons


@pytest.mark.parametrize("args", [["deploy/frontend"], ["frontend", "--kind=deployment", "--api-version=apps/v1"]])
def test_trace_reports_an_unreachable_cluster(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    from headwater.runtime.kube import ClusterUnreachable

    class Unreachable(FakeCluster):
        async def request(self, method: str, path: str) -> dict[str, Any]:
            raise ClusterUnreachable("cannot reach the Kubernetes API at https://127.0.0.1:1")

    result = invoke(monkeypatch, Unreachable(), ["trace", *args])
    assert result.exit_code == 1
    assert result.output == "✗ cannot reach the Kubernetes API at https://127.0.0.1:1\n"
