"""Object identity, kind order, stages, policy metadata, normalisation, change sets, and the pure parts of
the apply engine (drift comparison, managed-fields cleanup, immutable-error detection), against Flux's rules."""

from __future__ import annotations

import base64
import datetime
import random
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from headwater.apply.apply import (
    cleanup_managers,
    has_drifted,
    immutable_fields,
    is_immutable_error,
    managed_fields_patch,
    metadata_cleanup_patch,
)
from headwater.apply.objects import (
    Action,
    ChangeSet,
    ChangeSetEntry,
    InvalidObject,
    ObjMetadata,
    SSAPolicy,
    Stage,
    any_in_metadata,
    has_owner_labels,
    is_apply_excluded,
    is_force_enabled,
    is_prune_excluded,
    parse_group_kinds,
    prepared,
    set_owner_labels,
    sort_objects,
    split_stages,
    ssa_policy,
    stage_of,
)
from headwater.runtime.kube.errors import from_status

pytestmark = pytest.mark.unit


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta.update(extra.pop("metadata", {}))
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **extra}


# -- identity -------------------------------------------------------------------------------------


def test_inventory_id_and_subject_follow_cli_utils() -> None:
    deploy = ObjMetadata.of(obj("apps/v1", "Deployment", "podinfo", "flux-system"))
    assert deploy.id == "flux-system_podinfo_apps_Deployment"
    assert deploy.subject == "Deployment/flux-system/podinfo"
    namespace = ObjMetadata.of(obj("v1", "Namespace", "podinfo"))
    assert namespace.id == "_podinfo__Namespace"
    assert namespace.subject == "Namespace/podinfo"
    assert ObjMetadata.of(obj("v1", "ConfigMap", "c", "apps")).id == "apps_c__ConfigMap"


@pytest.mark.parametrize("object_id", [
    "flux-system_podinfo_apps_Deployment",
    "_podinfo__Namespace",
    "_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition",
    "default_x_example.com_Widget",
])
def test_inventory_id_round_trips(object_id: str) -> None:
    assert ObjMetadata.parse(object_id).id == object_id


def test_rbac_names_transcode_colons() -> None:
    role = ObjMetadata.of(obj("rbac.authorization.k8s.io/v1", "ClusterRole", "system:controller:x"))
    assert role.id == "_system__controller__x_rbac.authorization.k8s.io_ClusterRole"
    assert ObjMetadata.parse(role.id) == role
    assert ObjMetadata.parse(role.id).name == "system:controller:x"


@pytest.mark.parametrize("bad", ["", "nounderscores", "a_b", "ns_na_me_apps_Deployment"])
def test_unparseable_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidObject):
        ObjMetadata.parse(bad)


# -- kind order and stages --------------------------------------------------------------------------


def test_sort_follows_flux_reconcile_order() -> None:
    kinds = [
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"), ("v1", "Namespace"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("cluster.x-k8s.io/v1beta1", "ClusterClass"), ("node.k8s.io/v1", "RuntimeClass"),
        ("scheduling.k8s.io/v1", "PriorityClass"), ("storage.k8s.io/v1", "StorageClass"),
        ("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass"), ("networking.k8s.io/v1", "IngressClass"),
        ("gateway.networking.k8s.io/v1", "GatewayClass"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("v1", "ResourceQuota"), ("v1", "ServiceAccount"),
        ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "LimitRange"),
        ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("batch/v1", "CronJob"),
        ("policy/v1", "PodDisruptionBudget"),
        ("a.example.com/v1", "Widget"), ("apps/v1", "DaemonSet"), ("batch/v1", "Job"),  # unlisted: group, kind
        ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    ]
    expected = [obj(api_version, kind, "x") for api_version, kind in kinds]
    shuffled = expected[:]
    random.Random(7).shuffle(shuffled)
    assert [o["kind"] for o in sort_objects(shuffled)] == [o["kind"] for o in expected]


def test_sort_ties_break_on_namespace_then_name() -> None:
    objs = [obj("v1", "ConfigMap", "b", "y"), obj("v1", "ConfigMap", "a", "y"), obj("v1", "ConfigMap", "z", "x")]
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in sort_objects(objs)] == [
        ("x", "z"), ("y", "a"), ("y", "b")]


