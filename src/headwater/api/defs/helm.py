"""Kind of helm.toolkit.fluxcd.io/v2: HelmRelease, the Helm release manager."""

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
    VERIFY_PROVIDER,
    suspend,
)
from headwater.api.defs.source import CHART_RECONCILE_STRATEGY, CHART_SOURCE_KINDS, CHART_VERSION
from headwater.api.kinddef import AGE, READY, STATUS, KindDef, Reference
from headwater.api.schema import (
    Schema,
    array,
    boolean,
    date_time,
    duration,
    enum,
    free_form,
    int64,
    integer,
    obj,
    rule,
    string,
    strings,
)

GROUP: Final = "helm.toolkit.fluxcd.io"


def object_name(description: str, *, required: bool = False) -> Schema:
    """A Kubernetes object name (1-253 characters)."""
    return string(description, required=required, min_length=1, max_length=253)


def namespace_name(description: str) -> Schema:
    """A namespace name (1-63 characters)."""
    return string(description, min_length=1, max_length=63)


CRDS_POLICY: Final = ("Skip", "Create", "CreateReplace")
SSA_POLICY: Final = ("enabled", "disabled", "auto")


def action_timeout(action: str) -> Schema:
    return duration(f"Time limit for the {action}; spec.timeout by default.")


def action_strategy(rules: tuple[str, str]) -> Schema:
    expression, message = rules
    return obj(
        "How failures are handled: remediate (the default) or retry.",
        {
            "name": enum("Strategy name.", ("RemediateOnFailure", "RetryOnFailure"), required=True),
            "retryInterval": duration("Delay between retries (RetryOnFailure only); 5m by default."),
        },
        rules=(rule(expression, message),),
    )


def remediation(action: str, extra: dict[str, Schema]) -> Schema:
    return obj(
        f"What to do when the {action} fails.",
        {
            "ignoreTestFailures": boolean("Do not remediate when only tests fail."),
            "remediateLastFailure": boolean("Remediate the last failure once retries are exhausted."),
            "retries": integer("Attempts before giving up; negative means retry forever."),
            **extra,
        },
    )


CHART_TEMPLATE: Final = obj(
    "Template of the HelmChart the controller creates for this release.",
    {
        "metadata": COMMON_METADATA.describe("Labels and annotations of the generated HelmChart."),
        "spec": obj(
            "Spec of the generated HelmChart.",
            {
                "chart": string("Chart name or path.", required=True, min_length=1, max_length=2048),
                "ignoreMissingValuesFiles": boolean("Skip values files that do not exist."),
                "interval": duration("How often to check for a new chart; the release interval by default."),
                "reconcileStrategy": CHART_RECONCILE_STRATEGY,
                "sourceRef": obj(
                    "The source of the chart.",
                    {
                        "apiVersion": string("API version of the source."),
                        "kind": enum("Kind of the source.", CHART_SOURCE_KINDS, required=True),
                        "name": object_name("Name of the source.", required=True),
                        "namespace": namespace_name("Namespace of the source."),
                    },
                    required=True,
                ),
                "valuesFiles": strings("Values files merged in order into the chart's values.yaml."),
                "verify": obj(
                    "Verify the chart signature (OCI HelmRepository sources only).",
                    {
                        "provider": VERIFY_PROVIDER,
                        "secretRef": SECRET_REF.describe("Secret with trusted public keys."),
                    },
                ),
                "version": CHART_VERSION,
            },
            required=True,
        ),
    },
)

INSTALL: Final = obj(
    "How to install the release.",
    {
        "crds": enum("How to handle the chart's CRDs on install; Create by default.", CRDS_POLICY),
        "createNamespace": boolean("Create the target namespace if it does not exist."),
        "disableHooks": boolean("Skip chart hooks."),
        "disableOpenAPIValidation": boolean("Skip OpenAPI validation of rendered manifests."),
        "disableSchemaValidation": boolean("Skip JSON schema validation of values."),
        "disableTakeOwnership": boolean("Refuse to adopt existing objects not owned by the release."),
        "disableWait": boolean("Do not wait for resources to become ready."),
        "disableWaitForJobs": boolean("Do not wait for Jobs to complete."),
        "remediation": remediation("install", {}),
        "replace": boolean("Reuse the name of a deleted release that is still in history."),
        "serverSideApply": boolean("Apply the release with server-side apply."),
        "skipCRDs": boolean("Do not install CRDs (deprecated, use crds: Skip)."),
        "strategy": action_strategy(
            (
                "!has(self.retryInterval) || self.name != 'RemediateOnFailure'",
                ".retryInterval cannot be set when .name is 'RemediateOnFailure'",
            )
        ),
        "timeout": action_timeout("install"),
    },
)

