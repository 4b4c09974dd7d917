"""Kinds of source.toolkit.fluxcd.io/v1: where artifacts come from.

GitRepository, OCIRepository, HelmRepository, HelmChart, Bucket and ExternalArtifact.
Field names, types, defaults, enums and CEL rules follow Flux's CRDs; the descriptions
are our own.
"""

from __future__ import annotations

from typing import Final

from headwater.api.defs.common import (
    ACCESS_FROM,
    ARTIFACT,
    CERT_SECRET_REF,
    CONDITIONS,
    LAST_HANDLED_RECONCILE_AT,
    LOCAL_REF,
    OBSERVED_GENERATION,
    OIDC_IDENTITIES,
    PROXY_SECRET_REF,
    SECRET_REF,
    SERVICE_ACCOUNT_NAME,
    STATUS_DEFAULT,
    VERIFY_PROVIDER,
    suspend,
)
from headwater.api.kinddef import AGE, READY, STATUS, KindDef, PrinterColumn, Reference
from headwater.api.schema import (
    Schema,
    array,
    boolean,
    duration,
    enum,
    obj,
    rule,
    string,
    strings,
)

GROUP: Final = "source.toolkit.fluxcd.io"
VERSION: Final = "v1"
CATEGORY: Final = "fluxcd-sources"
COMPONENT: Final = "source-controller"

URL_COLUMN: Final = PrinterColumn("URL", ".spec.url")

INTERVAL: Final = duration("How often to check the source for changes.", required=True)
TIMEOUT: Final = duration("Time limit for one fetch operation.", default="60s", hours=False)
IGNORE: Final = string("Extra exclusions in .gitignore syntax; replaces the default exclusions.")
STATUS_URL: Final = string("Stable address of the latest artifact.")


def source_status(extra: dict[str, Schema]) -> Schema:
    """The status shared by all artifact-producing sources plus ``extra`` fields."""
    return obj(
        "Observed state of the source.",
        {
            "artifact": ARTIFACT.describe("The most recent artifact."),
            "conditions": CONDITIONS,
            "lastHandledReconcileAt": LAST_HANDLED_RECONCILE_AT,
            "observedGeneration": OBSERVED_GENERATION,
            **extra,
        },
        default=STATUS_DEFAULT,
    )


# -- GitRepository ----------------------------------------------------------------------
GIT_REF: Final = obj(
    "Git reference to check out; later fields win: branch, tag, semver, name, commit.",
    {
        "branch": string("Branch to follow."),
        "commit": string("Exact commit SHA; with branch, the branch is cloned then this commit checked out."),
        "name": string("Full reference name, e.g. refs/heads/main or refs/pull/1/head."),
        "semver": string("SemVer range selecting the highest matching tag."),
        "tag": string("Tag to check out."),
    },
)

GIT_INCLUDE: Final = obj(
    "Another GitRepository whose artifact is copied into this one.",
    {
        "fromPath": string("Directory of the included artifact to copy; the root by default."),
        "repository": LOCAL_REF.describe("The GitRepository to include.").require(),
        "toPath": string("Destination directory; defaults to the included repository's name."),
    },
)

