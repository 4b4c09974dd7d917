"""Schema shapes shared by several Flux kinds (fluxcd/pkg/apis/meta and friends).

These are building blocks, not kinds: references to Secrets and other objects, the
source Artifact, metav1.Condition, the resource inventory, kustomize patch targets.
Callers adapt them with ``.describe()`` / ``.require()``.
"""

from __future__ import annotations

from typing import Final

from headwater.api.schema import (
    Schema,
    array,
    boolean,
    date_time,
    enum,
    int64,
    obj,
    rule,
    string,
    string_map,
    strings,
)

# -- references -----------------------------------------------------------------------
LOCAL_REF: Final = obj(
    "Reference to an object in the same namespace.",
    {"name": string("Name of the referent.", required=True)},
)
SECRET_REF: Final = LOCAL_REF.describe("Secret in the same namespace.")
SECRET_KEY_REF: Final = obj(
    "Key of a Secret in the same namespace.",
    {
        "name": string("Name of the Secret.", required=True),
        "key": string("Key in the Secret data; the consumer picks a default when empty."),
    },
)
CONFIGMAP_REF: Final = LOCAL_REF.describe("ConfigMap in the same namespace.")
PROXY_SECRET_REF: Final = SECRET_REF.describe(
    "Secret with proxy settings: 'address' (required), 'username' and 'password'."
)
CERT_SECRET_REF: Final = SECRET_REF.describe(
    "Secret with TLS material: 'ca.crt', and 'tls.crt'/'tls.key' for client certificates."
)

KUBECONFIG_REF: Final = obj(
    "Where to find the kubeconfig of a remote cluster; exactly one reference must be set.",
    {
        "configMapRef": CONFIGMAP_REF.describe(
            "ConfigMap describing a workload-identity kubeconfig (provider, cluster, address)."
        ),
        "secretRef": SECRET_KEY_REF.describe(
            "Secret holding a kubeconfig; the key defaults to 'value' then 'value.yaml'."
        ),
    },
    rules=(
        rule(
            "has(self.configMapRef) || has(self.secretRef)",
            "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified",
        ),
        rule(
            "!has(self.configMapRef) || !has(self.secretRef)",
            "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified",
        ),
    ),
)

DEPENDS_ON: Final = array(
    "Objects of the same kind that must be ready before this one is reconciled.",
    obj(
        "A dependency, optionally with a custom readiness expression.",
        {
            "name": string("Name of the dependency.", required=True),
            "namespace": string("Namespace of the dependency; defaults to this object's namespace."),
            "readyExpr": string("CEL expression that decides readiness instead of the Ready condition."),
        },
    ),
)

ACCESS_FROM: Final = obj(
    "Namespaces allowed to refer to this object across namespace boundaries.",
    {
        "namespaceSelectors": array(
            "Selectors of allowed namespaces; an empty label map allows all namespaces.",
            obj(
                "Selects namespaces by label.",
                {"matchLabels": string_map("Labels the namespace must carry.")},
            ),
            required=True,
        )
    },
)

COMMON_METADATA: Final = obj(
    "Labels and annotations added to every object this one produces.",
    {
        "annotations": string_map("Annotations to add."),
        "labels": string_map("Labels to add."),
    },
)

# -- verification (cosign / notation) -------------------------------------------------
OIDC_IDENTITIES: Final = array(
    "Keyless signing identities to accept; any match is enough.",
    obj(
        "Regular expressions for the OIDC issuer and subject of a keyless signature.",
        {
            "issuer": string("Regex matching the OIDC issuer.", required=True),
            "subject": string("Regex matching the certificate subject.", required=True),
        },
    ),
)
VERIFY_PROVIDER: Final = enum("Signature verification tool.", ("cosign", "notation"), required=True, default="cosign")

# -- status building blocks -----------------------------------------------------------
DIGEST_PATTERN: Final = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"

