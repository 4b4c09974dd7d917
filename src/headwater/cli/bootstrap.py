"""`headwater bootstrap git`: make a cluster manage itself from a Git repository, as `flux bootstrap git`.

Steps (each printed with Flux's progress lines): clone the branch; write
`<path>/flux-system/gotk-components.yaml` (the install manifests) and commit + push it when it changed;
install the components; create the auth Secret (basic auth or bearer token for HTTP(S); identity and
known_hosts for SSH, the host key obtained by a key scan and shown unless --silent); write
`gotk-sync.yaml` and `kustomization.yaml` (a user's kustomization.yaml is kept, only the two resources
are ensured), commit + push when changed; apply the sync objects and wait until the GitRepository and
the Kustomization are Ready at the pushed commit. A re-run with nothing changed makes no commit.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from headwater.api.kinds import GIT_REPOSITORY, KUSTOMIZATION
from headwater.cli.common import (
    CliError,
    Options,
    cluster_options,
    condition,
    fail,
    log,
    make_options,
    run,
)
from headwater.cli.install import install_components, install_flags, make_install_options
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef
    from headwater.install.gitrepo import Workspace
    from headwater.install.options import InstallOptions
    from headwater.install.sync import SyncOptions
    from headwater.runtime.kube import KubeClient
    from headwater.source.git.auth import GitAuth

FIELD_MANAGER = "flux"


@click.group("bootstrap")
def bootstrap() -> None:
    """Deploy headwater on a cluster the GitOps way: its manifests live in Git and it syncs itself."""


@dataclass(frozen=True)
class GitArgs:
    url: str
    branch: str
    username: str
    password: str | None
    private_key: bytes | None
    bearer: bool
    author: str
    silent: bool

    @property
    def ssh(self) -> bool:
        return urlsplit(self.url).scheme == "ssh"


def validate_url(url: str, allow_insecure_http: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ssh") or not parts.hostname:
        raise CliError(f"invalid --url {url!r}: use https://, http:// or ssh://user@host[:port]/path")
    if parts.password is not None:
        raise CliError("--url must not contain a password: use --password")
    if parts.scheme == "http" and not allow_insecure_http:
        raise CliError("scheme http is insecure, pass --allow-insecure-http=true to allow it")


async def scan_host_keys(url: str, timeout: float = 10.0) -> bytes:
    """known_hosts lines for the URL's SSH server, from an `ssh-keyscan` of its host and port."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 22
    try:
        proc = await asyncio.create_subprocess_exec(
            "ssh-keyscan", "-p", str(port), "-T", str(int(timeout)), host,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    except FileNotFoundError as err:
        raise CliError("ssh-keyscan (OpenSSH) is needed to obtain the host key of an ssh:// URL") from err
    out, _ = await proc.communicate()
    lines = [line for line in out.decode().splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise CliError(f"could not obtain the SSH host key of {host}:{port}")
    return ("\n".join(lines) + "\n").encode()


def fingerprint(known_hosts_line: str) -> str:
    """`ssh-ed25519 SHA256:…` of one known_hosts line, as `ssh-keygen -l` shows it."""
    fields = known_hosts_line.split()
    digest = base64.b64encode(hashlib.sha256(base64.b64decode(fields[2])).digest()).decode().rstrip("=")
    return f"{fields[1]} SHA256:{digest}"


def public_key(identity: bytes, password: str | None) -> bytes | None:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_ssh_private_key(identity, password.encode() if password else None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def git_auth(args: GitArgs, known_hosts: bytes | None) -> GitAuth:
    from headwater.source.git.auth import GitAuth

    if args.ssh:
        return GitAuth(identity=args.private_key, known_hosts=known_hosts, password=args.password)
    if args.bearer:
        return GitAuth(bearer_token=args.password)
    if args.password is None:
        return GitAuth()
    return GitAuth(username=args.username, password=args.password)


def secret_manifest(namespace: str, name: str, args: GitArgs, known_hosts: bytes | None) -> dict[str, Any]:
    """The GitRepository's auth Secret, with Flux's key names."""
    data: dict[str, bytes] = {}
    if args.ssh:
        data["identity"] = args.private_key or b""
        pub = public_key(args.private_key or b"", args.password)
        if pub:
            data["identity.pub"] = pub + b"\n"
        data["known_hosts"] = known_hosts or b""
        if args.password:
            data["password"] = args.password.encode()
    elif args.bearer:
        data["bearerToken"] = (args.password or "").encode()
    elif args.password is not None:
        data["username"] = args.username.encode()
        data["password"] = args.password.encode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace},
            "data": {key: base64.b64encode(value).decode() for key, value in data.items()}}


class Repository:
    """The clone, kept for the whole run; every Git call runs in a worker thread."""

    def __init__(self, args: GitArgs, auth: GitAuth, workdir: Path) -> None:
        self.args, self.auth, self.workdir = args, auth, workdir
        self.workspace: Workspace | None = None

    def _with_remote(self, action: str) -> str | None:
        from headwater.install.gitrepo import clone, push
        from headwater.source.git.transport import open_remote

        with open_remote(self.args.url, self.auth) as remote:
            if action == "clone":
                self.workspace = clone(remote, self.args.branch, self.workdir / "repo.git")
            else:
                assert self.workspace is not None
                push(remote, self.workspace)
        return None

    async def call(self, action: str) -> None:
        from headwater.source.git.transport import GitError

        try:
            await asyncio.to_thread(self._with_remote, action)
        except GitError as err:
            raise CliError(str(err)) from err

    @property
    def ws(self) -> Workspace:
        assert self.workspace is not None
        return self.workspace

    async def commit_and_push(self, files: dict[str, str], message: str, what: str) -> None:
        for path, content in files.items():
            self.ws.write(path, content.encode())
        sha = self.ws.commit(message, self.args.author)
        if sha is None:
            log("✔", f"{what} are up to date")
            return
        log("✔", f"committed {what} to \"{self.args.branch}\" (\"{sha}\")")
        log("►", f"pushing {what} to \"{self.display}\"")
        await self.call("push")

    @property
    def display(self) -> str:
        from headwater.source.git.transport import redact

        return redact(self.args.url)


async def wait_ready(client: KubeClient, kind: KindDef, namespace: str, name: str, revision: str, token: str,
                     deadline: float, timeout_text: str) -> None:
    """Wait until the object handled the reconcile request `token` and is Ready at `revision`."""
    log("◎", f"waiting for {kind.kind} \"{namespace}/{name}\" to be reconciled")
    last = "not reconciled yet"
    while True:
        obj = await client.get_or_none(kind.api_version, kind.kind, name, namespace)
        status = (obj or {}).get("status") or {}
        ready = condition(obj or {}, "Ready") or {}
        at = (status.get("artifact") or {}).get("revision") if kind.artifact else status.get("lastAppliedRevision")
        handled = status.get("lastHandledReconcileAt") == token
        if handled and ready.get("status") == "True" and at == revision:
            log("✔", f"{kind.kind} reconciled successfully")
            return
        if ready.get("message"):
            last = str(ready["message"])
        if time.monotonic() >= deadline:
            raise CliError(f"timed out after {timeout_text} waiting for {kind.kind} \"{namespace}/{name}\" "
                           f"to be Ready at {revision}: {last}")
        await asyncio.sleep(0.5)


async def run_bootstrap(client: KubeClient, opts: Options, install: InstallOptions, sync: SyncOptions,
                        args: GitArgs, wait_controllers: bool) -> None:
    from headwater.cli.reconcile import request_reconcile
    from headwater.install.cluster import FIELD_MANAGER as INSTALL_MANAGER
    from headwater.install.manifests import render
    from headwater.install.sync import (
        COMPONENTS_FILE,
        KUSTOMIZATION_FILE,
        SYNC_FILE,
        SyncError,
        kustomization_yaml,
        sync_objects,
        sync_yaml,
    )

    deadline = time.monotonic() + opts.timeout
    timeout_text = f"{opts.timeout:g}s"
    await client.version()  # an unreachable cluster fails here, before anything is pushed
    known_hosts = None
    if args.ssh:
        known_hosts = await scan_host_keys(args.url)
        if not args.silent:
            for line in known_hosts.decode().splitlines():
                log("✔", f"host key {fingerprint(line)}")
    auth = git_auth(args, known_hosts)
    with tempfile.TemporaryDirectory(prefix="hw-bootstrap-") as tmp:
        repo = Repository(args, auth, Path(tmp))
        log("►", f"cloning branch \"{args.branch}\" from Git repository \"{repo.display}\"")
        await repo.call("clone")
        log("✔", "cloned repository")

        log("►", "generating component manifests")
        directory = sync.directory
        components = render(install)
        log("✔", "generated component manifests")
        await repo.commit_and_push({f"{directory}/{COMPONENTS_FILE}": components},
                                   f"Add headwater {install.version_label} component manifests",
                                   "component manifests")

        await install_components(client, install, opts, deadline, wait=False)
        log("✔", "installed components")
        log("✔", "reconciled components")

        secret_ref = f"{sync.namespace}/{sync.secret_name}"
        log("►", f"applying source secret \"{secret_ref}\"")
        secret = secret_manifest(sync.namespace, sync.secret_name, args, known_hosts)
        await client.apply(secret, field_manager=INSTALL_MANAGER, force=True)
        log("✔", "reconciled source secret")

        log("►", "generating sync manifests")
        try:
            existing = repo.ws.read(f"{directory}/{KUSTOMIZATION_FILE}")
            kustomization = kustomization_yaml(existing.decode() if existing is not None else None)
            files = {f"{directory}/{SYNC_FILE}": sync_yaml(sync), f"{directory}/{KUSTOMIZATION_FILE}": kustomization}
            objects = sync_objects(sync)
        except SyncError as err:
            raise CliError(f"{directory}: {err}") from err
        log("✔", "generated sync manifests")
        await repo.commit_and_push(files, "Add headwater sync manifests", "sync manifests")
        head = repo.ws.head

    log("►", "applying sync manifests")
    for obj in objects:
        await client.apply(obj, field_manager=INSTALL_MANAGER, force=True)
    tokens = [await request_reconcile(client, kind, sync.name, sync.namespace)
              for kind in (GIT_REPOSITORY, KUSTOMIZATION)]
    log("✔", "reconciled sync configuration")
    revision = f"{args.branch}@sha1:{head}"
    for kind, token in zip((GIT_REPOSITORY, KUSTOMIZATION), tokens, strict=True):
        await wait_ready(client, kind, sync.namespace, sync.name, revision, token, deadline, timeout_text)
    if wait_controllers:
        from headwater.install.cluster import wait_deployments
        from headwater.install.options import InstallError

        log("►", "confirming components are healthy")
        try:
            await wait_deployments(client, install.namespace, [c.name for c in install.selected()],
                                   timeout=max(0.0, deadline - time.monotonic()), report=log)
        except InstallError as err:
            raise CliError(str(err)) from err
        log("✔", "all components are healthy")


@bootstrap.command("git")
@click.option("--url", required=True, help="The Git repository URL (https://, http:// or ssh://).")
@click.option("--branch", default="main", show_default=True, help="The Git branch.")
@click.option("--path", "path_", default="", help="The path in the repository of the cluster's manifests.")
@click.option("-u", "--username", default="git", show_default=True, help="The basic auth username.")
@click.option("-p", "--password", default=None,
              help="The basic auth password (or bearer token, or the passphrase of --private-key-file).")
@bool_flag("--with-bearer-token", help="Use --password as a bearer token (HTTPS).")
@click.option("--private-key-file", type=click.Path(dir_okay=False), default=None,
              help="The SSH private key for ssh:// URLs (also stored in the auth Secret).")
@click.option("--interval", default="1m", show_default=True, help="The GitRepository's sync interval.")
@click.option("--author-name", default="Flux", show_default=True, help="The author name of the commits.")
@click.option("--author-email", default="", help="The author email of the commits.")
@bool_flag("-s", "--silent", help="Do not print the SSH host key or ask for confirmation.")
@bool_flag("--allow-insecure-http", help="Allow a plain http:// URL (credentials sent unencrypted).")
@click.option("--secret-name", default="flux-system", show_default=True, help="The name of the auth Secret.")
@install_flags
@cluster_options()
def bootstrap_git(url: str, branch: str, path_: str, username: str, password: str | None,
                  with_bearer_token: bool, private_key_file: str | None, interval: str, author_name: str,
                  author_email: str, silent: bool, allow_insecure_http: bool, secret_name: str,
                  kubeconfig: str | None, context: str | None, namespace: str, timeout: str,
                  **params: Any) -> None:
    """Bootstrap from any Git server: commit the manifests, install, and sync the cluster from the repo."""
    from headwater.install.sync import SyncError, SyncOptions, go_duration

    opts = make_options(kubeconfig, context, namespace, timeout)
    install = make_install_options(namespace, params)

    try:
        args = git_args(url, branch, username, password, with_bearer_token, private_key_file,
                        f"{author_name} <{author_email}>", silent, allow_insecure_http)
        go_duration(interval)
    except (CliError, SyncError) as err:
        fail(str(err))
    sync = SyncOptions(url=url, branch=branch, path=path_, interval=interval, namespace=namespace,
                       secret_name=secret_name)

    async def body(client: KubeClient) -> None:
        await run_bootstrap(client, opts, install, sync, args, params["wait_controllers"])

    run(opts, body)


def git_args(url: str, branch: str, username: str, password: str | None, bearer: bool, private_key_file: str | None,
             author: str, silent: bool, allow_insecure_http: bool) -> GitArgs:
    """The validated Git flags; CliError naming the flag at fault."""
    validate_url(url, allow_insecure_http)
    parts = urlsplit(url)
    private_key = None
    if parts.scheme == "ssh":
        if not private_key_file:
            raise CliError("an ssh:// URL needs --private-key-file (deploy key generation is not supported)")
        try:
            private_key = Path(private_key_file).read_bytes()
        except OSError as err:
            raise CliError(f"--private-key-file {private_key_file}: {err.strerror}") from err
    elif parts.username:
        username = parts.username
    return GitArgs(url=url, branch=branch, username=username, password=password, private_key=private_key,
                   bearer=bearer, author=author, silent=silent)