def test_stages() -> None:
    assert stage_of(obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "x")) == Stage.CLUSTER_DEFINITIONS
    assert stage_of(obj("v1", "Namespace", "x")) == Stage.CLUSTER_DEFINITIONS
    assert stage_of(obj("rbac.authorization.k8s.io/v1", "ClusterRole", "x")) == Stage.CLUSTER_DEFINITIONS
    assert stage_of(obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "x")) == Stage.RESOURCES
    assert stage_of(obj("example.com/v1", "Namespace", "x")) == Stage.RESOURCES  # only the core v1 Namespace
    for kind in ("StorageClass", "IngressClass", "GatewayClass", "PriorityClass", "WidgetClass"):
        assert stage_of(obj("example.com/v1", kind, "x")) == Stage.CLASS_DEFINITIONS
    assert stage_of(obj("example.com/v1", "Widgetclass", "x")) == Stage.RESOURCES  # case-sensitive suffix
    custom = parse_group_kinds("example.com/Widget, Thing")
    assert custom == {("example.com", "Widget"), ("", "Thing")}
    assert stage_of(obj("example.com/v1", "Widget", "x"), custom) == Stage.CUSTOM
    assert stage_of(obj("v1", "Thing", "x"), custom) == Stage.CUSTOM
    assert stage_of(obj("other.com/v1", "Widget", "x"), custom) == Stage.RESOURCES


def test_split_stages_keeps_order_and_drops_empty_stages() -> None:
    objs = [obj("apps/v1", "Deployment", "d", "n"), obj("storage.k8s.io/v1", "StorageClass", "s"),
            obj("v1", "Namespace", "n"), obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "c")]
    stages = split_stages(objs)
    assert [(stage, [o["kind"] for o in members]) for stage, members in stages] == [
        (Stage.CLUSTER_DEFINITIONS, ["CustomResourceDefinition", "Namespace"]),
        (Stage.CLASS_DEFINITIONS, ["StorageClass"]),
        (Stage.RESOURCES, ["Deployment"]),
    ]


# -- policy metadata and owner labels ------------------------------------------------------------------


def test_policies_match_labels_or_annotations_case_insensitively() -> None:
    annotated = obj("v1", "ConfigMap", "c", "n", metadata={"annotations": {
        "kustomize.toolkit.fluxcd.io/ssa": "ignore"}})
    labelled = obj("v1", "ConfigMap", "c", "n", metadata={"labels": {"kustomize.toolkit.fluxcd.io/ssa": "Merge"}})
    assert ssa_policy(annotated) == SSAPolicy.IGNORE
    assert ssa_policy(labelled) == SSAPolicy.MERGE
    assert ssa_policy(obj("v1", "ConfigMap", "c", "n")) == SSAPolicy.OVERRIDE
    assert ssa_policy(None) == SSAPolicy.OVERRIDE
    assert is_apply_excluded(annotated)
    assert is_prune_excluded(annotated)
    disabled = obj("v1", "ConfigMap", "c", "n",
                   metadata={"labels": {"kustomize.toolkit.fluxcd.io/reconcile": "Disabled"}})
    assert is_apply_excluded(disabled)
    assert is_prune_excluded(disabled)
    no_prune = obj("v1", "ConfigMap", "c", "n",
                   metadata={"annotations": {"kustomize.toolkit.fluxcd.io/prune": "disabled"}})
    assert is_prune_excluded(no_prune)
    assert not is_apply_excluded(no_prune)
    forced = obj("v1", "ConfigMap", "c", "n",
                 metadata={"annotations": {"kustomize.toolkit.fluxcd.io/force": "Enabled"}})
    assert is_force_enabled(forced)
    assert not is_force_enabled(no_prune)
    assert not any_in_metadata(obj("v1", "ConfigMap", "c", "n", metadata={"labels": {"k": ""}}), {"k": ""})


