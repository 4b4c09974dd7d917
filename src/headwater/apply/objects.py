"""Object identity, ordering, stages, policy annotations and change sets, as fluxcd/pkg `ssa` defines them.

Everything here is pure (no cluster access) because the same rules are needed by the apply engine, the
pruner, the inventory and the health checker, and because they must match Flux to the letter: the
inventory id is stored in `status.inventory` (other tools parse it), the change-set strings end up in
events that users grep, and the kind order decides which objects exist before which others do.

Facts mirrored from fluxcd/pkg `ssa` and kustomize-controller:

* identity is cli-utils' `ObjMetadata` (namespace, name, group, kind; never the version); its string form
  is `<namespace>_<name>_<group>_<kind>`, RBAC names transcode `:` as `__`;
* objects are sorted by a fixed kind order (`ReconcileOrder`), then group, kind, namespace, name;
* staged apply: cluster definitions (CRDs, Namespaces, ClusterRoles), then `*Class` kinds, then an
  optional custom stage, then everything else;
* policy labels/annotations (`kustomize.toolkit.fluxcd.io/ssa`, `/force`, `/reconcile`, `/prune`) match
  when either a label or an annotation has the value, compared case-insensitively;
* a change-set entry prints as `<Kind>/<namespace>/<name> <action>` (`<Kind>/<name>` when cluster-scoped).
"""

from __future__ import annotations

import base64
import binascii
import copy
import ssl
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

Obj = dict[str, Any]

FLUX_GROUP = "kustomize.toolkit.fluxcd.io"
NAME_LABEL = f"{FLUX_GROUP}/name"
NAMESPACE_LABEL = f"{FLUX_GROUP}/namespace"
SSA_KEY = f"{FLUX_GROUP}/ssa"
FORCE_KEY = f"{FLUX_GROUP}/force"
RECONCILE_KEY = f"{FLUX_GROUP}/reconcile"
PRUNE_KEY = f"{FLUX_GROUP}/prune"

ENABLED = "enabled"
DISABLED = "disabled"

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
# Metadata kustomize-controller strips from in-cluster objects (kubectl's annotation, legacy Flux v1 marks).
CLEANUP_ANNOTATIONS = (LAST_APPLIED_ANNOTATION, f"{FLUX_GROUP}/checksum", "fluxcd.io/sync-checksum")
CLEANUP_LABELS = ("fluxcd.io/sync-gc-mark",)


class SSAPolicy(StrEnum):
    """Values of `kustomize.toolkit.fluxcd.io/ssa`."""

    OVERRIDE = "Override"  # the default: apply and correct drift
    MERGE = "Merge"  # apply, but leave other managers' fields (no managed-fields cleanup)
    IF_NOT_PRESENT = "IfNotPresent"  # create when missing, never update
    IGNORE = "Ignore"  # never apply, never prune


class Stage(IntEnum):
    """The stages of a staged apply, in the order they run."""

    CLUSTER_DEFINITIONS = 1  # CRDs, Namespaces, ClusterRoles: applied, then waited for
    CLASS_DEFINITIONS = 2  # kinds ending in "Class": applied, then waited for
    CUSTOM = 3  # kinds the operator listed (--custom-apply-stage-kinds): applied, not waited for
    RESOURCES = 4  # everything else


# fluxcd/pkg ssa sort.go `ReconcileOrder` (ssa v0.77.0): kinds first (in this order), unlisted kinds in the
# middle, webhook configurations last. (Older releases had ClusterRole after Role and ClusterRoleBinding
# after RoleBinding.)
KIND_ORDER_FIRST: tuple[str, ...] = (
    "CustomResourceDefinition",
    "Namespace",
    "ClusterRole",
    "ClusterClass",
    "RuntimeClass",
    "PriorityClass",
    "StorageClass",
    "VolumeSnapshotClass",
    "IngressClass",
    "GatewayClass",
    "ClusterRoleBinding",
    "ResourceQuota",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
)
KIND_ORDER_LAST: tuple[str, ...] = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_KIND_INDEX: dict[str, int] = {
    **{kind: i - len(KIND_ORDER_FIRST) for i, kind in enumerate(KIND_ORDER_FIRST)},
    **{kind: i + 1 for i, kind in enumerate(KIND_ORDER_LAST)},
}

