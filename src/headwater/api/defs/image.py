"""Kinds of image.toolkit.fluxcd.io/v1: ImageRepository, ImagePolicy, ImageUpdateAutomation."""

from __future__ import annotations

from typing import Final

from headwater.api.defs.common import (
    ACCESS_FROM,
    CERT_SECRET_REF,
    CONDITIONS,
    LAST_HANDLED_RECONCILE_AT,
    OBSERVED_GENERATION,
    PROXY_SECRET_REF,
    SECRET_REF,
    STATUS_DEFAULT,
    suspend,
)
from headwater.api.defs.source import GIT_REF
from headwater.api.kinddef import AGE, READY, STATUS, KindDef, PrinterColumn, Reference
from headwater.api.schema import (
    Schema,
    array,
    boolean,
    date_time,
    duration,
    enum,
    integer,
    obj,
    rule,
    string,
    string_map,
    strings,
)

GROUP: Final = "image.toolkit.fluxcd.io"
VERSION: Final = "v1"
CATEGORY: Final = "fluxcd-images"
REFLECTOR: Final = "image-reflector-controller"
AUTOMATION: Final = "image-automation-controller"


def image_ref(description: str) -> Schema:
    return obj(
        description,
        {
            "digest": string("Image digest, when known."),
            "name": string("Image name without tag.", required=True),
            "tag": string("Image tag.", required=True),
        },
    )


IMAGE_REPOSITORY: Final = KindDef(
    group=GROUP,
    version=VERSION,
    kind="ImageRepository",
    plural="imagerepositories",
    cli_noun="image repository",
    description="A container image repository whose tags are scanned periodically.",
    spec=obj(
        "Desired state of the image repository.",
        {
            "accessFrom": ACCESS_FROM,
            "certSecretRef": CERT_SECRET_REF,
            "exclusionList": array("Regexes of tags to ignore.", string(), default=[r"^.*\.sig$"], max_items=25),
            "image": string("Image name, e.g. ghcr.io/org/app.", required=True),
            "insecure": boolean("Allow plain HTTP registries."),
            "interval": duration("How often to scan for tags.", required=True),
            "provider": enum("Registry credential provider.", ("generic", "aws", "azure", "gcp"), default="generic"),
            "proxySecretRef": PROXY_SECRET_REF,
            "secretRef": SECRET_REF.describe("Secret of type dockerconfigjson with registry credentials."),
            "serviceAccountName": string(
                "ServiceAccount whose image pull secrets or workload identity are used.", max_length=253
            ),
            "suspend": suspend(),
            "timeout": duration("Time limit for one scan; the interval by default.", hours=False),
        },
    ),
    status=obj(
        "Observed state of the image repository.",
        {
            "canonicalImageName": string("Fully qualified image name used for scanning."),
            "conditions": CONDITIONS,
            "lastHandledReconcileAt": LAST_HANDLED_RECONCILE_AT,
            "lastScanResult": obj(
                "Outcome of the last scan.",
                {
                    "latestTags": strings("A sample of the most recent tags."),
                    "revision": string("Checksum of the tag list."),
                    "scanTime": date_time("When the scan finished."),
                    "tagCount": integer("Number of tags found.", required=True),
                },
            ),
            "observedExclusionList": strings("Exclusion list used by the last scan."),
            "observedGeneration": OBSERVED_GENERATION,
        },
        default=STATUS_DEFAULT,
    ),
    printer_columns=(
        PrinterColumn("Image", ".spec.image"),
        PrinterColumn("Tags", ".status.lastScanResult.tagCount"),
        READY,
        STATUS,
        PrinterColumn("Last scan", ".status.lastScanResult.scanTime", priority=1),
        AGE,
    ),
    category=CATEGORY,
    component=REFLECTOR,
    short_names=("imgrepo", "imagerepo"),
)

SORT_ORDER: Final = enum("Sort order; the last tag in this order wins.", ("asc", "desc"), default="asc")

IMAGE_POLICY: Final = KindDef(
    group=GROUP,
    version=VERSION,
    kind="ImagePolicy",
    plural="imagepolicies",
    cli_noun="image policy",
    references=(Reference(("spec", "imageRepositoryRef"), ("ImageRepository",), cross_namespace=True),),
    description="Picks the latest image tag of an ImageRepository according to a policy.",
    spec=obj(
        "Desired state of the image policy.",
        {
            "digestReflectionPolicy": enum(
                "When to look up the digest of the chosen tag.",
                ("Always", "IfNotPresent", "Never"),
                default="Never",
            ),
            "filterTags": obj(
                "Preselect tags with a regex and optionally extract the part to sort on.",
                {
                    "extract": string("Replacement template (e.g. $ts) giving the value to sort on."),
                    "pattern": string("Regex tags must match."),
                },
            ),
            "imageRepositoryRef": obj(
                "The ImageRepository to choose from.",
                {
                    "name": string("Name of the ImageRepository.", required=True),
                    "namespace": string("Namespace of the ImageRepository."),
                },
                required=True,
            ),
            "interval": duration("How often to re-resolve digests (digestReflectionPolicy Always only)."),
            "policy": obj(
                "Ordering used to choose the latest tag; set exactly one.",
                {
                    "alphabetical": obj("Order tags alphabetically.", {"order": SORT_ORDER}),
                    "numerical": obj("Order tags as numbers.", {"order": SORT_ORDER}),
                    "semver": obj(
                        "Pick the highest version within a SemVer range.",
                        {"range": string("SemVer constraint, e.g. >=1.0.0 <2.0.0.", required=True)},
                    ),
                },
                required=True,
            ),
            "suspend": suspend(),
        },
        rules=(
            rule(
                "!has(self.interval) || (has(self.digestReflectionPolicy) && self.digestReflectionPolicy == 'Always')",
                "spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'",
            ),
            rule(
                "has(self.interval) || !has(self.digestReflectionPolicy) || self.digestReflectionPolicy != 'Always'",
                "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'",
            ),
        ),
    ),
    status=obj(
        "Observed state of the image policy.",
        {
            "conditions": CONDITIONS,
            "lastHandledReconcileAt": LAST_HANDLED_RECONCILE_AT,
            "latestRef": image_ref("The image chosen by the policy."),
            "observedGeneration": OBSERVED_GENERATION,
            "observedPreviousRef": image_ref("The image chosen before the latest one."),
        },
        default=STATUS_DEFAULT,
    ),
    printer_columns=(
        PrinterColumn("Image", ".status.latestRef.name"),
        PrinterColumn("Tag", ".status.latestRef.tag"),
        READY,
        STATUS,
        AGE,
    ),
    category=CATEGORY,
    component=REFLECTOR,
    short_names=("imgpol", "imagepol"),
)

