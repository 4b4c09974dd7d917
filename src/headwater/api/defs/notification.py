"""Kinds of notification.toolkit.fluxcd.io: Provider, Alert (v1beta3) and Receiver (v1).

Provider and Alert are static objects in v1beta3: no status and no status subresource.
"""

from __future__ import annotations

from typing import Final

from headwater.api.defs.common import (
    CERT_SECRET_REF,
    CONDITIONS,
    LAST_HANDLED_RECONCILE_AT,
    LOCAL_REF,
    OBSERVED_GENERATION,
    PROXY_SECRET_REF,
    SECRET_REF,
    STATUS_DEFAULT,
    suspend,
)
from headwater.api.kinddef import AGE, READY, STATUS, KindDef, Reference
from headwater.api.schema import (
    Schema,
    array,
    duration,
    enum,
    obj,
    rule,
    string,
    string_map,
    strings,
)

GROUP: Final = "notification.toolkit.fluxcd.io"
CATEGORY: Final = "fluxcd-notifications"
COMPONENT: Final = "notification-controller"

PROVIDER_TYPES: Final = (
    "slack",
    "discord",
    "msteams",
    "rocket",
    "generic",
    "generic-hmac",
    "github",
    "gitlab",
    "gitea",
    "giteapullrequestcomment",
    "bitbucketserver",
    "bitbucket",
    "azuredevops",
    "googlechat",
    "googlepubsub",
    "webex",
    "sentry",
    "azureeventhub",
    "telegram",
    "lark",
    "matrix",
    "opsgenie",
    "alertmanager",
    "grafana",
    "githubdispatch",
    "githubpullrequestcomment",
    "gitlabmergerequestcomment",
    "pagerduty",
    "datadog",
    "nats",
    "zulip",
    "otel",
)
#: Provider types that post Git commit statuses (and so accept commitStatusExpr).
COMMIT_STATUS_TYPES: Final = ("github", "gitlab", "gitea", "bitbucketserver", "bitbucket", "azuredevops")

#: Kinds that can emit events (Alert) or be triggered (Receiver).
EVENT_SOURCE_KINDS: Final = (
    "Bucket",
    "GitRepository",
    "Kustomization",
    "HelmRelease",
    "HelmChart",
    "HelmRepository",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "OCIRepository",
    "ArtifactGenerator",
    "ExternalArtifact",
)

RECEIVER_TYPES: Final = (
    "generic",
    "generic-hmac",
    "generic-oidc",
    "github",
    "gitlab",
    "bitbucket",
    "harbor",
    "dockerhub",
    "quay",
    "gcr",
    "nexus",
    "acr",
    "cdevents",
)


def object_selector(description: str, extra: dict[str, Schema]) -> Schema:
    """A Flux object chosen by kind and name ('*' plus matchLabels selects many)."""
    return obj(
        description,
        {
            "apiVersion": string("API version of the object."),
            "kind": enum("Kind of the object.", EVENT_SOURCE_KINDS, required=True),
            "matchLabels": string_map("Labels the objects must carry when name is '*'."),
            "name": string("Name of the object, or '*' for all.", required=True, min_length=1, max_length=253),
            "namespace": string("Namespace of the object.", min_length=1, max_length=253),
            **extra,
        },
    )


PROVIDER: Final = KindDef(
    group=GROUP,
    version="v1beta3",
    kind="Provider",
    plural="providers",
    cli_noun="alert-provider",
    description="Where and how to deliver notifications: chat, webhooks, Git commit statuses ...",
    spec=obj(
        "Desired state of the provider.",
        {
            "address": string("Endpoint, project or topic to send to.", max_length=2048),
            "certSecretRef": CERT_SECRET_REF,
            "channel": string("Channel, room or chat to post to.", max_length=2048),
            "commitStatusExpr": string("CEL expression computing the commit status id."),
            "interval": duration("Ignored; kept for compatibility."),
            "proxy": string(
                "HTTP(S) proxy address (deprecated, use proxySecretRef).",
                pattern=r"^(http|https)://.*$",
                max_length=2048,
            ),
            "proxySecretRef": PROXY_SECRET_REF,
            "secretRef": SECRET_REF.describe("Secret with address, token, username, password or headers."),
            "serviceAccountName": string("ServiceAccount whose workload identity authenticates to the service."),
            "suspend": suspend("sending notifications"),
            "timeout": duration("Time limit for sending one notification; 15s by default.", hours=False),
            "type": enum("Kind of service.", PROVIDER_TYPES, required=True),
            "username": string("Bot user name to post as.", max_length=2048),
        },
        rules=(
            rule(
                " || ".join(f"self.type == '{name}'" for name in COMMIT_STATUS_TYPES)
                + " || !has(self.commitStatusExpr)",
                "spec.commitStatusExpr is only supported for the "
                + ", ".join(f"'{name}'" for name in COMMIT_STATUS_TYPES)
                + " provider types",
            ),
        ),
    ),
    status=None,
    printer_columns=(AGE,),
    category=CATEGORY,
    component=COMPONENT,
)