UPGRADE: Final = obj(
    "How to upgrade the release.",
    {
        "chartNameChangeStrategy": enum(
            "What to do when the chart name changes: reinstall (default) or upgrade in place.",
            ("InPlaceUpdate", "Reinstall"),
        ),
        "cleanupOnFail": boolean("Delete objects created by a failed upgrade."),
        "crds": enum("How to handle the chart's CRDs on upgrade; Skip by default.", CRDS_POLICY),
        "disableHooks": boolean("Skip chart hooks."),
        "disableOpenAPIValidation": boolean("Skip OpenAPI validation of rendered manifests."),
        "disableSchemaValidation": boolean("Skip JSON schema validation of values."),
        "disableTakeOwnership": boolean("Refuse to adopt existing objects not owned by the release."),
        "disableWait": boolean("Do not wait for resources to become ready."),
        "disableWaitForJobs": boolean("Do not wait for Jobs to complete."),
        "force": boolean("Replace objects instead of patching them."),
        "preserveValues": boolean("Reuse the values of the previous release."),
        "remediation": remediation(
            "upgrade",
            {"strategy": enum("Remediation action; rollback by default.", ("rollback", "uninstall"))},
        ),
        "serverSideApply": enum("Server-side apply mode; auto follows the previous release.", SSA_POLICY),
        "strategy": action_strategy(
            (
                "!has(self.retryInterval) || self.name == 'RetryOnFailure'",
                ".retryInterval can only be set when .name is 'RetryOnFailure'",
            )
        ),
        "timeout": action_timeout("upgrade"),
    },
)

TEST: Final = obj(
    "Helm tests to run after install and upgrade.",
    {
        "enable": boolean("Run the chart tests."),
        "filters": array(
            "Tests to run or skip.",
            obj(
                "A test selected by name.",
                {
                    "exclude": boolean("Skip this test instead of selecting it."),
                    "name": object_name("Name of the test.", required=True),
                },
            ),
        ),
        "ignoreFailures": boolean("Do not fail the release when tests fail."),
        "timeout": action_timeout("tests"),
    },
)

ROLLBACK: Final = obj(
    "How to roll back the release.",
    {
        "cleanupOnFail": boolean("Delete objects created by a failed rollback."),
        "disableHooks": boolean("Skip chart hooks."),
        "disableWait": boolean("Do not wait for resources to become ready."),
        "disableWaitForJobs": boolean("Do not wait for Jobs to complete."),
        "force": boolean("Replace objects instead of patching them."),
        "recreate": boolean("Restart pods of the rolled-back objects."),
        "serverSideApply": enum("Server-side apply mode; auto follows the target release.", SSA_POLICY),
        "timeout": action_timeout("rollback"),
    },
)

UNINSTALL: Final = obj(
    "How to uninstall the release.",
    {
        "deletionPropagation": enum(
            "Deletion propagation policy for release objects.",
            ("background", "foreground", "orphan"),
            default="background",
        ),
        "disableHooks": boolean("Skip chart hooks."),
        "disableWait": boolean("Do not wait for objects to be deleted."),
        "keepHistory": boolean("Keep the release history after uninstalling."),
        "timeout": action_timeout("uninstall"),
    },
)

VALUES_FROM: Final = obj(
    "A ConfigMap or Secret key holding values.",
    {
        "kind": enum("Kind of the object.", ("Secret", "ConfigMap"), required=True),
        "literal": boolean("Set the value at targetPath literally (like --set-literal)."),
        "name": object_name("Name of the object.", required=True),
        "optional": boolean("Carry on when the object or key does not exist."),
        "targetPath": string(
            "Values path to set the whole key content at (--set syntax).",
            pattern=r"^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$",
            max_length=250,
        ),
        "valuesKey": string(
            "Data key holding the values; values.yaml by default.",
            pattern=r"^[\-._a-zA-Z0-9]+$",
            max_length=253,
        ),
    },
)

SNAPSHOT: Final = obj(
    "One release revision as recorded by the controller.",
    {
        "action": string("Helm action that produced the revision."),
        "apiVersion": string("Version of the snapshot format."),
        "appVersion": string("App version of the chart."),
        "chartName": string("Name of the chart.", required=True),
        "chartVersion": string("Version of the chart.", required=True),
        "configDigest": string("Checksum of the values.", required=True),
        "deleted": date_time("When the release was deleted."),
        "digest": string("Checksum of the release object.", required=True),
        "firstDeployed": date_time("When the release was first deployed.", required=True),
        "lastDeployed": date_time("When this revision was deployed.", required=True),
        "name": string("Release name.", required=True),
        "namespace": string("Release namespace.", required=True),
        "ociDigest": string("Digest of the OCI chart artifact."),
        "status": string("Helm status of the revision.", required=True),
        "testHooks": obj(
            "Test hooks run for this revision, by name.",
            values=obj(
                "Outcome of a test hook.",
                {
                    "lastCompleted": date_time("When the hook finished."),
                    "lastStarted": date_time("When the hook started."),
                    "phase": string("Hook phase."),
                },
            ),
        ),
        "version": integer("Helm release revision.", required=True),
    },
)