GIT_REPOSITORY: Final = KindDef(
    group=GROUP,
    version=VERSION,
    kind="GitRepository",
    plural="gitrepositories",
    cli_noun="source git",
    artifact=True,
    references=(Reference(("spec", "include", "[]", "repository"), ("GitRepository",)),),
    description="A Git repository checked out and packaged as an artifact.",
    spec=obj(
        "Desired state of the Git source.",
        {
            "ignore": IGNORE,
            "include": array("Other GitRepositories to merge into the artifact.", GIT_INCLUDE),
            "interval": INTERVAL,
            "provider": enum(
                "Who supplies credentials: static secrets (generic) or a cloud identity.",
                ("generic", "aws", "azure", "github"),
            ),
            "proxySecretRef": PROXY_SECRET_REF,
            "recurseSubmodules": boolean("Clone submodules too."),
            "ref": GIT_REF,
            "secretRef": SECRET_REF.describe(
                "Secret with HTTPS (username/password, bearerToken) or SSH (identity, known_hosts) keys."
            ),
            "serviceAccountName": SERVICE_ACCOUNT_NAME,
            "sparseCheckout": strings("Directories to check out; everything when empty."),
            "suspend": suspend(),
            "timeout": TIMEOUT,
            "url": string(
                "Repository address (http, https or ssh).", required=True, pattern=r"^(http|https|ssh)://.*$"
            ),
            "verify": obj(
                "Verify commit or tag signatures with the given keys.",
                {
                    "mode": enum(
                        "What to verify: the HEAD commit, the tag, or both.",
                        ("head", "HEAD", "Tag", "TagAndHEAD"),
                        default="HEAD",
                    ),
                    "secretRef": SECRET_REF.describe("Secret with trusted PGP or SSH public keys.").require(),
                },
            ),
        },
        rules=(
            rule(
                "!has(self.serviceAccountName) || (has(self.provider) && "
                "(self.provider == 'azure' || self.provider == 'aws'))",
                "serviceAccountName can only be set when provider is 'azure' or 'aws'",
            ),
        ),
    ),
    status=source_status(
        {
            "includedArtifacts": array("Artifacts of the included repositories.", ARTIFACT),
            "observedIgnore": string("The ignore rules used for the current artifact."),
            "observedInclude": array("The include list used for the current artifact.", GIT_INCLUDE),
            "observedRecurseSubmodules": boolean("Whether submodules were cloned for the current artifact."),
            "observedSparseCheckout": strings("The sparse checkout used for the current artifact."),
            "sourceVerificationMode": string("Verification mode used for the current artifact."),
        }
    ),
    printer_columns=(URL_COLUMN, AGE, READY, STATUS),
    category=CATEGORY,
    component=COMPONENT,
    short_names=("gitrepo",),
)

# -- OCIRepository ----------------------------------------------------------------------
LAYER_SELECTOR: Final = obj(
    "Which layer of the OCI artifact to use and how.",
    {
        "mediaType": string("Media type of the layer; the first layer when empty."),
        "operation": enum("Unpack the layer (extract) or store it unchanged (copy).", ("extract", "copy")),
    },
)

OCI_REPOSITORY: Final = KindDef(
    group=GROUP,
    version=VERSION,
    kind="OCIRepository",
    plural="ocirepositories",
    cli_noun="source oci",
    artifact=True,
    description="An OCI artifact pulled from a container registry.",
    spec=obj(
        "Desired state of the OCI source.",
        {
            "certSecretRef": CERT_SECRET_REF,
            "ignore": IGNORE,
            "insecure": boolean("Allow plain HTTP registries."),
            "interval": INTERVAL,
            "layerSelector": LAYER_SELECTOR,
            "provider": enum("Registry credential provider.", ("generic", "aws", "azure", "gcp"), default="generic"),
            "proxySecretRef": PROXY_SECRET_REF,
            "ref": obj(
                "Artifact version to pull; later fields win: tag, semver, digest.",
                {
                    "digest": string("Exact image digest."),
                    "semver": string("SemVer range selecting the highest matching tag."),
                    "semverFilter": string("Regex that tags must match before the SemVer range applies."),
                    "tag": string("Tag to pull; 'latest' when no reference is given."),
                },
            ),
            "secretRef": SECRET_REF.describe("Secret of type dockerconfigjson with registry credentials."),
            "serviceAccountName": string("ServiceAccount whose image pull secrets or workload identity are used."),
            "suspend": suspend(),
            "timeout": TIMEOUT,
            "url": string(
                "Repository address without tag or digest, e.g. oci://ghcr.io/org/app.",
                required=True,
                pattern=r"^oci://.*$",
            ),
            "verify": obj(
                "Verify the artifact signature.",
                {
                    "matchOIDCIdentity": OIDC_IDENTITIES,
                    "provider": VERIFY_PROVIDER,
                    "secretRef": SECRET_REF.describe("Secret with trusted public keys or certificates."),
                    "trustedRootSecretRef": SECRET_REF.describe("Secret with a custom Sigstore trusted_root.json."),
                },
            ),
        },
    ),
    status=source_status(
        {
            "observedIgnore": string("The ignore rules used for the current artifact."),
            "observedLayerSelector": LAYER_SELECTOR.describe("The layer selector used for the current artifact."),
            "url": STATUS_URL,
        }
    ),
    printer_columns=(URL_COLUMN, READY, STATUS, AGE),
    category=CATEGORY,
    component=COMPONENT,
    short_names=("ocirepo",),
)

