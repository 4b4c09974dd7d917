"""Connection settings for an apiserver: from a kubeconfig, from in-cluster files, or from a Secret.

Only what a controller needs is supported: client certificates, bearer tokens (inline or from a file,
re-read so rotated service-account tokens keep working), basic auth, CA data, `insecure-skip-tls-verify`
and impersonation. Exec and auth-provider plugins are refused with a clear message: a controller must
not shell out to a cloud CLI to authenticate.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from headwater.runtime.kube.errors import ConfigError

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Impersonation:
    """Who the client acts as: `Impersonate-User` and `Impersonate-Group` headers."""

    user: str
    groups: tuple[str, ...] = ()

    @classmethod
    def service_account(cls, namespace: str, name: str) -> Impersonation:
        return cls(
            user=f"system:serviceaccount:{namespace}:{name}",
            groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
        )

    def headers(self) -> list[tuple[str, str]]:
        return [("Impersonate-User", self.user)] + [("Impersonate-Group", g) for g in self.groups]


@dataclass(frozen=True)
class ClusterConfig:
    """Everything needed to open connections to one apiserver as one identity."""

    server: str
    ca_data: bytes | None = None
    insecure: bool = False
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    token: str | None = None
    token_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    namespace: str = "default"
    impersonate: Impersonation | None = None
    context_name: str = ""

    def with_impersonation(self, impersonate: Impersonation | None) -> ClusterConfig:
        return replace(self, impersonate=impersonate)

    def bearer_token(self) -> str | None:
        if self.token_file:
            try:
                return Path(self.token_file).read_text().strip()
            except OSError as err:
                raise ConfigError(f"cannot read token file {self.token_file}: {err}") from err
        return self.token

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.server.startswith("http://"):
            return False
        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_data:
            context = ssl.create_default_context(cadata=self.ca_data.decode())
        else:
            context = ssl.create_default_context()
        if self.client_cert_data and self.client_key_data:
            _load_cert_chain(context, self.client_cert_data, self.client_key_data)
        return context


def _load_cert_chain(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl can only load a certificate chain from files: write them to a private, short-lived directory.
    with tempfile.TemporaryDirectory(prefix="hw-tls-") as tmp:
        cert_path, key_path = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        cert_path.write_bytes(cert)
        try:
            context.load_cert_chain(str(cert_path), str(key_path))
        except ssl.SSLError as err:
            raise ConfigError(f"client certificate or key is invalid: {err.reason or err}") from err


def default_kubeconfig_paths() -> list[Path]:
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def load_kubeconfig(path: str | Path | None = None, context: str | None = None) -> ClusterConfig:
    """Read a kubeconfig file (or `$KUBECONFIG`, or ~/.kube/config) and resolve one context."""
    paths = [Path(path)] if path else default_kubeconfig_paths()
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    current = None
    found = False
    for candidate in paths:
        try:
            data = yaml.safe_load(candidate.read_text()) or {}
        except FileNotFoundError:
            continue
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"cannot read kubeconfig {candidate}: {err}") from err
        found = True
        for key in ("clusters", "users", "contexts"):
            merged[key].extend(data.get(key) or [])
        current = current or data.get("current-context")
        _resolve_relative_files(data, candidate.parent)
    if not found:
        raise ConfigError(f"no kubeconfig found at {', '.join(str(p) for p in paths)}")
    return config_from_dict(merged | {"current-context": current}, context)


def config_from_dict(data: dict[str, Any], context: str | None = None) -> ClusterConfig:
    """Resolve a context of an already-parsed kubeconfig (also used for kubeconfig Secrets)."""
    context_name = context or data.get("current-context")
    if not context_name:
        raise ConfigError("the kubeconfig has no current-context and no context was given")
    ctx = _named(data.get("contexts") or [], context_name, "context")
    cluster = _named(data.get("clusters") or [], ctx.get("cluster", ""), "cluster")
    user = _named(data.get("users") or [], ctx.get("user", ""), "user") if ctx.get("user") else {}
    if "exec" in user or "auth-provider" in user:
        raise ConfigError(
            f"context {context_name!r} authenticates with an exec or auth-provider plugin, which headwater "
            "does not run; use a client certificate or a token"
        )
    server = cluster.get("server")
    if not server:
        raise ConfigError(f"cluster {ctx.get('cluster')!r} of context {context_name!r} has no server")
    return ClusterConfig(
        server=str(server).rstrip("/"),
        ca_data=_data(cluster, "certificate-authority"),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        client_cert_data=_data(user, "client-certificate"),
        client_key_data=_data(user, "client-key"),
        token=user.get("token"),
        token_file=user.get("tokenFile"),
        username=user.get("username"),
        password=user.get("password"),
        namespace=ctx.get("namespace") or "default",
        context_name=context_name,
    )


def in_cluster_config() -> ClusterConfig:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set")
    if ":" in host:
        host = f"[{host}]"
    try:
        namespace = (IN_CLUSTER_DIR / "namespace").read_text().strip()
        ca = (IN_CLUSTER_DIR / "ca.crt").read_bytes()
    except OSError as err:
        raise ConfigError(f"service-account files missing in {IN_CLUSTER_DIR}: {err}") from err
    return ClusterConfig(
        server=f"https://{host}:{port}", ca_data=ca, token_file=str(IN_CLUSTER_DIR / "token"),
        namespace=namespace, context_name="in-cluster",
    )


def load(kubeconfig: str | Path | None = None, context: str | None = None) -> ClusterConfig:
    """A kubeconfig when one is given or present; the in-cluster configuration otherwise."""
    if kubeconfig is None and not os.environ.get("KUBECONFIG") and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster_config()
    return load_kubeconfig(kubeconfig, context)


def _named(items: list[dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    for item in items:
        if item.get("name") == name:
            return dict(item.get(what) or {})
    raise ConfigError(f"kubeconfig has no {what} named {name!r}")


def _data(section: dict[str, Any], key: str) -> bytes | None:
    inline = section.get(f"{key}-data")
    if inline:
        try:
            return base64.b64decode(inline, validate=True)
        except ValueError as err:
            raise ConfigError(f"{key}-data is not valid base64") from err
    path = section.get(key)
    if path:
        try:
            return Path(path).read_bytes()
        except OSError as err:
            raise ConfigError(f"cannot read {key} file {path}: {err}") from err
    return None


def _resolve_relative_files(data: dict[str, Any], base: Path) -> None:
    file_keys = {
        ("clusters", "cluster"): ("certificate-authority",),
        ("users", "user"): ("client-certificate", "client-key", "tokenFile"),
    }
    for (section, sub), keys in file_keys.items():
        for item in data.get(section) or []:
            entry = item.get(sub) or {}
            for key in keys:
                if entry.get(key) and not os.path.isabs(entry[key]):
                    entry[key] = str(base / entry[key])
