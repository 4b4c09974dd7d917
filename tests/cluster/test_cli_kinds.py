"""Flux's flag grammar and kubectl's kind names against a real cluster: trace, get, reconcile, create.

The unit tests pin the parsing (tests/unit/cli/test_flags.py, test_kinds.py); these show the same
spellings working end to end: discovery of a real apiserver for `trace deploy/frontend` and
`--kind=deployment --api-version=apps/v1`, the registry's names for `get KS` and `reconcile gitrepo`,
and Go booleans (`--with-source=true`, `--prune=false`) reaching the objects.
"""

from __future__ import annotations

from typing import Any

import pytest

from headwater.runtime.kube import KubeClient
from tests.cluster import test_cli
from tests.cluster.test_cli import KS_API, Setup, headwater

pytestmark = pytest.mark.cluster
flux_objects = test_cli.flux_objects  # the fixture (GitRepository `repo`, Kustomization `apps`, both Ready)


def managed_deployment(namespace: str) -> dict[str, Any]:
    """A Deployment carrying the labels kustomize-controller puts on what Kustomization `apps` applies."""
    labels = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": namespace}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "frontend", "namespace": namespace, "labels": labels},
            "spec": {"selector": {"matchLabels": {"app": "frontend"}},
                     "template": {"metadata": {"labels": {"app": "frontend"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}


TRACE_SPELLINGS = [
    ["deploy/frontend"],
    ["Deployment/frontend"],
    ["DEPLOYMENTS/frontend"],
    ["deployments.apps/frontend"],
    ["deploy.v1.apps/frontend"],
    ["deploy", "frontend"],
    ["frontend", "--kind=deployment", "--api-version=apps/v1"],
    ["frontend", "--kind", "Deployment", "--api-version", "apps/v1"],
    ["frontend", "--kind=deployments", "--api-version=apps/v1"],
]


async def test_trace_resolves_kinds_as_kubectl(kube: KubeClient, flux_objects: Setup) -> None:
    kc, ns = flux_objects.kubeconfig, flux_objects.namespace
    await kube.create(managed_deployment(ns))
    outputs = {}
    for args in TRACE_SPELLINGS:
        traced = await headwater(kc, "trace", *args, "-n", ns)
        assert traced.rc == 0, (args, traced.err)
        outputs[" ".join(args)] = traced.out
    first = outputs[" ".join(TRACE_SPELLINGS[0])]
    assert first.splitlines()[1:4] == ["Object:          Deployment/frontend", f"Namespace:       {ns}",
                                       "Status:          Managed by Flux"]
    assert "Kustomization:   apps" in first.splitlines()
    assert "GitRepository:   repo" in first.splitlines()
    assert {out for out in outputs.values()} == {first}, "every spelling traces the same object"

    cm = await headwater(kc, "trace", "settings", "--kind=configmap", "--api-version=v1", "-n", ns)
    assert cm.rc == 0, cm.err
    assert cm.out.splitlines()[1] == "Object:          ConfigMap/settings"
    wrong_group = await headwater(kc, "trace", "deploy.v1.batch/frontend", "-n", ns)
    assert wrong_group.rc == 1
    assert wrong_group.err.strip() == '✗ the server doesn\'t have a resource type "deploy.v1.batch"'
    unserved = await headwater(kc, "trace", "frontend", "--kind=widget", "--api-version=apps/v1", "-n", ns)
    assert unserved.rc == 1
    assert unserved.err.strip() == "✗ the cluster serves no kind 'widget' in 'apps/v1'"


@pytest.mark.parametrize("args", [
    ["get", "KS"], ["get", "Kustomization"], ["get", "kustomizations.kustomize.toolkit.fluxcd.io"],
    ["get", "ks", "-A=false"], ["get", "ks", "--no-header=false"], ["get", "ks", "--watch=false"],
])
async def test_get_names_kinds_as_kubectl(flux_objects: Setup, args: list[str]) -> None:
    result = await headwater(flux_objects.kubeconfig, *args, "-n", flux_objects.namespace)
    assert result.rc == 0, result.err
    header, row = result.out.splitlines()
    assert header.split()[0] == "NAME"
    assert row.split()[:2] == ["apps", flux_objects.revision[: len("main@sha1:") + 8]]


async def test_get_sources_by_short_name_and_all_namespaces(flux_objects: Setup) -> None:
    kc, ns = flux_objects.kubeconfig, flux_objects.namespace
    git = await headwater(kc, "get", "gitrepo", "-A", "--no-header=true")
    assert git.rc == 0, git.err
    assert [ns, "repo"] in [line.split()[:2] for line in git.out.splitlines()]


async def test_reconcile_names_kinds_and_takes_go_booleans(kube: KubeClient, flux_objects: Setup) -> None:
    kc, ns, revision = flux_objects.kubeconfig, flux_objects.namespace, flux_objects.revision

    both = await headwater(kc, "reconcile", "KS", "apps", "--with-source=true", "-n", ns)
    assert both.rc == 0, both.err
    lines = both.err.splitlines()
    assert lines.index(f"► annotating GitRepository repo in {ns} namespace") < lines.index(
        f"► annotating Kustomization apps in {ns} namespace")
    assert f"✔ applied revision {revision}" in lines

    alone = await headwater(kc, "reconcile", "Kustomization", "apps", "--with-source=false", "-n", ns)
    assert alone.rc == 0, alone.err
    assert f"► annotating GitRepository repo in {ns} namespace" not in alone.err
    assert f"► annotating Kustomization apps in {ns} namespace" in alone.err

    source = await headwater(kc, "reconcile", "gitrepositories", "repo", "-n", ns)
    assert source.rc == 0, source.err
    assert f"✔ fetched revision {revision}" in source.err


async def test_create_takes_go_booleans_and_kind_names(kube: KubeClient, flux_objects: Setup) -> None:
    kc, ns, revision = flux_objects.kubeconfig, flux_objects.namespace, flux_objects.revision
    same = ["create", "ks", "apps", "--source=gitrepo/repo", "--path=./apps", f"--target-namespace={ns}",
            "--interval=10m", "-n", ns, "--timeout=2m"]

    pruning = await headwater(kc, *same, "--prune=true", "--label=team=a,env=dev", timeout=150)
    assert pruning.rc == 0, pruning.err
    assert "✔ Kustomization updated" in pruning.err
    assert f"✔ applied revision {revision}" in pruning.err
    obj = await kube.get(KS_API, "Kustomization", "apps", ns)
    assert obj["spec"]["prune"] is True
    assert obj["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "repo"}
    assert obj["metadata"]["labels"] == {"team": "a", "env": "dev"}

    keeping = await headwater(kc, *same, "--prune=false", timeout=150)
    assert keeping.rc == 0, keeping.err
    assert (await kube.get(KS_API, "Kustomization", "apps", ns))["spec"]["prune"] is False
