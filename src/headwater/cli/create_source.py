"""`headwater create source git NAME`: flux's GitRepository generator, upsert and wait.

`--export` prints the GitRepository only (flux never exports the credentials it would generate).
Otherwise, without `--secret-ref`, credentials given on the command line (or, for ssh:// URLs, a
deploy key generated or loaded from `--private-key-file` plus the server's host keys) go into a Secret
named like the source, applied first; then the GitRepository is applied and we wait for its artifact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from headwater.api.kinds import GIT_REPOSITORY
from headwater.cli.common import fail, log, run
from headwater.cli.create_common import confirm, create_options, export_or_connect, name_argument, require_name
from headwater.cli.secrets import DEFAULT_ECDSA_CURVE, DEFAULT_KEY_ALGORITHM, DEFAULT_RSA_BITS
from headwater.pflag import bool_flag, string_slice

if TYPE_CHECKING:
    from headwater.cli.secrets import GitCredentials
    from headwater.runtime.kube import KubeClient


def ssh_key_options(func: Any) -> Any:
    """`--ssh-key-algorithm`, `--ssh-rsa-bits`, `--ssh-ecdsa-curve` with flux's defaults."""
    for decorator in reversed([
        click.option("--ssh-key-algorithm", default=DEFAULT_KEY_ALGORITHM, show_default=True,
                     help="SSH public key algorithm (rsa, ecdsa, ed25519)."),
        click.option("--ssh-rsa-bits", default=DEFAULT_RSA_BITS, show_default=True, type=int,
                     help="SSH RSA public key bit size (multiple of 8, min 1024)."),
        click.option("--ssh-ecdsa-curve", default=DEFAULT_ECDSA_CURVE, show_default=True,
                     help="SSH ECDSA public key curve (p256, p384, p521)."),
    ]):
        func = decorator(func)
    return func