# -- HelmRepository ---------------------------------------------------------------------
HELM_REPOSITORY: Final = KindDef(
    group=GROUP,
    version=VERSION,
    kind="HelmRepository",
    plural="helmrepositories",
    cli_noun="source helm",
    description="A Helm chart repository index, or a pointer to an OCI registry of charts.",
    spec=obj(
        "Desired state of the Helm repository.",
        {
            "accessFrom": ACCESS_FROM,
            "certSecretRef": CERT_SECRET_REF,
            "insecure": boolean("Allow plain HTTP (OCI repositories only)."),
            "interval": duration("How often to fetch the index; 1m when unset."),
            "passCredentials": boolean("Send credentials to hosts other than the repository host."),
            "provider": enum(
                "Credential provider (OCI repositories only).",
                ("generic", "aws", "azure", "gcp"),
                default="generic",
            ),
            "secretRef": SECRET_REF.describe("Secret with basic-auth or TLS credentials."),
            "suspend": suspend(),
            "timeout": duration("Time limit for fetching the index; 1m when unset.", hours=False),
            "type": enum("Repository type: an HTTP index (default) or an OCI registry.", ("default", "oci")),
            "url": string("Repository address.", required=True, pattern=r"^(http|https|oci)://.*$"),
        },
    ),
    status=source_status({"url": STATUS_URL}),
    printer_columns=(URL_COLUMN, AGE, READY, STATUS),
    category=CATEGORY,
    component=COMPONENT,
    short_names=("helmrepo",),
)

# -- HelmChart --------------------------------------------------------------------------
CHART_RECONCILE_STRATEGY: Final = enum(
    "When to produce a new artifact: on chart version change, or on every source revision.",
    ("ChartVersion", "Revision"),
    default="ChartVersion",
)
CHART_VERSION: Final = string("SemVer range of the chart version (ignored for Git and Bucket sources).", default="*")
CHART_SOURCE_KINDS: Final = ("HelmRepository", "GitRepository", "Bucket")

HELM_CHART: Final = KindDef(
    group=GROUP,
    version=VERSION,
    kind="HelmChart",
    plural="helmcharts",
    cli_noun="source chart",
    artifact=True,
    references=(Reference(("spec", "sourceRef"), ("HelmRepository", "GitRepository", "Bucket")),),
    description="A packaged Helm chart fetched or built from a source.",
    spec=obj(
        "Desired state of the chart.",
        {
            "chart": string("Chart name, or path to the chart inside a Git or Bucket artifact.", required=True),
            "ignoreMissingValuesFiles": boolean("Skip values files that do not exist."),
            "interval": INTERVAL,
            "reconcileStrategy": CHART_RECONCILE_STRATEGY,
            "sourceRef": obj(
                "The source the chart comes from, in the same namespace.",
                {
                    "apiVersion": string("API version of the source."),
                    "kind": enum("Kind of the source.", CHART_SOURCE_KINDS, required=True),
                    "name": string("Name of the source.", required=True),
                },
                required=True,
            ),
            "suspend": suspend(),
            "valuesFiles": strings("Values files merged in order into the packaged values.yaml."),
            "verify": obj(
                "Verify the chart signature (OCI HelmRepository sources only).",
                {
                    "matchOIDCIdentity": OIDC_IDENTITIES,
                    "provider": VERIFY_PROVIDER,
                    "secretRef": SECRET_REF.describe("Secret with trusted public keys or certificates."),
                },
            ),
            "version": CHART_VERSION,
        },
        rules=(
            rule(
                "!has(self.verify) || self.sourceRef.kind == 'HelmRepository'",
                "spec.verify is only supported when spec.sourceRef.kind is 'HelmRepository'",
            ),
        ),
    ),
    status=source_status(
        {
            "observedChartName": string("Chart name of the current artifact."),
            "observedSourceArtifactRevision": string("Source revision the current artifact was built from."),
            "observedValuesFiles": strings("Values files merged into the current artifact."),
            "url": STATUS_URL,
        }
    ),
    printer_columns=(
        PrinterColumn("Chart", ".spec.chart"),
        PrinterColumn("Version", ".spec.version"),
        PrinterColumn("Source Kind", ".spec.sourceRef.kind"),
        PrinterColumn("Source Name", ".spec.sourceRef.name"),
        AGE,
        READY,
        STATUS,
    ),
    category=CATEGORY,
    component=COMPONENT,
    short_names=("hc",),
)