ALERT: Final = KindDef(
    group=GROUP,
    version="v1beta3",
    kind="Alert",
    plural="alerts",
    cli_noun="alert",
    references=(Reference(("spec", "providerRef"), ("Provider",)),),
    description="Routes events of selected Flux objects to a Provider.",
    spec=obj(
        "Desired state of the alert.",
        {
            "eventMetadata": string_map("Extra metadata attached to every forwarded event."),
            "eventSeverity": enum(
                "Lowest severity to forward (info includes errors).", ("info", "error"), default="info"
            ),
            "eventSources": array(
                "Objects whose events are forwarded.", object_selector("An event source.", {}), required=True
            ),
            "exclusionList": strings("Regexes; events whose message matches any are dropped."),
            "inclusionList": strings("Regexes; when set, only events whose message matches one are kept."),
            "providerRef": LOCAL_REF.describe("The Provider to send to.").require(),
            "summary": string("Short text added to notifications (deprecated).", max_length=255),
            "suspend": suspend("forwarding events"),
        },
    ),
    status=None,
    printer_columns=(AGE,),
    category=CATEGORY,
    component=COMPONENT,
)

OIDC_PROVIDER: Final = obj(
    "A trusted OIDC issuer for generic-oidc receivers.",
    {
        "audience": string("Expected token audience; notification-controller by default."),
        "issuerURL": string("Issuer address.", required=True, pattern=r"^https?://"),
        "validations": array(
            "CEL checks a token's claims must pass.",
            obj(
                "A CEL check.",
                {
                    "expression": string("CEL expression that must be true.", required=True),
                    "message": string("Error reported when the check fails.", required=True),
                },
            ),
            required=True,
            min_items=1,
        ),
        "variables": array(
            "CEL variables computed from the claims.",
            obj(
                "A named CEL expression.",
                {
                    "expression": string("CEL expression.", required=True),
                    "name": string("Variable name.", required=True),
                },
            ),
        ),
    },
)

RECEIVER: Final = KindDef(
    group=GROUP,
    version="v1",
    kind="Receiver",
    plural="receivers",
    cli_noun="receiver",
    description="A webhook endpoint that asks selected Flux objects to reconcile.",
    spec=obj(
        "Desired state of the receiver.",
        {
            "events": strings("Event types to accept (github, gitlab, bitbucket, cdevents)."),
            "interval": duration("How often to reconcile the receiver.", default="10m"),
            "oidcProviders": array(
                "Trusted token issuers (generic-oidc only).",
                OIDC_PROVIDER,
                list_type="map",
                list_map_keys=("issuerURL",),
            ),
            "resourceFilter": string("CEL expression selecting which matched objects to trigger."),
            "resources": array(
                "Objects to trigger.",
                object_selector(
                    "An object to trigger.", {"filter": string("CEL expression this object must satisfy.")}
                ),
                required=True,
            ),
            "secretRef": SECRET_REF.describe("Secret with the webhook 'token'."),
            "suspend": suspend("handling webhooks"),
            "type": enum("Webhook flavour.", RECEIVER_TYPES, required=True),
        },
        rules=(
            rule(
                "self.type != 'generic-oidc' || (has(self.oidcProviders) && size(self.oidcProviders) > 0)",
                "generic-oidc receivers must define at least one oidcProvider",
            ),
            rule(
                "self.type == 'generic-oidc' || !has(self.oidcProviders) || size(self.oidcProviders) == 0",
                "oidcProviders can only be set when type is generic-oidc",
            ),
            rule(
                "self.type != 'generic-oidc' || !has(self.secretRef)",
                "secretRef cannot be set when type is generic-oidc",
            ),
            rule(
                "self.type == 'generic-oidc' || has(self.secretRef)",
                "secretRef is required when type is not generic-oidc",
            ),
        ),
    ),
    status=obj(
        "Observed state of the receiver.",
        {
            "conditions": CONDITIONS,
            "lastHandledReconcileAt": LAST_HANDLED_RECONCILE_AT,
            "observedGeneration": OBSERVED_GENERATION,
            "webhookPath": string("Path the webhook is served on: /hook/<sha256>."),
        },
        default=STATUS_DEFAULT,
    ),
    printer_columns=(AGE, READY, STATUS),
    category=CATEGORY,
    component=COMPONENT,
)

KINDS: Final = (PROVIDER, ALERT, RECEIVER)
