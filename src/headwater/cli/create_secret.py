"""`headwater create secret git|tls|helm NAME`: flux's auth Secrets, exported or applied.

The Secret is built exactly as flux's sourcesecret generator builds it (cleartext `stringData`, keys
`username`/`password`, `bearerToken`, `ca.crt`, `tls.crt`/`tls.key`, `identity`/`identity.pub`/
`known_hosts`). `--export` prints it (that is the point of `--export`: encrypt it with SOPS and commit);
otherwise it is applied and only its name is printed, never a value (the SSH deploy key printed is the
public half).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import click

from headwater.cli.common import fail, log, run
from headwater.cli.create_common import create_options, export_or_connect, name_argument, require_name
from headwater.cli.create_source import ssh_key_options

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient


def _emit(name: str, namespace: str, data: Mapping[str, str], labels: tuple[str, ...], export: bool, what: str,
          kubeconfig: str | None, context: str | None, timeout: str) -> None:
    """Print the Secret (--export) or apply it and say so."""
    from headwater.manifests import GenerateError, parse_labels, secret

    try:
        obj = secret(name, namespace, data, labels=parse_labels(labels))
    except GenerateError as err:
        fail(str(err))
    opts = export_or_connect(obj, export, kubeconfig, context, namespace, timeout)
    if opts is None:
        return

    async def body(client: KubeClient) -> None:
        from headwater.cli.upsert import upsert

        await upsert(client, obj)
        log("►", f"{what}secret '{name}' created in '{namespace}' namespace")

    run(opts, body)


def _pem(path: str | None, what: str, marker: str) -> str | None:
    """A PEM file's text, checked to hold `marker` (e.g. CERTIFICATE); None when not given."""
    from headwater.cli.secrets import read_file
    from headwater.manifests import GenerateError

    if not path:
        return None
    text = read_file(path, what)
    if f"-----BEGIN {marker}" not in text and not (marker == "PRIVATE KEY" and "PRIVATE KEY-----" in text):
        raise GenerateError(f"{what} {path} is not PEM-encoded (no '-----BEGIN {marker}' block)")
    return text


def tls_file_data(tls_crt_file: str | None, tls_key_file: str | None, ca_crt_file: str | None) -> dict[str, str]:
    from headwater.manifests import GenerateError, tls_secret_data

    if bool(tls_crt_file) != bool(tls_key_file):
        raise GenerateError("--tls-crt-file and --tls-key-file must be given together")
    return tls_secret_data(tls_crt=_pem(tls_crt_file, "TLS certificate file", "CERTIFICATE"),
                           tls_key=_pem(tls_key_file, "TLS key file", "PRIVATE KEY"),
                           ca_crt=_pem(ca_crt_file, "TLS CA file", "CERTIFICATE"))


def tls_options(func: click.decorators.FC) -> click.decorators.FC:
    for decorator in reversed([
        click.option("--tls-crt-file", default=None, help="Path to the PEM certificate for TLS client auth."),
        click.option("--tls-key-file", default=None, help="Path to the PEM private key for TLS client auth."),
        click.option("--ca-crt-file", default=None, help="Path to the PEM CA certificate to trust."),
    ]):
        func = decorator(func)
    return func


@click.group()
def secret() -> None:
    """Create or update Kubernetes Secrets for Flux sources."""


@secret.command("git")
@name_argument
@click.option("--url", default="", help="Git address, e.g. ssh://git@host/org/repository.")
@click.option("-u", "--username", default=None, help="Basic authentication username.")
@click.option("-p", "--password", default=None, help="Basic authentication password (or SSH key passphrase).")
@ssh_key_options
@click.option("--ca-crt-file", default=None, help="Path to the PEM CA certificate of an HTTPS server.")
@click.option("--private-key-file", default=None, help="Path to the private key used for Git over SSH.")
@click.option("--bearer-token", default=None, help="Bearer token for Git over HTTP/S.")
@create_options
def secret_git(name: str | None, url: str, username: str | None, password: str | None, ssh_key_algorithm: str,
               ssh_rsa_bits: int, ssh_ecdsa_curve: str, ca_crt_file: str | None, private_key_file: str | None,
               bearer_token: str | None, interval: str, export: bool, labels: tuple[str, ...],
               kubeconfig: str | None, context: str | None, namespace: str, timeout: str) -> None:
    """Create or update a Secret for Git authentication (SSH key pair, basic auth or bearer token)."""
    from headwater.cli.secrets import git_credentials
    from headwater.manifests import GenerateError

    name = require_name(name, "secret")
    try:
        credentials = git_credentials(url, username=username, password=password, bearer_token=bearer_token,
                                      ca_file=ca_crt_file, private_key_file=private_key_file,
                                      algorithm=ssh_key_algorithm, rsa_bits=ssh_rsa_bits, curve=ssh_ecdsa_curve,
                                      required=True)
    except GenerateError as err:
        fail(str(err))
    if credentials.deploy_key and not export:
        log("✚", f"deploy key: {credentials.deploy_key}")
    _emit(name, namespace, credentials.data, labels, export, "git ", kubeconfig, context, timeout)


@secret.command("tls")
@name_argument
@tls_options
@create_options
def secret_tls(name: str | None, tls_crt_file: str | None, tls_key_file: str | None, ca_crt_file: str | None,
               interval: str, export: bool, labels: tuple[str, ...], kubeconfig: str | None, context: str | None,
               namespace: str, timeout: str) -> None:
    """Create or update a Secret with TLS certificates (tls.crt, tls.key, ca.crt)."""
    from headwater.manifests import GenerateError

    name = require_name(name, "secret")
    try:
        data = tls_file_data(tls_crt_file, tls_key_file, ca_crt_file)
        if not data:
            raise GenerateError("no TLS material given: use --tls-crt-file with --tls-key-file, and/or --ca-crt-file")
    except GenerateError as err:
        fail(str(err))
    _emit(name, namespace, data, labels, export, "tls ", kubeconfig, context, timeout)


@secret.command("helm")
@name_argument
@click.option("-u", "--username", default=None, help="Basic authentication username.")
@click.option("-p", "--password", default=None, help="Basic authentication password.")
@tls_options
@create_options
def secret_helm(name: str | None, username: str | None, password: str | None, tls_crt_file: str | None,
                tls_key_file: str | None, ca_crt_file: str | None, interval: str, export: bool,
                labels: tuple[str, ...], kubeconfig: str | None, context: str | None, namespace: str,
                timeout: str) -> None:
    """Create or update a Secret for Helm repository authentication (basic auth and/or TLS)."""
    from headwater.manifests import GenerateError, basic_auth_data

    name = require_name(name, "secret")
    try:
        if bool(username) != bool(password):
            raise GenerateError("basic authentication needs both --username and --password")
        data = {**basic_auth_data(username, password), **tls_file_data(tls_crt_file, tls_key_file, ca_crt_file)}
        if not data:
            raise GenerateError("no credentials given: use --username with --password, and/or the TLS file flags")
    except GenerateError as err:
        fail(str(err))
    _emit(name, namespace, data, labels, export, "helm ", kubeconfig, context, timeout)
