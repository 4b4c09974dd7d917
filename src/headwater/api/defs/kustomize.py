"""Kind of kustomize.toolkit.fluxcd.io/v1: Kustomization, the manifest applier."""

from __future__ import annotations

from typing import Final

from headwater.api.defs.common import (
    COMMON_METADATA,
    CONDITIONS,
    DEPENDS_ON,
    HEALTH_CHECK_EXPRS,
    IGNORE_RULES,
    IMAGES,
    INVENTORY,
    KUBECONFIG_REF,
    LAST_HANDLED_RECONCILE_AT,
    OBSERVED_GENERATION,
    PATCHES,
    SECRET_REF,
    STATUS_DEFAULT,
    suspend,
)
from headwater.api.kinddef import AGE, READY, STATUS, KindDef, Reference
from headwater.api.schema import (
    array,
    boolean,
    date_time,
    duration,
    enum,
    int64,
    obj,
    string,
    string_map,
    strings,
)

GROUP: Final = "kustomize.toolkit.fluxcd.io"

KUSTOMIZATION_SOURCE_KINDS: Final = ("OCIRepository", "GitRepository", "Bucket", "ExternalArtifact")

SUBSTITUTE_FROM: Final = obj(
    "A ConfigMap or Secret whose data provides substitution variables.",
    {
        "kind": enum("Kind of the object.", ("Secret", "ConfigMap"), required=True),
        "name": string("Name of the object.", required=True, min_length=1, max_length=253),
        "optional": boolean("Carry on when the object does not exist.", default=False),
    },
)

KUSTOMIZATION: Final = KindDef(
    group=GROUP,
    version="v1",
    kind="Kustomization",
    plural="kustomizations",
    cli_noun="kustomization",
    references=(
        Reference(
            ("spec", "sourceRef"),
            ("GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"),
            cross_namespace=True,
        ),
        Reference(("spec", "dependsOn", "[]"), ("Kustomization",), cross_namespace=True),
    ),
    description="Builds a kustomize overlay from a source artifact and applies it to a cluster.",
    spec=obj(
        "Desired state of the Kustomization.",
        {
            "buildMetadata": array(
                "Extra kustomize build metadata to record on the objects.",
                enum("Kind of metadata.", ("originAnnotations", "transformerAnnotations")),
            ),
            "commonMetadata": COMMON_METADATA,
            "components": strings("Kustomize components to include, relative to path."),
            "decryption": obj(
                "Decrypt SOPS-encrypted manifests before applying them.",
                {
                    "provider": enum("Decryption engine.", ("sops",), required=True),
                    "secretRef": SECRET_REF.describe("Secret with private keys or cloud credentials."),
                    "serviceAccountName": string("ServiceAccount whose identity unlocks cloud KMS keys."),
                },
            ),
            "deletionPolicy": enum(
                "What happens to applied objects when the Kustomization is deleted.",
                ("MirrorPrune", "Delete", "WaitForTermination", "Orphan"),
            ),
            "dependsOn": DEPENDS_ON,
            "force": boolean("Recreate objects whose immutable fields changed.", default=False),
            "healthCheckExprs": HEALTH_CHECK_EXPRS,
            "healthChecks": array(
                "Objects whose health is checked after applying.",
                obj(
                    "An object to health-check.",
                    {
                        "apiVersion": string("API version of the object."),
                        "kind": string("Kind of the object.", required=True),
                        "name": string("Name of the object.", required=True),
                        "namespace": string("Namespace of the object."),
                    },
                ),
            ),
            "ignore": IGNORE_RULES.describe("Fields excluded from drift detection and apply."),
            "ignoreMissingComponents": boolean("Skip components that do not exist."),
            "images": IMAGES,
            "interval": duration("How often to reconcile.", required=True),
            "kubeConfig": KUBECONFIG_REF,
            "namePrefix": string("Prefix for all object names.", min_length=1, max_length=200),
            "nameSuffix": string("Suffix for all object names.", min_length=1, max_length=200),
            "patches": PATCHES,
            "path": string("Directory of the artifact to build; the root by default."),
            "postBuild": obj(
                "Variable substitution applied to the built manifests.",
                {
                    "substitute": string_map("Variables and their values."),
                    "substituteFrom": array("Objects providing variables, later ones win.", SUBSTITUTE_FROM),
                    "substituteStrategy": enum(
                        "Substitute only when variables are defined, or always.",
                        ("WithVariables", "Always"),
                    ),
                },
            ),
            "prune": boolean("Delete objects that are no longer in the build.", required=True),
            "retryInterval": duration("Retry delay after a failure; the interval by default."),
            "serviceAccountName": string("ServiceAccount impersonated while applying."),
            "sourceRef": obj(
                "The source artifact to build.",
                {
                    "apiVersion": string("API version of the source."),
                    "kind": enum("Kind of the source.", KUSTOMIZATION_SOURCE_KINDS, required=True),
                    "name": string("Name of the source.", required=True),
                    "namespace": string("Namespace of the source; this namespace by default."),
                },
                required=True,
            ),
            "suspend": suspend(),
            "targetNamespace": string("Namespace for all namespaced objects.", min_length=1, max_length=63),
            "timeout": duration("Time limit for apply and health checks."),
            "wait": boolean("Wait for every applied object to become ready."),
        },
    ),
    status=obj(
        "Observed state of the Kustomization.",
        {
            "conditions": CONDITIONS,
            "history": array(
                "Recent distinct reconciliations, newest first.",
                obj(
                    "Summary of reconciliations that produced the same manifests.",
                    {
                        "digest": string("Checksum of the built manifests.", required=True),
                        "firstReconciled": date_time("First reconciliation of this digest.", required=True),
                        "lastReconciled": date_time("Last reconciliation of this digest.", required=True),
                        "lastReconciledDuration": string("How long the last reconciliation took.", required=True),
                        "lastReconciledStatus": string("Outcome of the last reconciliation.", required=True),
                        "metadata": string_map("Revisions the manifests were built from."),
                        "totalReconciliations": int64("Number of reconciliations.", required=True),
                    },
                ),
            ),
            "inventory": INVENTORY,
            "lastAppliedOriginRevision": string("Origin revision of the last applied artifact."),
            "lastAppliedRevision": string("Revision of the last successfully applied artifact."),
            "lastAttemptedRevision": string("Revision of the last attempted artifact."),
            "lastHandledReconcileAt": LAST_HANDLED_RECONCILE_AT,
            "observedGeneration": OBSERVED_GENERATION,
        },
        default=STATUS_DEFAULT,
    ),
    printer_columns=(AGE, READY, STATUS),
    category="fluxcd-appliers",
    component="kustomize-controller",
    short_names=("ks",),
)

KINDS: Final = (KUSTOMIZATION,)
