"""Models of notification.toolkit.fluxcd.io kinds: Provider, Alert, Receiver."""

from __future__ import annotations

from headwater.api.defs.notification import ALERT, PROVIDER, RECEIVER
from headwater.api.models.base import (
    Field,
    View,
    child,
    child_always,
    children,
    duration,
    duration_required,
    string_map,
    strings,
)
from headwater.api.models.common import (
    CrossNamespaceObjectReference,
    LocalObjectReference,
    ObjectStatus,
)
from headwater.api.models.object import FluxObject


class ProviderSpec(View):
    __schema__ = PROVIDER.spec
    type = Field[str]()
    interval = duration()
    channel = Field[str | None]()
    username = Field[str | None]()
    address = Field[str | None]()
    timeout = duration_required(fallback="15s")
    proxy = Field[str | None]()
    proxy_secret_ref = child(LocalObjectReference)
    secret_ref = child(LocalObjectReference)
    cert_secret_ref = child(LocalObjectReference)
    service_account_name = Field[str | None]()
    commit_status_expr = Field[str | None]()
    suspend = Field[bool](fallback=False)


class Provider(FluxObject):
    KIND = PROVIDER
    __schema__ = PROVIDER.schema
    spec = child_always(ProviderSpec)


class AlertSpec(View):
    __schema__ = ALERT.spec
    provider_ref = child_always(LocalObjectReference)
    event_severity = Field[str]()
    event_sources = children(CrossNamespaceObjectReference)
    inclusion_list = strings()
    exclusion_list = strings()
    event_metadata = string_map()
    summary = Field[str | None]()
    suspend = Field[bool](fallback=False)


class Alert(FluxObject):
    KIND = ALERT
    __schema__ = ALERT.schema
    spec = child_always(AlertSpec)


class ReceiverResource(CrossNamespaceObjectReference):
    """An object a Receiver triggers, with an optional CEL filter."""

    __schema__ = RECEIVER.spec.at("resources.[]")
    filter = Field[str | None]()


class OIDCValidation(View):
    __schema__ = RECEIVER.spec.at("oidcProviders.[].validations.[]")
    expression = Field[str]()
    message = Field[str]()


class OIDCVariable(View):
    __schema__ = RECEIVER.spec.at("oidcProviders.[].variables.[]")
    name = Field[str]()
    expression = Field[str]()


class OIDCProvider(View):
    __schema__ = RECEIVER.spec.at("oidcProviders.[]")
    issuer_url = Field[str]("issuerURL")
    audience = Field[str](fallback="notification-controller")
    variables = children(OIDCVariable)
    validations = children(OIDCValidation)


class ReceiverSpec(View):
    __schema__ = RECEIVER.spec
    type = Field[str]()
    interval = duration_required()
    events = strings()
    resources = children(ReceiverResource)
    resource_filter = Field[str | None]()
    secret_ref = child(LocalObjectReference)
    oidc_providers = children(OIDCProvider, "oidcProviders")
    suspend = Field[bool](fallback=False)


class ReceiverStatus(ObjectStatus):
    __schema__ = RECEIVER.status
    webhook_path = Field[str | None]()


class Receiver(FluxObject):
    KIND = RECEIVER
    __schema__ = RECEIVER.schema
    spec = child_always(ReceiverSpec)
    status = child_always(ReceiverStatus)