_FIELD_SEPARATOR = "_"
_COLON_TRANSCODED = "__"
RBAC_GROUP = "rbac.authorization.k8s.io"
_RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})


class InvalidObject(ValueError):
    """A manifest without the fields every Kubernetes object needs, or an unparseable inventory id."""


# -- identity ---------------------------------------------------------------------------------------


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` → (`apps`, `v1`); the core group is the empty string."""
    group, _, version = api_version.rpartition("/")
    return group, version


def join_api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


@dataclass(frozen=True)
class ObjMetadata:
    """What identifies an object across versions: cli-utils' `ObjMetadata`."""

    namespace: str
    name: str
    group: str
    kind: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjMetadata:
        meta = obj.get("metadata") or {}
        group, _ = split_api_version(str(obj.get("apiVersion") or ""))
        return cls(str(meta.get("namespace") or ""), str(meta.get("name") or ""), group, str(obj.get("kind") or ""))

    @classmethod
    def parse(cls, object_id: str) -> ObjMetadata:
        """Parse `<namespace>_<name>_<group>_<kind>` (the name may carry `__` for a colon)."""
        namespace, sep, rest = object_id.partition(_FIELD_SEPARATOR)
        rest, sep2, kind = rest.rpartition(_FIELD_SEPARATOR)
        name, sep3, group = rest.rpartition(_FIELD_SEPARATOR)
        if not (sep and sep2 and sep3):
            raise InvalidObject(f"unable to parse stored object metadata: {object_id}")
        name = name.replace(_COLON_TRANSCODED, ":")
        if _FIELD_SEPARATOR in name:
            raise InvalidObject(f"too many fields within: {object_id}")
        return cls(namespace, name, group.strip(), kind.strip())

    @property
    def id(self) -> str:
        """The inventory id; RBAC names transcode `:` as `__` as cli-utils does."""
        name = self.name
        if self.group == RBAC_GROUP and self.kind in _RBAC_KINDS:
            name = name.replace(":", _COLON_TRANSCODED)
        return f"{self.namespace}_{name}_{self.group}_{self.kind}"

    @property
    def subject(self) -> str:
        """`Kind/namespace/name`, or `Kind/name` for cluster-scoped objects (ssa `FmtObjMetadata`)."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    def api_version(self, version: str) -> str:
        return join_api_version(self.group, version)

    def __str__(self) -> str:
        return self.subject


def subject_of(obj: Mapping[str, Any]) -> str:
    return ObjMetadata.of(obj).subject


def version_of(obj: Mapping[str, Any]) -> str:
    return split_api_version(str(obj.get("apiVersion") or ""))[1]


def require_identity(obj: Mapping[str, Any]) -> None:
    """Flux refuses objects without apiVersion, kind and name before applying anything."""
    meta = obj.get("metadata") or {}
    if not obj.get("apiVersion") or not obj.get("kind") or not meta.get("name"):
        raise InvalidObject(
            f"failed to decode Kubernetes apiVersion, kind and name from: "
            f"apiVersion={obj.get('apiVersion')!r} kind={obj.get('kind')!r} name={meta.get('name')!r}"
        )


# -- ordering and stages ------------------------------------------------------------------------------


def kind_index(kind: str) -> int:
    return _KIND_INDEX.get(kind, 0)


def sort_key(meta: ObjMetadata) -> tuple[int, str, str, str, str]:
    """Flux's `less`: kind order index, then group, kind, namespace, name."""
    return (kind_index(meta.kind), meta.group, meta.kind, meta.namespace, meta.name)


def sort_objects(objects: Iterable[Obj]) -> list[Obj]:
    return sorted(objects, key=lambda o: sort_key(ObjMetadata.of(o)))


def is_crd(obj: Mapping[str, Any]) -> bool:
    return str(obj.get("kind", "")).lower() == "customresourcedefinition" and str(
        obj.get("apiVersion", "")
    ).startswith("apiextensions.k8s.io/")


def is_namespace(obj: Mapping[str, Any]) -> bool:
    return str(obj.get("kind", "")).lower() == "namespace" and obj.get("apiVersion") == "v1"


def is_cluster_role(obj: Mapping[str, Any]) -> bool:
    return str(obj.get("kind", "")).lower() == "clusterrole" and str(obj.get("apiVersion", "")).startswith(
        f"{RBAC_GROUP}/"
    )


def is_cluster_definition(obj: Mapping[str, Any]) -> bool:
    return is_crd(obj) or is_namespace(obj) or is_cluster_role(obj)


def is_class_definition(obj: Mapping[str, Any]) -> bool:
    """Any kind whose name ends in `Class` (case-sensitive, as Flux's `strings.HasSuffix`)."""
    return str(obj.get("kind", "")).endswith("Class")


def parse_group_kinds(spec: str) -> frozenset[tuple[str, str]]:
    """`--custom-apply-stage-kinds` syntax: `group1/Kind1,Kind2` → {(group1, Kind1), ("", Kind2)}."""
    result: set[tuple[str, str]] = set()
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        group, _, kind = item.partition("/") if "/" in item else ("", "", item)
        result.add((group.strip(), kind.strip()))
    return frozenset(result)


def stage_of(obj: Mapping[str, Any], custom_kinds: Collection[tuple[str, str]] = ()) -> Stage:
    if is_cluster_definition(obj):
        return Stage.CLUSTER_DEFINITIONS
    if is_class_definition(obj):
        return Stage.CLASS_DEFINITIONS
    if custom_kinds:
        meta = ObjMetadata.of(obj)
        if (meta.group, meta.kind) in custom_kinds:
            return Stage.CUSTOM
    return Stage.RESOURCES


def split_stages(
    objects: Iterable[Obj], custom_kinds: Collection[tuple[str, str]] = ()
) -> list[tuple[Stage, list[Obj]]]:
    """Non-empty stages in order, each sorted by Flux's kind order."""
    staged: dict[Stage, list[Obj]] = {}
    for obj in objects:
        staged.setdefault(stage_of(obj, custom_kinds), []).append(obj)
    return [(stage, sort_objects(staged[stage])) for stage in sorted(staged)]


# -- policy labels and annotations ------------------------------------------------------------------


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def _annotations(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


def any_in_metadata(obj: Mapping[str, Any] | None, selector: Mapping[str, str]) -> bool:
    """ssa `AnyInMetadata`: a label or an annotation has one of the key/values (value case-insensitive)."""
    if obj is None:
        return False
    labels, annotations = _labels(obj), _annotations(obj)
    for key, value in selector.items():
        for source in (labels, annotations):
            found = source.get(key)
            if found and str(found).casefold() == value.casefold():
                return True
    return False


def ssa_policy(obj: Mapping[str, Any] | None) -> SSAPolicy:
    """The object's `ssa` policy (annotation or label; unknown values mean Override)."""
    for policy in (SSAPolicy.IGNORE, SSAPolicy.IF_NOT_PRESENT, SSAPolicy.MERGE):
        if any_in_metadata(obj, {SSA_KEY: policy.value}):
            return policy
    return SSAPolicy.OVERRIDE


def is_ssa_ignore(obj: Mapping[str, Any] | None) -> bool:
    return any_in_metadata(obj, {SSA_KEY: SSAPolicy.IGNORE.value})


def is_ssa_if_not_present(obj: Mapping[str, Any] | None) -> bool:
    return any_in_metadata(obj, {SSA_KEY: SSAPolicy.IF_NOT_PRESENT.value})


def is_ssa_merge(obj: Mapping[str, Any] | None) -> bool:
    return any_in_metadata(obj, {SSA_KEY: SSAPolicy.MERGE.value})


def is_force_enabled(obj: Mapping[str, Any] | None) -> bool:
    return any_in_metadata(obj, {FORCE_KEY: ENABLED})


def is_reconcile_disabled(obj: Mapping[str, Any] | None) -> bool:
    return any_in_metadata(obj, {RECONCILE_KEY: DISABLED})


def is_prune_disabled(obj: Mapping[str, Any] | None) -> bool:
    return any_in_metadata(obj, {PRUNE_KEY: DISABLED})


def is_apply_excluded(obj: Mapping[str, Any] | None) -> bool:
    """kustomize-controller's apply `ExclusionSelector`: `reconcile: disabled` or `ssa: Ignore`."""
    return is_reconcile_disabled(obj) or is_ssa_ignore(obj)


def is_prune_excluded(obj: Mapping[str, Any] | None) -> bool:
    """Never garbage-collected: `prune: disabled`, `reconcile: disabled` or `ssa: Ignore`."""
    return is_prune_disabled(obj) or is_reconcile_disabled(obj) or is_ssa_ignore(obj)


# -- owner labels -------------------------------------------------------------------------------------


def owner_labels(name: str, namespace: str) -> dict[str, str]:
    return {NAME_LABEL: name, NAMESPACE_LABEL: namespace}


def set_owner_labels(obj: Obj, name: str, namespace: str) -> None:
    meta = obj.setdefault("metadata", {})
    labels = meta.get("labels") or {}
    labels.update(owner_labels(name, namespace))
    meta["labels"] = labels


def has_owner_labels(obj: Mapping[str, Any] | None, name: str, namespace: str) -> bool:
    """Both owner labels present with exactly our values (Flux's prune inclusion selector)."""
    labels = _labels(obj)
    return labels.get(NAME_LABEL) == name and labels.get(NAMESPACE_LABEL) == namespace


# -- normalisation (kustomize-controller runs ssa/normalize on every object before applying) ----------

_POD_TEMPLATE_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps/v1", "Deployment"): ("spec", "template", "spec"),
    ("apps/v1", "StatefulSet"): ("spec", "template", "spec"),
    ("apps/v1", "DaemonSet"): ("spec", "template", "spec"),
    ("apps/v1", "ReplicaSet"): ("spec", "template", "spec"),
    ("batch/v1", "Job"): ("spec", "template", "spec"),
    ("batch/v1", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
    ("v1", "Pod"): ("spec",),
}


def _nested(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _default_protocols(ports: Any) -> None:
    if isinstance(ports, list):
        for port in ports:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"


def _valid_ca_bundle(encoded: str) -> bool:
    try:
        pem = base64.b64decode(encoded, validate=True).decode()
        ssl.create_default_context(cadata=pem)
    except (binascii.Error, UnicodeDecodeError, ssl.SSLError, ValueError):
        return False
    return True


def strip_invalid_ca_bundle(obj: Obj) -> None:
    """ssa `RemoveCABundleFromCRD`: an invalid conversion-webhook caBundle is dropped (1.31+ rejects it)."""
    if not is_crd(obj):
        return
    client_config = _nested(obj, ("spec", "conversion", "webhook", "clientConfig"))
    if isinstance(client_config, dict):
        bundle = client_config.get("caBundle")
        if isinstance(bundle, str) and bundle and not _valid_ca_bundle(bundle):
            del client_config["caBundle"]


def normalize(obj: Obj) -> Obj:
    """The fixes Flux applies before a dry-run so that it compares equal to what the server returns.

    Port protocols default to TCP (Service ports, pod containers' ports), a Secret's `stringData` is
    folded into `data`, `metadata.creationTimestamp` is dropped, `status` is removed (except on CRDs) and
    an invalid CRD conversion caBundle is stripped. Modifies and returns `obj`.
    """
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    pod_spec_path = _POD_TEMPLATE_PATHS.get((str(api_version), str(kind)))
    if pod_spec_path is not None:
        pod_spec = _nested(obj, pod_spec_path)
        if isinstance(pod_spec, Mapping):
            for container in pod_spec.get("containers") or []:
                if isinstance(container, dict):
                    _default_protocols(container.get("ports"))
    elif api_version == "v1" and kind == "Service":
        _default_protocols(_nested(obj, ("spec", "ports")))
    elif api_version == "v1" and kind == "Secret":
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, Mapping) and string_data:
            data = obj.get("data") or {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("creationTimestamp", None)
    if not is_crd(obj):
        obj.pop("status", None)
    strip_invalid_ca_bundle(obj)
    return obj


def prepared(obj: Mapping[str, Any]) -> Obj:
    """A deep copy, normalised; the caller's manifests are never modified."""
    return normalize(copy.deepcopy(dict(obj)))


# -- change sets ---------------------------------------------------------------------------------------


class Action(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


CHANGED_ACTIONS = frozenset({Action.CREATED, Action.CONFIGURED, Action.DELETED})


@dataclass(frozen=True)
class ChangeSetEntry:
    """The outcome for one object; `str()` is Flux's event line (`Deployment/apps/web created`)."""

    meta: ObjMetadata
    version: str
    action: Action

    @property
    def subject(self) -> str:
        return self.meta.subject

    @property
    def id(self) -> str:
        return self.meta.id

    def __str__(self) -> str:
        return f"{self.subject} {self.action.value}"


@dataclass
class ApiCalls:
    """Requests sent to the apiserver, so callers and benchmarks can assert e.g. "no apply sent"."""

    gets: int = 0
    dry_runs: int = 0
    applies: int = 0
    cleanups: int = 0  # JSON patches of metadata.managedFields / kubectl annotations
    deletes: int = 0

    @property
    def writes(self) -> int:
        """Requests that change the cluster (dry-runs are not writes)."""
        return self.applies + self.cleanups + self.deletes

    def add(self, other: ApiCalls) -> None:
        self.gets += other.gets
        self.dry_runs += other.dry_runs
        self.applies += other.applies
        self.cleanups += other.cleanups
        self.deletes += other.deletes


@dataclass
class ChangeSet:
    entries: list[ChangeSetEntry] = field(default_factory=list)
    calls: ApiCalls = field(default_factory=ApiCalls)

    def add(self, entry: ChangeSetEntry) -> None:
        self.entries.append(entry)

    def extend(self, other: ChangeSet) -> None:
        self.entries.extend(other.entries)
        self.calls.add(other.calls)

    def __iter__(self) -> Iterator[ChangeSetEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __str__(self) -> str:
        """One `<subject> <action>` line per entry, like ssa `ChangeSet.String()`."""
        return "\n".join(str(entry) for entry in self.entries)

    def changed(self) -> list[ChangeSetEntry]:
        """Entries that changed the cluster (kustomize-controller's `HasChanged`)."""
        return [entry for entry in self.entries if entry.action in CHANGED_ACTIONS]

    def changes_log(self) -> str:
        """The apply event message: changed entries only, one per line ("" when nothing changed)."""
        return "\n".join(str(entry) for entry in self.changed())

    def counts(self) -> dict[Action, int]:
        return dict(Counter(entry.action for entry in self.entries))

    def count(self, action: Action) -> int:
        return sum(1 for entry in self.entries if entry.action == action)

    def to_map(self) -> dict[str, str]:
        """subject → action, as kustomize-controller logs it."""
        return {entry.subject: entry.action.value for entry in self.entries}

    def action_of(self, subject: str) -> Action | None:
        for entry in self.entries:
            if entry.subject == subject:
                return entry.action
        return None