HELM_RELEASE: Final = KindDef(
    group=GROUP,
    version="v2",
    kind="HelmRelease",
    plural="helmreleases",
    cli_noun="helmrelease",
    references=(
        Reference(
            ("spec", "chart", "spec", "sourceRef"), ("GitRepository", "HelmRepository", "Bucket"), cross_namespace=True
        ),
        Reference(("spec", "chartRef"), ("OCIRepository", "HelmChart", "ExternalArtifact"), cross_namespace=True),
        Reference(("spec", "dependsOn", "[]"), ("HelmRelease",), cross_namespace=True),
    ),
    description="A Helm release installed and kept up to date by the controller.",
    spec=obj(
        "Desired state of the release.",
        {
            "chart": CHART_TEMPLATE,
            "chartRef": obj(
                "An existing chart source: OCIRepository, HelmChart or ExternalArtifact.",
                {
                    "apiVersion": string("API version of the source."),
                    "kind": enum(
                        "Kind of the source.",
                        ("OCIRepository", "HelmChart", "ExternalArtifact"),
                        required=True,
                    ),
                    "name": object_name("Name of the source.", required=True),
                    "namespace": namespace_name("Namespace of the source."),
                },
            ),
            "commonMetadata": COMMON_METADATA,
            "dependsOn": DEPENDS_ON,
            "driftDetection": obj(
                "Detect and optionally correct changes made to release objects in the cluster.",
                {
                    "ignore": IGNORE_RULES.describe("Fields excluded from drift detection."),
                    "mode": enum("Drift detection mode; disabled by default.", ("enabled", "warn", "disabled")),
                },
            ),
            "healthCheckExprs": HEALTH_CHECK_EXPRS,
            "install": INSTALL,
            "interval": duration("How often to reconcile.", required=True),
            "kubeConfig": KUBECONFIG_REF,
            "maxHistory": integer("Release revisions kept in storage; 5 by default, 0 for no limit."),
            "persistentClient": boolean("Reuse the Kubernetes client across actions (true by default); false gives "
                                        "each action its own, reading discovery anew."),
            "postRenderStrategy": enum(
                "Which rendered manifests (hooks included or not) the post-renderers see.",
                ("nohooks", "combined", "separate"),
            ),
            "postRenderers": array(
                "Transformations applied to the rendered manifests, in order.",
                obj(
                    "A post-renderer.",
                    {
                        "kustomize": obj(
                            "Kustomize patches and image overrides.",
                            {"images": IMAGES, "patches": PATCHES},
                        )
                    },
                ),
            ),
            "releaseName": string(
                "Helm release name; '[<targetNamespace>-]<name>' by default.", min_length=1, max_length=53
            ),
            "rollback": ROLLBACK,
            "serviceAccountName": object_name("ServiceAccount impersonated for Helm actions."),
            "storageNamespace": namespace_name("Namespace of the Helm storage; this namespace by default."),
            "suspend": suspend(),
            "targetNamespace": namespace_name("Namespace to install into; this namespace by default."),
            "test": TEST,
            "timeout": duration("Time limit for each Helm action; 5m by default."),
            "uninstall": UNINSTALL,
            "upgrade": UPGRADE,
            "values": free_form("Inline values, merged over valuesFrom."),
            "valuesFrom": array("Values sources merged in order.", VALUES_FROM),
            "waitStrategy": obj(
                "How readiness of release objects is determined.",
                {"name": enum("Wait implementation.", ("poller", "legacy"), required=True)},
            ),
        },
        rules=(
            rule(
                "(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))",
                "either chart or chartRef must be set",
            ),
        ),
    ),
    status=obj(
        "Observed state of the release.",
        {
            "conditions": CONDITIONS,
            "failures": int64("Failed reconciliations since the last success."),
            "helmChart": string("Namespaced name of the HelmChart created for this release."),
            "history": array("Release revisions, newest first.", SNAPSHOT),
            "installFailures": int64("Failed installs since the last success."),
            "inventory": INVENTORY,
            "lastAttemptedConfigDigest": string("Checksum of the values of the last attempt."),
            "lastAttemptedGeneration": int64("Generation of the last attempt."),
            "lastAttemptedReleaseAction": enum("Action of the last attempt.", ("install", "upgrade")),
            "lastAttemptedReleaseActionDuration": string("How long the last action took."),
            "lastAttemptedRevision": string("Chart version of the last attempt."),
            "lastAttemptedRevisionDigest": string("Chart artifact digest of the last attempt."),
            "lastAttemptedValuesChecksum": string("Deprecated checksum of the values of the last attempt."),
            "lastHandledForceAt": string("Last reconcile.fluxcd.io/forceAt value handled."),
            "lastHandledReconcileAt": LAST_HANDLED_RECONCILE_AT,
            "lastHandledResetAt": string("Last reconcile.fluxcd.io/resetAt value handled."),
            "lastReleaseRevision": integer("Deprecated revision number of the last release."),
            "observedCommonMetadataDigest": string("Checksum of the common metadata last applied."),
            "observedGeneration": OBSERVED_GENERATION,
            "observedPostRenderersDigest": string("Checksum of the post-renderers last applied."),
            "storageNamespace": namespace_name("Namespace of the Helm storage in use."),
            "upgradeFailures": int64("Failed upgrades since the last success."),
        },
        default=STATUS_DEFAULT,
    ),
    printer_columns=(AGE, READY, STATUS),
    category="fluxcd-appliers",
    component="helm-controller",
    short_names=("hr",),
)

KINDS: Final = (HELM_RELEASE,)
