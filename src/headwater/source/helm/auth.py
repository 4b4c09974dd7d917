"""A HelmRepository's credentials, read from its Secrets with Flux's messages.

Both the HelmRepository (fetching its index) and every HelmChart of it (downloading a chart, pulling from an
OCI registry) authenticate with the repository's `secretRef` and `certSecretRef`; this is the one place that
reads them. A missing or malformed Secret is `AuthenticationFailed` (retried: the Secret may appear), with
Flux's wording; values are never part of a message.
"""

from __future__ import annotations

from typing import Any

from headwater.api.models.source import HelmRepository
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient, NotFound
from headwater.runtime.result import ReconcileError
from headwater.source.git.auth import GitAuthError, secret_values
from headwater.source.helm.getter import Credentials, credentials_from
from headwater.source.helm.oci import docker_config_credentials, registry_host

__all__ = ["repository_credentials"]


async def _secret(kube: KubeClient, namespace: str, name: str, what: str) -> dict[str, Any]:
    try:
        return await kube.get("v1", "Secret", name, namespace)
    except NotFound as err:
        raise ReconcileError(cond.AUTHENTICATION_FAILED_REASON,
                             f"failed to get {what} '{namespace}/{name}': secrets \"{name}\" not found") from err


async def repository_credentials(kube: KubeClient, repository: HelmRepository) -> Credentials:
    """The credentials `repository` gives its requests (anonymous when it names no Secret)."""
    spec, namespace = repository.spec, repository.namespace
    auth = cert = None
    if spec.cert_secret_ref is not None:
        cert = await _secret(kube, namespace, spec.cert_secret_ref.name, "TLS authentication secret")
    if spec.secret_ref is not None:
        auth = await _secret(kube, namespace, spec.secret_ref.name, "authentication secret")
    try:
        credentials = credentials_from(auth, cert, pass_credentials=spec.pass_credentials)
        if spec.is_oci and auth is not None and not credentials.has_basic:
            config = secret_values(auth).get(".dockerconfigjson")
            found = docker_config_credentials(config, registry_host(spec.url)) if config else None
            if found is not None:
                credentials = Credentials(found[0], found[1], credentials.ca, credentials.cert, credentials.key,
                                          credentials.pass_credentials, credentials.deprecated_tls)
    except (ValueError, GitAuthError) as err:
        raise ReconcileError(cond.AUTHENTICATION_FAILED_REASON, f"failed to configure authentication: {err}") from err
    return credentials
