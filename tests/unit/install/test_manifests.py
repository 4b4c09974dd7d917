"""The installation manifests: names, labels, order, workloads shaped like Flux's (§4.1), options."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml

from headwater.install.manifests import generate, render
from headwater.install.options import InstallError, InstallOptions

pytestmark = pytest.mark.unit


def by(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)}"
    return found[0]


def test_default_installation_objects_and_order() -> None:
    objects = generate(InstallOptions())
    kinds = [o["kind"] for o in objects]
    order = ["Namespace", "ResourceQuota", "CustomResourceDefinition", "ServiceAccount", "ClusterRole",
             "ClusterRoleBinding", "Service", "Deployment", "NetworkPolicy"]
    assert [k for k in order if k in kinds] == order
    assert kinds == sorted(kinds, key=order.index)
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for expected in [("Namespace", "flux-system"), ("ResourceQuota", "critical-pods-flux-system"),
                     ("ClusterRole", "crd-controller-flux-system"), ("ClusterRole", "flux-edit-flux-system"),
                     ("ClusterRole", "flux-view-flux-system"), ("ClusterRoleBinding", "crd-controller-flux-system"),
                     ("ClusterRoleBinding", "cluster-reconciler-flux-system"), ("Service", "source-controller"),
                     ("Deployment", "source-controller"), ("Deployment", "kustomize-controller"),
                     ("NetworkPolicy", "allow-egress"), ("NetworkPolicy", "allow-scraping"),
                     ("NetworkPolicy", "allow-webhooks"), ("ServiceAccount", "source-controller"),
                     ("ServiceAccount", "kustomize-controller"), ("Deployment", "helm-controller"),
                     ("ServiceAccount", "helm-controller"),
                     ("CustomResourceDefinition", "helmreleases.helm.toolkit.fluxcd.io"),
                     ("CustomResourceDefinition", "gitrepositories.source.toolkit.fluxcd.io"),
                     ("CustomResourceDefinition", "kustomizations.kustomize.toolkit.fluxcd.io")]:
        assert expected in names
    groups = {o["spec"]["group"] for o in objects if o["kind"] == "CustomResourceDefinition"}
    assert groups == {"source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io",
                      "helm.toolkit.fluxcd.io"}  # only the selected owners


def test_every_object_carries_flux_labels() -> None:
    for obj in generate(InstallOptions(namespace="gitops", version="v1.2.3")):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "gitops", obj["metadata"]["name"]
        assert labels["app.kubernetes.io/part-of"] == "flux"
        assert labels["app.kubernetes.io/version"] == "v1.2.3"
        if obj["kind"] not in ("Namespace", "CustomResourceDefinition") and "namespace" not in obj["metadata"]:
            assert obj["metadata"]["name"].endswith("-gitops")  # cluster-wide names carry the namespace
    namespace = generate(InstallOptions(namespace="gitops"))[0]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/warn-version"] == "latest"


def test_source_controller_deployment_like_flux() -> None:
    objects = generate(InstallOptions())
    deploy = by(objects, "Deployment", "source-controller")
    pod = deploy["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/headwater/headwater:0.1.0"
    assert container["args"] == [
        "controller", "source", "--watch-all-namespaces=true", "--log-level=info", "--log-encoding=json",
        "--enable-leader-election", "--storage-path=/data",
        "--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local."]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 9090, "http-prom": 8080,
                                                                          "healthz": 9440}
    assert container["readinessProbe"] == {"httpGet": {"path": "/", "port": "http"}}
    assert container["livenessProbe"] == {"httpGet": {"path": "/healthz", "port": "healthz"}}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                            "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                            "seccompProfile": {"type": "RuntimeDefault"}}
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/data", "/tmp"}
    assert all("emptyDir" in v for v in pod["volumes"])
    assert container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert pod["serviceAccountName"] == "source-controller"
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert deploy["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "8080"
    assert deploy["spec"]["selector"]["matchLabels"] == {"app": "source-controller"}
    service = by(objects, "Service", "source-controller")
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]


def test_kustomize_controller_and_rbac() -> None:
    objects = generate(InstallOptions())
    container = by(objects, "Deployment", "kustomize-controller")["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["controller", "kustomize"]
    assert container["readinessProbe"] == {"httpGet": {"path": "/readyz", "port": "healthz"}}
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    reconciler = by(objects, "ClusterRoleBinding", "cluster-reconciler-flux-system")
    assert reconciler["roleRef"]["name"] == "cluster-admin"
    assert [s["name"] for s in reconciler["subjects"]] == ["kustomize-controller", "helm-controller"]
    crd_binding = by(objects, "ClusterRoleBinding", "crd-controller-flux-system")
    assert [s["name"] for s in crd_binding["subjects"]] == ["source-controller", "kustomize-controller",
                                                     "helm-controller"]
    edit = by(objects, "ClusterRole", "flux-edit-flux-system")["metadata"]["labels"]
    view = by(objects, "ClusterRole", "flux-view-flux-system")["metadata"]["labels"]
    assert edit["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert view["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    quota = by(objects, "ResourceQuota", "critical-pods-flux-system")
    assert quota["spec"]["scopeSelector"]["matchExpressions"][0]["values"] == ["system-node-critical",
                                                                               "system-cluster-critical"]


def test_options_change_the_workloads() -> None:
    opts = InstallOptions(namespace="ops", registry="registry.example/team", version="v2.0.1",
                          watch_all_namespaces=False, log_level="debug", cluster_domain="corp.local",
                          image_pull_secret="pull", toleration_keys=("gpu", "edge"), network_policy=False,
                          components=("kustomize-controller",), components_extra=("source-controller",))
    objects = generate(opts)
    assert not [o for o in objects if o["kind"] == "NetworkPolicy"]
    deploy = by(objects, "Deployment", "source-controller")
    pod = deploy["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert pod["containers"][0]["image"] == "registry.example/team/headwater:2.0.1"
    assert "--watch-all-namespaces=false" in args
    assert "--log-level=debug" in args
    assert "--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.corp.local." in args
    assert pod["imagePullSecrets"] == [{"name": "pull"}]
    assert pod["tolerations"] == [{"key": "gpu", "operator": "Exists"}, {"key": "edge", "operator": "Exists"}]
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"] == ["kustomize-controller",
                                                                                    "source-controller"]
    only_source = generate(InstallOptions(components=("source-controller",)))
    assert not [o for o in only_source if o["metadata"]["name"].startswith("cluster-reconciler")]


@pytest.mark.parametrize(("opts", "message"), [
    (InstallOptions(components=("notification-controller",)), "not implemented by headwater yet"),
    (InstallOptions(components=("bogus",)), "unknown component 'bogus'"),
    (InstallOptions(components=()), "no components selected"),
    (InstallOptions(version="v1:2"), "invalid --version"),
    (InstallOptions(registry="a b"), "invalid --registry"),
    (InstallOptions(namespace="Flux"), "invalid --namespace"),
    (InstallOptions(log_level="loud"), "invalid --log-level"),
])
def test_invalid_options_name_the_flag(opts: InstallOptions, message: str) -> None:
    with pytest.raises(InstallError, match=message):
        generate(opts)


def test_render_is_deterministic_multi_document_yaml() -> None:
    text = render(InstallOptions())
    assert text == render(InstallOptions())
    assert text.startswith("---\n# headwater version: v0.1.0\n# Components: source-controller,kustomize-controller,"
                           "helm-controller\n")
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == \
        [(o["kind"], o["metadata"]["name"]) for o in generate(InstallOptions())]


def test_export_prints_the_same_yaml() -> None:
    out = subprocess.run([sys.executable, "-m", "headwater.cli.main", "install", "--export"],
                         capture_output=True, text=True, check=True)
    assert out.stdout == render(InstallOptions())