# -- Bucket -----------------------------------------------------------------------------
BUCKET: Final = KindDef(
    group=GROUP,
    version=VERSION,
    kind="Bucket",
    plural="buckets",
    cli_noun="source bucket",
    artifact=True,
    description="The contents of an S3-compatible, GCS or Azure Blob bucket.",
    spec=obj(
        "Desired state of the bucket source.",
        {
            "bucketName": string("Name of the bucket.", required=True),
            "certSecretRef": CERT_SECRET_REF,
            "endpoint": string("Host (and port) of the object storage service.", required=True),
            "ignore": IGNORE,
            "insecure": boolean("Use plain HTTP."),
            "interval": INTERVAL,
            "prefix": string("Only fetch keys with this prefix."),
            "provider": enum(
                "Object storage flavour and credential provider.",
                ("generic", "aws", "gcp", "azure"),
                default="generic",
            ),
            "proxySecretRef": PROXY_SECRET_REF,
            "region": string("Bucket region."),
            "secretRef": SECRET_REF.describe("Secret with access keys or cloud credentials."),
            "serviceAccountName": SERVICE_ACCOUNT_NAME,
            "sts": obj(
                "Security Token Service used to obtain temporary credentials.",
                {
                    "certSecretRef": CERT_SECRET_REF,
                    "endpoint": string("STS address.", required=True, pattern=r"^(http|https)://.*$"),
                    "provider": enum("STS flavour.", ("aws", "ldap"), required=True),
                    "secretRef": SECRET_REF.describe("Secret with STS credentials (ldap only)."),
                },
            ),
            "suspend": suspend(),
            "timeout": TIMEOUT,
        },
        rules=(
            rule(
                "self.provider == 'aws' || self.provider == 'generic' || !has(self.sts)",
                "STS configuration is only supported for the 'aws' and 'generic' Bucket providers",
            ),
            rule(
                "self.provider != 'aws' || !has(self.sts) || self.sts.provider == 'aws'",
                "'aws' is the only supported STS provider for the 'aws' Bucket provider",
            ),
            rule(
                "self.provider != 'generic' || !has(self.sts) || self.sts.provider == 'ldap'",
                "'ldap' is the only supported STS provider for the 'generic' Bucket provider",
            ),
            rule(
                "!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.secretRef)",
                "spec.sts.secretRef is not required for the 'aws' STS provider",
            ),
            rule(
                "!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.certSecretRef)",
                "spec.sts.certSecretRef is not required for the 'aws' STS provider",
            ),
            rule(
                "self.provider != 'generic' || !has(self.serviceAccountName)",
                "ServiceAccountName is not supported for the 'generic' Bucket provider",
            ),
            rule(
                "!has(self.secretRef) || !has(self.serviceAccountName)",
                "cannot set both .spec.secretRef and .spec.serviceAccountName",
            ),
        ),
    ),
    status=source_status(
        {
            "observedIgnore": string("The ignore rules used for the current artifact."),
            "url": STATUS_URL,
        }
    ),
    printer_columns=(PrinterColumn("Endpoint", ".spec.endpoint"), AGE, READY, STATUS),
    category=CATEGORY,
    component=COMPONENT,
)

# -- ExternalArtifact -------------------------------------------------------------------
EXTERNAL_ARTIFACT: Final = KindDef(
    group=GROUP,
    version=VERSION,
    kind="ExternalArtifact",
    plural="externalartifacts",
    cli_noun="source external",
    artifact=True,
    description="An artifact produced by a third-party controller and consumed by Flux appliers.",
    spec=obj(
        "Desired state of the external artifact.",
        {
            "sourceRef": obj(
                "The object that produces this artifact.",
                {
                    "apiVersion": string("API version of the producer."),
                    "kind": string("Kind of the producer.", required=True),
                    "name": string("Name of the producer.", required=True),
                    "namespace": string("Namespace of the producer."),
                },
            )
        },
    ),
    status=obj(
        "Observed state, written by the producer.",
        {"artifact": ARTIFACT.describe("The current artifact."), "conditions": CONDITIONS},
    ),
    printer_columns=(AGE, READY, STATUS, PrinterColumn("Source", ".spec.sourceRef.name")),
    category=CATEGORY,
    component=COMPONENT,
    short_names=("ea",),
)

KINDS: Final = (GIT_REPOSITORY, OCI_REPOSITORY, HELM_REPOSITORY, HELM_CHART, BUCKET, EXTERNAL_ARTIFACT)