@click.command("git")
@name_argument
@click.option("--url", default="", help="Git address, e.g. ssh://git@host/org/repository.")
@click.option("--branch", default=None, help="Git branch.")
@click.option("--tag", default=None, help="Git tag.")
@click.option("--tag-semver", default=None, help="Git tag semver range.")
@click.option("--ref-name", default=None, help="Git reference name (refs/heads/…, refs/tags/…, refs/pull/…).")
@click.option("--commit", default=None, help="Git commit SHA (may be combined with --branch).")
@click.option("-u", "--username", default=None, help="Basic authentication username.")
@click.option("-p", "--password", default=None, help="Basic authentication password (or SSH key passphrase).")
@ssh_key_options
@click.option("--secret-ref", default=None, help="Name of an existing Secret with SSH or basic credentials.")
@click.option("--proxy-secret-ref", default=None, help="Name of an existing Secret with proxy settings.")
@click.option("--provider", default=None, help="Git provider for authentication (generic, aws, azure, github).")
@click.option("--ca-file", default=None, help="Path to a TLS CA file for self-signed HTTPS servers.")
@click.option("--private-key-file", default=None, help="Path to the private key used for Git over SSH.")
@bool_flag("--recurse-submodules", help="Initialise and include Git submodules.")
@bool_flag("-s", "--silent", help="Assume the deploy key is already set up: no confirmation.")
@string_slice("--ignore-paths", help="Paths to ignore (gitignore syntax; repeatable, comma-separated).")
@string_slice("--sparse-checkout-paths", help="Directories to check out sparsely (repeatable, comma-separated).")
@click.option("--fetch-timeout", default=None, metavar="DURATION", help="Timeout of Git operations.")
@create_options
def source_git(name: str | None, url: str, branch: str | None, tag: str | None, tag_semver: str | None,
               ref_name: str | None, commit: str | None, username: str | None, password: str | None,
               ssh_key_algorithm: str, ssh_rsa_bits: int, ssh_ecdsa_curve: str, secret_ref: str | None,
               proxy_secret_ref: str | None, provider: str | None, ca_file: str | None,
               private_key_file: str | None, recurse_submodules: bool, silent: bool, ignore_paths: tuple[str, ...],
               sparse_checkout_paths: tuple[str, ...], fetch_timeout: str | None, interval: str, export: bool,
               labels: tuple[str, ...], kubeconfig: str | None, context: str | None, namespace: str,
               timeout: str) -> None:
    """Create or update a GitRepository source and wait for its first artifact."""
    from headwater.cli.secrets import check_key_options
    from headwater.manifests import GenerateError, git_repository, parse_labels

    name = require_name(name, "GitRepository source")
    try:
        label_map = parse_labels(labels)
        obj = git_repository(
            name, namespace, url=url, branch=branch, tag=tag, semver=tag_semver, ref_name=ref_name, commit=commit,
            interval=interval, secret_ref=secret_ref, proxy_secret_ref=proxy_secret_ref, provider=provider,
            ignore=list(ignore_paths) or None, recurse_submodules=recurse_submodules,
            sparse_checkout=list(sparse_checkout_paths) or None, labels=label_map, timeout=fetch_timeout)
        check_key_options(ssh_key_algorithm, ssh_rsa_bits, ssh_ecdsa_curve)
        if ca_file and url.startswith("ssh://"):
            raise GenerateError("specifying a CA file is not supported for Git over SSH")
    except GenerateError as err:
        fail(str(err))
    opts = export_or_connect(obj, export, kubeconfig, context, namespace, timeout)
    if opts is None:
        return
    log("✚", "generating GitRepository source")
    credentials = None
    if not secret_ref:
        credentials = _credentials(url, username, password, ca_file, private_key_file, ssh_key_algorithm,
                                   ssh_rsa_bits, ssh_ecdsa_curve, silent)

    async def body(client: KubeClient) -> None:
        from headwater.cli.upsert import Deadline, upsert, wait_ready
        from headwater.manifests import secret

        deadline = Deadline(opts.timeout)
        if credentials is not None and credentials.data:
            log("►", "applying secret with repository credentials")
            await upsert(client, secret(name, namespace, credentials.data, labels=label_map))
            obj["spec"]["secretRef"] = {"name": name}
            log("✔", "authentication configured")
        log("►", "applying GitRepository source")
        _, created = await upsert(client, obj)
        log("✔", f"GitRepository source {'created' if created else 'updated'}")
        log("◎", "waiting for GitRepository source reconciliation")
        ready = await wait_ready(client, GIT_REPOSITORY, name, namespace, deadline)
        log("✔", "GitRepository source reconciliation completed")
        revision = ((ready.get("status") or {}).get("artifact") or {}).get("revision")
        if not revision:
            fail("GitRepository source reconciliation completed but no artifact was found")
        log("✔", f"fetched revision: {revision}")

    run(opts, body)


def _credentials(url: str, username: str | None, password: str | None, ca_file: str | None,
                 private_key_file: str | None, algorithm: str, rsa_bits: int, curve: str,
                 silent: bool) -> GitCredentials:
    """The auth Secret's data (SSH: key pair + host keys, confirmed unless --silent); `✗` on bad input."""
    from headwater.cli.secrets import git_credentials
    from headwater.manifests import GenerateError

    if url.startswith("http://") and (username or password):
        log("⚠️", "insecure configuration: credentials configured for an HTTP URL")
    try:
        credentials = git_credentials(url, username=username, password=password, ca_file=ca_file,
                                      private_key_file=private_key_file, algorithm=algorithm, rsa_bits=rsa_bits,
                                      curve=curve)
    except GenerateError as err:
        fail(str(err))
    if credentials.known_hosts:
        log("✔", f"collected public key from SSH server:\n{credentials.known_hosts}")
    if credentials.deploy_key:
        log("✚", f"deploy key: {credentials.deploy_key}")
        if not silent and not confirm("Have you added the deploy key to your repository"):
            fail("aborting")
    return credentials