def test_owner_labels() -> None:
    cm = obj("v1", "ConfigMap", "c", "n", metadata={"labels": {"app": "x"}})
    set_owner_labels(cm, "apps", "flux-system")
    assert cm["metadata"]["labels"] == {"app": "x", "kustomize.toolkit.fluxcd.io/name": "apps",
                                        "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
    assert has_owner_labels(cm, "apps", "flux-system")
    assert not has_owner_labels(cm, "apps", "other")
    assert not has_owner_labels(obj("v1", "ConfigMap", "c", "n", metadata={"labels": {
        "kustomize.toolkit.fluxcd.io/name": "apps"}}), "apps", "flux-system")


# -- normalisation --------------------------------------------------------------------------------------


def test_normalize_defaults_protocols_folds_string_data_and_drops_status() -> None:
    deploy = obj("apps/v1", "Deployment", "d", "n", metadata={"creationTimestamp": None},
                 spec={"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}}},
                 status={"replicas": 1})
    service = obj("v1", "Service", "s", "n", spec={"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]})
    secret = obj("v1", "Secret", "s", "n", data={"a": "eA=="}, stringData={"b": "hello"})
    cronjob = obj("batch/v1", "CronJob", "c", "n", spec={"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "ports": [{"containerPort": 1}]}]}}}}})
    original = repr(deploy)
    out = prepared(deploy)
    assert repr(deploy) == original, "the caller's object must not change"
    assert out["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"
    assert "status" not in out
    assert "creationTimestamp" not in out["metadata"]
    assert [p["protocol"] for p in prepared(service)["spec"]["ports"]] == ["TCP", "UDP"]
    folded = prepared(secret)
    assert "stringData" not in folded
    assert folded["data"] == {"a": "eA==", "b": base64.b64encode(b"hello").decode()}
    job_ports = prepared(cronjob)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert job_ports[0]["protocol"] == "TCP"
    crd = obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "c", status={"x": 1})
    assert prepared(crd)["status"] == {"x": 1}


def _pem_certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_invalid_crd_ca_bundle_is_stripped_and_a_valid_one_kept() -> None:
    def crd(bundle: str) -> dict[str, Any]:
        return obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "c", spec={"conversion": {
            "strategy": "Webhook", "webhook": {"clientConfig": {"caBundle": bundle}}}})

    def bundle_of(o: dict[str, Any]) -> Any:
        return o["spec"]["conversion"]["webhook"]["clientConfig"].get("caBundle")

    valid = base64.b64encode(_pem_certificate()).decode()
    assert bundle_of(prepared(crd(valid))) == valid
    assert bundle_of(prepared(crd(base64.b64encode(b"not a certificate").decode()))) is None
    assert bundle_of(prepared(crd("%%%"))) is None


# -- change sets ------------------------------------------------------------------------------------------


def test_change_set_strings_and_counts() -> None:
    cs = ChangeSet()
    cs.add(ChangeSetEntry(ObjMetadata("apps", "web", "apps", "Deployment"), "v1", Action.CREATED))
    cs.add(ChangeSetEntry(ObjMetadata("", "apps", "", "Namespace"), "v1", Action.UNCHANGED))
    cs.add(ChangeSetEntry(ObjMetadata("apps", "cfg", "", "ConfigMap"), "v1", Action.CONFIGURED))
    cs.add(ChangeSetEntry(ObjMetadata("apps", "old", "", "ConfigMap"), "v1", Action.SKIPPED))
    assert str(cs) == ("Deployment/apps/web created\nNamespace/apps unchanged\n"
                       "ConfigMap/apps/cfg configured\nConfigMap/apps/old skipped")
    assert cs.changes_log() == "Deployment/apps/web created\nConfigMap/apps/cfg configured"
    assert cs.counts() == {Action.CREATED: 1, Action.UNCHANGED: 1, Action.CONFIGURED: 1, Action.SKIPPED: 1}
    assert cs.to_map()["Namespace/apps"] == "unchanged"
    assert cs.action_of("ConfigMap/apps/cfg") == Action.CONFIGURED
    assert len(cs) == 4


# -- pure parts of the apply engine ---------------------------------------------------------------------


def live(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "n", "resourceVersion": "10", "uid": "u", "generation": 2,
                     "labels": {"app": "web"}, "managedFields": [{"manager": "a"}],
                     "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"replicas": 2}, "status": {"readyReplicas": 2},
    }
    for key, value in changes.items():
        base[key] = value
    return base


def test_drift_ignores_metadata_bookkeeping_and_status() -> None:
    existing = live()
    dry_run = live(status={"readyReplicas": 0})
    dry_run["metadata"] = {**existing["metadata"], "resourceVersion": "11", "generation": 3,
                           "managedFields": [{"manager": "b"}], "finalizers": ["x"]}
    assert not has_drifted(existing, dry_run)
    assert has_drifted(existing, live(spec={"replicas": 3}))
    assert has_drifted(None, live())
    new = live()
    new["metadata"] = {**new["metadata"], "resourceVersion": ""}
    assert has_drifted(existing, new)
    relabelled = live()
    relabelled["metadata"] = {**relabelled["metadata"], "labels": {"app": "other"}}
    assert has_drifted(existing, relabelled)
    annotated = live()
    annotated["metadata"] = {**annotated["metadata"], "annotations": {"a": "b"}}
    assert has_drifted(existing, annotated)
    no_annotations = live()
    no_annotations["metadata"] = {**no_annotations["metadata"], "annotations": {}}
    assert not has_drifted(existing, no_annotations)  # empty and absent maps are equal


def entry(manager: str, operation: str, fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "apiVersion": "apps/v1", "time": "t",
            "fieldsType": "FieldsV1", "fieldsV1": fields, **extra}


def test_managed_fields_of_kubectl_are_folded_into_our_apply_entry() -> None:
    managers = cleanup_managers("kustomize-controller")
    ours = entry("kustomize-controller", "Apply", {"f:spec": {"f:replicas": {}}})
    kubectl = entry("kubectl-client-side-apply", "Update", {"f:spec": {"f:paused": {}}})
    edit = entry("kubectl-edit", "Update", {"f:metadata": {"f:labels": {"f:x": {}}}})
    status = entry("kube-controller-manager", "Update", {"f:status": {}}, subresource="status")
    scale = entry("kubectl", "Update", {"f:spec": {"f:replicas": {}}}, subresource="scale")
    other = entry("some-operator", "Update", {"f:spec": {"f:minReadySeconds": {}}})
    existing = {"metadata": {"managedFields": [ours, kubectl, status, edit, scale, other]}}
    patch = managed_fields_patch(existing, managers, "kustomize-controller")
    assert len(patch) == 1
    assert patch[0]["op"] == "replace"
    assert patch[0]["path"] == "/metadata/managedFields"
    value = patch[0]["value"]
    assert value[:-1] == [status, scale, other]
    assert value[-1]["manager"] == "kustomize-controller"
    assert value[-1]["operation"] == "Apply"
    assert value[-1]["fieldsV1"] == {"f:spec": {"f:replicas": {}, "f:paused": {}},
                                     "f:metadata": {"f:labels": {"f:x": {}}}}
    assert ours["fieldsV1"] == {"f:spec": {"f:replicas": {}}}, "inputs are not modified"


def test_managed_fields_without_our_entry_rename_the_first_match() -> None:
    first = entry("before-first-apply", "Update", {"f:data": {"f:a": {}}})
    second = entry("kustomize-controller", "Update", {"f:data": {"f:b": {}}})
    patch = managed_fields_patch({"metadata": {"managedFields": [first, second]}},
                                 cleanup_managers("kustomize-controller"), "kustomize-controller")
    (only,) = patch[0]["value"]
    assert (only["manager"], only["operation"]) == ("kustomize-controller", "Apply")
    assert only["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}}


def test_nothing_to_clean() -> None:
    fields = [entry("kustomize-controller", "Apply", {}), entry("helm", "Update", {})]
    assert managed_fields_patch({"metadata": {"managedFields": fields}}, cleanup_managers("kustomize-controller"),
                                "kustomize-controller") == []
    assert managed_fields_patch({"metadata": {}}, cleanup_managers("x"), "x") == []
    assert metadata_cleanup_patch({"metadata": {"annotations": {"a": "b"}}}) == []


def test_override_managers_are_cleaned_too() -> None:
    managers = cleanup_managers("kustomize-controller", ["my-tool"])
    assert ("my-tool", "Apply") in managers
    assert ("my-tool", "Update") in managers
    fields = [entry("my-tool-v2", "Apply", {"f:a": {}})]
    assert managed_fields_patch({"metadata": {"managedFields": fields}}, managers, "kustomize-controller")


def test_metadata_cleanup_removes_kubectl_annotation_and_legacy_marks() -> None:
    existing = {"metadata": {
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "x",
                        "kustomize.toolkit.fluxcd.io/checksum": "abc"},
        "labels": {"fluxcd.io/sync-gc-mark": "sha256.x", "app": "a"},
    }}
    assert metadata_cleanup_patch(existing) == [
        {"op": "remove", "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"},
        {"op": "remove", "path": "/metadata/annotations/kustomize.toolkit.fluxcd.io~1checksum"},
        {"op": "remove", "path": "/metadata/labels/fluxcd.io~1sync-gc-mark"},
    ]


def test_immutable_errors_are_recognised_with_their_fields() -> None:
    clusterip = from_status(422, {"reason": "Invalid", "message": 'Service "s" is invalid: spec.clusterIPs[0]: '
                                  'Invalid value: ["10.96.7.8"]: may not change once set',
                                  "details": {"causes": [{"field": "spec.clusterIPs[0]",
                                                          "message": "Invalid value: x: may not change once set"}]}})
    job = from_status(422, {"reason": "Invalid", "message": 'Job.batch "j" is invalid: spec.template: Invalid '
                            'value: {...}: field is immutable', "details": {"causes": [
                                {"field": "spec.template", "message": "Invalid value: {...}: field is immutable"},
                                {"field": "spec.other", "message": "Required value"}]}})
    webhook = from_status(403, {"reason": "Forbidden", "message": 'admission webhook denied: spec.x is immutable'})
    plain = from_status(422, {"reason": "Invalid", "message": 'ConfigMap "c" is invalid: data: Invalid value',
                              "details": {"causes": [{"field": "data", "message": "Invalid value"}]}})
    assert is_immutable_error(clusterip)
    assert immutable_fields(clusterip) == ["spec.clusterIPs[0]"]
    assert is_immutable_error(job)
    assert immutable_fields(job) == ["spec.template"]
    assert is_immutable_error(webhook)
    assert immutable_fields(webhook) == []
    assert not is_immutable_error(plain)