ARTIFACT: Final = obj(
    "A tarball produced by a source, served over HTTP by the artifact server.",
    {
        "digest": string("Algorithm-prefixed checksum of the file.", required=True, pattern=DIGEST_PATTERN),
        "lastUpdateTime": date_time("When the artifact was last written.", required=True),
        "metadata": string_map("Annotations describing the origin (e.g. OCI manifest annotations)."),
        "path": string("Path of the file relative to the storage root.", required=True),
        "revision": string("Source revision the artifact was built from.", required=True),
        "size": int64("Size of the file in bytes."),
        "url": string("HTTP address the file can be downloaded from.", required=True),
    },
)

CONDITION: Final = obj(
    "Kubernetes condition (metav1.Condition).",
    {
        "lastTransitionTime": date_time("When the status last changed.", required=True),
        "message": string("Human-readable details.", required=True, max_length=32768),
        "observedGeneration": int64("Generation the condition was computed for.", minimum=0),
        "reason": string(
            "CamelCase machine-readable cause.",
            required=True,
            pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
            min_length=1,
            max_length=1024,
        ),
        "status": enum("Condition status.", ("True", "False", "Unknown"), required=True),
        "type": string(
            "Condition type, e.g. Ready.",
            required=True,
            pattern=(
                r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
            ),
            max_length=316,
        ),
    },
)
CONDITIONS: Final = array("Latest observations of the object's state.", CONDITION)

OBSERVED_GENERATION: Final = int64("Last generation acted upon by the controller.")
LAST_HANDLED_RECONCILE_AT: Final = string(
    "Last value of the reconcile.fluxcd.io/requestedAt annotation that was handled."
)
#: Status objects default to ``observedGeneration: -1`` ("never reconciled").
STATUS_DEFAULT: Final = {"observedGeneration": -1}

INVENTORY: Final = obj(
    "Objects applied by the last successful reconciliation.",
    {
        "entries": array(
            "Applied objects.",
            obj(
                "An applied object.",
                {
                    "id": string("Object id: '<namespace>_<name>_<group>_<kind>'.", required=True),
                    "v": string("API version of the object.", required=True),
                },
            ),
            required=True,
        )
    },
)

# -- kustomize-style patches and image overrides --------------------------------------
SELECTOR: Final = obj(
    "Selects Kubernetes objects by group/version/kind, name, namespace and selectors.",
    {
        "annotationSelector": string("Annotation selector expression."),
        "group": string("API group."),
        "kind": string("Kind."),
        "labelSelector": string("Label selector expression."),
        "name": string("Name (regular expression)."),
        "namespace": string("Namespace (regular expression)."),
        "version": string("API version."),
    },
)
PATCHES: Final = array(
    "Strategic merge or JSON6902 patches, optionally restricted to a target.",
    obj(
        "A patch and the objects it applies to.",
        {
            "patch": string("Patch document (YAML or JSON).", required=True),
            "target": SELECTOR.describe("Objects to patch; all objects in the patch when omitted."),
        },
    ),
)
IMAGES: Final = array(
    "Container image overrides.",
    obj(
        "Replaces the name, tag or digest of a container image.",
        {
            "digest": string("Digest to use; takes precedence over newTag."),
            "name": string("Image name to match.", required=True),
            "newName": string("Replacement image name."),
            "newTag": string("Replacement tag."),
        },
    ),
)

IGNORE_RULES: Final = array(
    "Fields to leave alone when comparing and applying objects.",
    obj(
        "JSON pointers to ignore on the selected objects.",
        {
            "paths": strings("JSON pointers to ignore.", required=True),
            "target": SELECTOR.describe("Objects the rule applies to; all objects when omitted."),
        },
    ),
)

HEALTH_CHECK_EXPRS: Final = array(
    "CEL expressions that compute the health of custom resources.",
    obj(
        "Health expressions for one kind, evaluated inProgress, failed, then current.",
        {
            "apiVersion": string("API version (or group) of the kind.", required=True),
            "current": string("CEL expression true when the object is healthy.", required=True),
            "failed": string("CEL expression true when the object failed."),
            "inProgress": string("CEL expression true while the object is progressing."),
            "kind": string("Kind the expressions apply to; every kind of the group when omitted."),
        },
    ),
)


def suspend(what: str = "reconciliation") -> Schema:
    return boolean(f"Stops {what} while true.")


SERVICE_ACCOUNT_NAME: Final = string("Kubernetes ServiceAccount to impersonate or take identity from.")