LABEL_SELECTOR: Final = obj(
    "Kubernetes label selector; an empty selector matches everything.",
    {
        "matchExpressions": array(
            "Set-based requirements, all of which must hold.",
            obj(
                "A set-based requirement.",
                {
                    "key": string("Label key.", required=True),
                    "operator": string("In, NotIn, Exists or DoesNotExist.", required=True),
                    "values": array("Values for In and NotIn.", string(), list_type="atomic"),
                },
            ),
            list_type="atomic",
        ),
        "matchLabels": string_map("Labels that must all be present with these values."),
    },
    map_type="atomic",
)

IMAGE_UPDATE_AUTOMATION: Final = KindDef(
    group=GROUP,
    version=VERSION,
    kind="ImageUpdateAutomation",
    plural="imageupdateautomations",
    cli_noun="image update",
    references=(Reference(("spec", "sourceRef"), ("GitRepository",), cross_namespace=True),),
    description="Rewrites image references in a Git repository from ImagePolicies and pushes commits.",
    spec=obj(
        "Desired state of the automation.",
        {
            "git": obj(
                "How to check out, commit and push.",
                {
                    "checkout": obj(
                        "Reference to check out instead of the GitRepository's own.",
                        {"ref": GIT_REF.describe("Git reference to check out.").require()},
                    ),
                    "commit": obj(
                        "How to write commits.",
                        {
                            "author": obj(
                                "Commit author.",
                                {
                                    "email": string("Author email.", required=True),
                                    "name": string("Author name."),
                                },
                                required=True,
                            ),
                            "messageTemplate": string("Go template for the commit message."),
                            "messageTemplateValues": string_map("Extra values available to the template."),
                            "signingKey": obj(
                                "Key used to sign commits.",
                                {
                                    "secretRef": SECRET_REF.describe("Secret with the private key.").require(),
                                    "type": enum("Key type.", ("gpg", "ssh")),
                                },
                            ),
                        },
                        required=True,
                    ),
                    "push": obj(
                        "Where to push; the checked-out branch by default.",
                        {
                            "branch": string("Branch to push to, created from the checkout if missing."),
                            "options": string_map("Git push options (-o)."),
                            "refspec": string("Explicit refspec to push.", pattern=r"^$|^[^+:]"),
                        },
                    ),
                },
            ),
            "interval": duration("How often to run the automation.", required=True),
            "policySelector": LABEL_SELECTOR.describe("ImagePolicies to apply; all in the namespace by default."),
            "sourceRef": obj(
                "The GitRepository to update.",
                {
                    "apiVersion": string("API version of the source."),
                    "kind": enum("Kind of the source.", ("GitRepository",), required=True, default="GitRepository"),
                    "name": string("Name of the source.", required=True),
                    "namespace": string("Namespace of the source."),
                },
                required=True,
            ),
            "suspend": suspend(),
            "update": obj(
                "How files are updated.",
                {
                    "path": string("Directory to update; the repository root by default."),
                    "strategy": enum("Update strategy.", ("Setters",), default="Setters"),
                },
                default={"strategy": "Setters"},
            ),
        },
    ),
    status=obj(
        "Observed state of the automation.",
        {
            "conditions": CONDITIONS,
            "lastAutomationRunTime": date_time("When the automation last ran."),
            "lastHandledReconcileAt": LAST_HANDLED_RECONCILE_AT,
            "lastPushCommit": string("SHA of the last pushed commit."),
            "lastPushTime": date_time("When the last commit was pushed."),
            "observedGeneration": OBSERVED_GENERATION,
            "observedPolicies": obj(
                "Images chosen by the policies at the last run, by policy name.",
                values=image_ref("An image reference."),
            ),
            "observedSourceRevision": string("Source revision seen at the last run."),
        },
        default=STATUS_DEFAULT,
    ),
    printer_columns=(
        READY,
        STATUS,
        PrinterColumn("Last run", ".status.lastAutomationRunTime", priority=1),
        AGE,
    ),
    category=CATEGORY,
    component=AUTOMATION,
    short_names=("iua", "imgupd", "imgauto"),
)

KINDS: Final = (IMAGE_REPOSITORY, IMAGE_POLICY, IMAGE_UPDATE_AUTOMATION)
