"""Bare Git repositories with known content, built with the real `git` CLI, for tests and the demo.

Why the CLI and not dulwich: the source controller under test is written with dulwich, so the fixtures
it reads must come from a different, reference implementation. Every `git` runs with a fixed identity,
`GIT_CONFIG_NOSYSTEM=1` and `HOME`/`GIT_CONFIG_GLOBAL` in a private temp dir and otherwise a clean
environment: nothing of the user's configuration (signing, hooks, default branch, credential helpers)
leaks in, and commits differ only by what the test asked for (and their timestamp, unless `date=`).

    with RepoBuilder() as repos:                      # bare repos under repos.root (a temp dir)
        repo = repos.create("app.git", {"deploy/cm.yaml": "...", "run.sh": Executable("#!/bin/sh\\n"),
                                         "current": Symlink("deploy")})
        sha = repo.commit({"deploy/cm.yaml": "changed", "run.sh": None})  # None deletes; returns the SHA
        repo.tag("v1.0.0"); repo.tag("v1.1.0", message="release")        # lightweight, annotated
        repo.pull_request(1, {"feature.txt": "x"})                        # refs/pull/1/head
        repo.commit({"a": "b"}, signer=repos.ssh_signer())                # signed; also repos.gpg_signer()

Each repository has a private work clone (in the builder's scratch dir) that commits are made in and
pushed from; pushes made by others (a test pushing over HTTP) are fetched before the next commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from headwater.devcluster.gitserver_keys import SshKey, generate_ssh_key

AUTHOR_NAME = "Headwater Test"
AUTHOR_EMAIL = "test@headwater.invalid"

_GLOBAL_CONFIG = """\
[init]
\tdefaultBranch = main
[protocol "file"]
\tallow = always
[advice]
\tdetachedHead = false
[core]
\tautocrlf = false
[gc]
\tauto = 0
[commit]
\tgpgSign = false
[tag]
\tgpgSign = false
"""


@dataclass(frozen=True)
class Executable:
    """File content committed with mode 100755."""

    content: str | bytes


@dataclass(frozen=True)
class Symlink:
    """A symbolic link (mode 120000) pointing at `target`."""

    target: str


FileContent = str | bytes | Executable | Symlink | None
"""str (UTF-8 text) or bytes: a regular file; None: delete the path."""


class GitError(RuntimeError):
    """A `git` command failed; the message has its arguments and standard error."""


@dataclass(frozen=True)
class Tag:
    name: str
    commit: str  # the commit the tag points to (peeled)
    sha: str  # what refs/tags/<name> holds: the tag object for an annotated tag, else the commit
    annotated: bool


class Signer(Protocol):
    """Git configuration and environment that make `git commit -S` / `git tag -s` sign."""

    def config(self) -> dict[str, str]: ...

    def env(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class SshSigner:
    """Signs with an SSH key (`gpg.format=ssh`). `allowed_signers` trusts it for verification."""

    key: SshKey
    allowed_signers: Path
    principal: str = AUTHOR_EMAIL

    def config(self) -> dict[str, str]:
        return {"gpg.format": "ssh", "user.signingKey": str(self.key.private_key)}

    def env(self) -> dict[str, str]:
        return {}

    def verify_config(self) -> dict[str, str]:
        """`git -c` settings with which `git verify-commit`/`verify-tag` accepts this key."""
        return {"gpg.format": "ssh", "gpg.ssh.allowedSignersFile": str(self.allowed_signers)}


@dataclass(frozen=True)
class GpgSigner:
    """Signs with an OpenPGP key in a private keyring (`GNUPGHOME`); no passphrase."""

    gnupghome: Path
    fingerprint: str
    public_key: str  # ASCII-armored, e.g. for a verification Secret

    def config(self) -> dict[str, str]:
        return {"gpg.format": "openpgp", "gpg.program": "gpg", "user.signingKey": self.fingerprint}

    def env(self) -> dict[str, str]:
        return {"GNUPGHOME": str(self.gnupghome)}


@dataclass
class GitCli:
    """Runs `git` in a clean, reproducible environment rooted at `home`."""

    home: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / ".gitconfig"
        if not config.exists():
            config.write_text(_GLOBAL_CONFIG)

    def environment(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(self.home / ".gitconfig"),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": AUTHOR_NAME,
            "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
            "GIT_COMMITTER_NAME": AUTHOR_NAME,
            "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
            "LC_ALL": "C",
            "TZ": "UTC",
            **self.extra_env,
            **(env or {}),
        }

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["git", *args], cwd=cwd, env=self.environment(env), capture_output=True,
                                text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        if check and result.returncode != 0:
            raise GitError(f"git {' '.join(args)} failed ({result.returncode}):\n{result.stderr.strip()}")
        return result

    def out(self, *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
        """Standard output of a successful command, stripped."""
        return self.run(*args, cwd=cwd, env=env).stdout.strip()


def config_args(config: Mapping[str, str]) -> list[str]:
    """`{"k": "v"}` as `["-c", "k=v"]`, to put right after `git`."""
    return [arg for key, value in config.items() for arg in ("-c", f"{key}={value}")]


class RepoBuilder:
    """Creates bare repositories under `root` (default: a new temp dir, removed by `close`)."""

    def __init__(self, root: Path | None = None) -> None:
        self._scratch = Path(tempfile.mkdtemp(prefix="headwater-repos-"))
        self._owns_root = root is None
        self.root = Path(root) if root is not None else self._scratch / "repos"
        self.root.mkdir(parents=True, exist_ok=True)
        self.git = GitCli(self._scratch / "home")
        self._gpg_signers: list[GpgSigner] = []

    def create(
        self,
        name: str,
        files: Mapping[str, FileContent] | None = None,
        *,
        branch: str = "main",
        message: str = "initial commit",
        signer: Signer | None = None,
    ) -> Repo:
        """A bare repository `root/name` whose HEAD is `branch`; with a first commit of `files` unless None."""
        path = self.root / name
        if path.exists():
            raise FileExistsError(f"repository {path} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.git.run("init", "-q", "--bare", f"--initial-branch={branch}", str(path))
        repo = Repo(self, name)
        if files is not None:
            repo.commit(files, message, branch=branch, signer=signer)
        return repo

    def open(self, name: str) -> Repo:
        """A handle on an existing repository under root."""
        if not (self.root / name).is_dir():
            raise FileNotFoundError(self.root / name)
        return Repo(self, name)

    @property
    def work_root(self) -> Path:
        """Where the repositories' work clones live."""
        return self._scratch / "work"

    def scratch(self, name: str) -> Path:
        """A fresh empty directory inside the builder's temp dir (e.g. a test's clone target)."""
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self._scratch))
        return path

    def ssh_signer(self, name: str = "signer") -> SshSigner:
        """A new ed25519 signing key, with an allowed-signers file trusting it for the test identity."""
        key = generate_ssh_key(self._scratch / "signing", name, "ed25519", comment=AUTHOR_EMAIL)
        allowed = self._scratch / "signing" / f"{name}.allowed_signers"
        allowed.write_text(key.allowed_signers_line(AUTHOR_EMAIL) + "\n")
        return SshSigner(key, allowed)

    def gpg_signer(self, algorithm: str = "ed25519") -> GpgSigner:
        """A new OpenPGP key without passphrase for the test identity, in its own GNUPGHOME."""
        if shutil.which("gpg") is None:
            raise RuntimeError("gpg is not installed: OpenPGP signing is unavailable")
        home = Path(tempfile.mkdtemp(prefix="gpg-", dir=self._scratch))
        home.chmod(0o700)
        env = {**self.git.environment(), "GNUPGHOME": str(home)}
        uid = f"{AUTHOR_NAME} <{AUTHOR_EMAIL}>"
        _gpg(env, "--passphrase", "", "--pinentry-mode", "loopback", "--quick-gen-key", uid, algorithm, "sign", "never")
        listing = _gpg(env, "--with-colons", "--list-secret-keys")
        fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
        public = _gpg(env, "--armor", "--export", fingerprint)
        signer = GpgSigner(home, fingerprint, public)
        self._gpg_signers.append(signer)
        return signer

    def close(self) -> None:
        for signer in self._gpg_signers:
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, **signer.env()},
                           capture_output=True, check=False, timeout=30)
        self._gpg_signers.clear()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _gpg(env: Mapping[str, str], *args: str) -> str:
    result = subprocess.run(["gpg", "--batch", "--no-tty", *args], env=dict(env), capture_output=True, text=True,
                            timeout=60, check=False, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"gpg {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


class Repo:
    """One bare repository of a RepoBuilder; every method changes it through the real `git`."""

    def __init__(self, builder: RepoBuilder, name: str) -> None:
        self.builder = builder
        self.name = name
        self.path = builder.root / name
        self._work = builder.work_root / name

    @property
    def git(self) -> GitCli:
        return self.builder.git

    def _bare(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return self.git.out("--git-dir", str(self.path), *args, env=env)

    # --- reading -----------------------------------------------------------------------------------

    @property
    def default_branch(self) -> str:
        return self._bare("symbolic-ref", "--short", "HEAD")

    def resolve(self, ref: str = "HEAD") -> str | None:
        """The commit a ref or revision points to, or None if it does not exist."""
        result = self.git.run("--git-dir", str(self.path), "rev-parse", "--verify", "-q", f"{ref}^{{commit}}",
                              check=False)
        return result.stdout.strip() or None

    def head(self, ref: str = "HEAD") -> str:
        sha = self.resolve(ref)
        if sha is None:
            raise GitError(f"{ref} does not exist in {self.name}")
        return sha

    def refs(self) -> dict[str, str]:
        """Every ref (not HEAD) → the SHA it holds (the tag object for annotated tags)."""
        out = self.git.run("--git-dir", str(self.path), "show-ref", check=False).stdout
        return {ref: sha for sha, ref in (line.split(" ", 1) for line in out.splitlines())}

    # --- writing -----------------------------------------------------------------------------------

    def commit(
        self,
        files: Mapping[str, FileContent],
        message: str = "update",
        *,
        branch: str | None = None,
        ref: str | None = None,
        base: str | None = None,
        replace: bool = False,
        orphan: bool = False,
        signer: Signer | None = None,
        date: str | None = None,
    ) -> str:
        """Commit `files` and push; returns the new commit's SHA.

        The commit goes to `branch` (default: the default branch), or to the full `ref` if given
        (e.g. `refs/pull/1/head`). Its parent is `base` (a revision of this repository) if given, else
        the current tip of the target, else of the default branch; an empty repository gets a root
        commit, and so does `orphan=True`. `replace=True` deletes every file not in `files`.
        `date` (e.g. "2024-01-01T00:00:00Z") fixes author and committer dates: a reproducible SHA.
        """
        target = ref or f"refs/heads/{branch or self.default_branch}"
        parent = base or next((r for r in (target, f"refs/heads/{self.default_branch}") if self.resolve(r)), None)
        work = self._checkout(None if orphan else parent)
        if replace:
            self.git.run("rm", "-rqf", "--ignore-unmatch", ".", cwd=work)
        for name, content in files.items():
            _write(work, name, content)
        self.git.run("add", "-A", cwd=work)
        sha = self._commit(work, message, signer, date)
        self.git.run("push", "-q", "origin", f"+HEAD:{target}", cwd=work)
        return sha

    def pull_request(self, number: int, files: Mapping[str, FileContent], message: str = "change") -> str:
        """A commit on top of the default branch, reachable only from `refs/pull/<number>/head`."""
        return self.commit(files, message, ref=f"refs/pull/{number}/head", base=f"refs/heads/{self.default_branch}")

    def branch(self, name: str, start: str = "HEAD") -> str:
        """Create or move `refs/heads/name` to `start`; returns its commit."""
        sha = self.head(start)
        self._bare("update-ref", f"refs/heads/{name}", sha)
        return sha

    def delete_ref(self, ref: str) -> None:
        self._bare("update-ref", "-d", ref)

    def set_default_branch(self, name: str) -> None:
        """Point HEAD at `refs/heads/name` (which need not exist yet), as hosting services do."""
        self._bare("symbolic-ref", "HEAD", f"refs/heads/{name}")

    def tag(self, name: str, ref: str = "HEAD", *, message: str | None = None, signer: Signer | None = None,
            force: bool = False) -> Tag:
        """A lightweight tag, or an annotated one if `message` (or a signer) is given."""
        args = ["tag", *(["-f"] if force else [])]
        if signer is not None:
            args += ["-s", "-m", message or name]
        elif message is not None:
            args += ["-a", "-m", message]
        config = config_args(signer.config()) if signer else []
        self._bare(*config, *args, name, self.head(ref), env=signer.env() if signer else None)
        sha = self._bare("rev-parse", f"refs/tags/{name}")
        commit = self.head(f"refs/tags/{name}")
        return Tag(name, commit, sha, annotated=sha != commit)

    def add_submodule(
        self,
        path: str,
        source: Repo | str,
        *,
        url: str | None = None,
        branch: str | None = None,
        message: str | None = None,
    ) -> str:
        """Add `source` (a Repo or a URL/path git can clone now) as a submodule at `path`, and push.

        `.gitmodules` records `url` if given (e.g. the HTTP or SSH URL a client will use later), else
        where it was cloned from. Returns the new commit's SHA.
        """
        clone_from = str(source.path) if isinstance(source, Repo) else source
        target = f"refs/heads/{branch or self.default_branch}"
        work = self._checkout(target if self.resolve(target) else None)
        self.git.run("submodule", "add", "-q", "--force", clone_from, path, cwd=work)
        if url is not None:
            self.git.run("config", "-f", ".gitmodules", f"submodule.{path}.url", url, cwd=work)
            self.git.run("add", ".gitmodules", cwd=work)
        sha = self._commit(work, message or f"add submodule {path}", None, None)
        self.git.run("push", "-q", "origin", f"HEAD:{target}", cwd=work)
        return sha

    # --- the work clone ----------------------------------------------------------------------------

    def _checkout(self, parent: str | None) -> Path:
        """The work clone, clean, at `parent` of the bare repository (or an empty orphan if None)."""
        work = self._work
        if not (work / ".git").exists():
            work.parent.mkdir(parents=True, exist_ok=True)
            self.git.run("init", "-q", str(work))
            self.git.run("remote", "add", "origin", str(self.path), cwd=work)
        if parent is None:
            # An unborn branch with an empty index: the next commit is a root commit.
            self.git.run("symbolic-ref", "HEAD", "refs/heads/headwater-orphan", cwd=work)
            self.git.run("update-ref", "-d", "refs/heads/headwater-orphan", cwd=work, check=False)
            self.git.run("read-tree", "--empty", cwd=work)
        else:
            self.git.run("fetch", "-q", "--no-tags", "origin", f"+{self._full(parent)}:refs/headwater/base",
                         cwd=work)
            self.git.run("checkout", "-q", "-f", "--detach", "refs/headwater/base", cwd=work)
        self.git.run("clean", "-qffdx", cwd=work)
        return work

    def _full(self, revision: str) -> str:
        """A fetchable name: refs stay refs, anything else (a SHA, HEAD~1) is resolved to a SHA."""
        if revision.startswith("refs/"):
            return revision
        return self.head(revision)

    def _commit(self, work: Path, message: str, signer: Signer | None, date: str | None) -> str:
        env: dict[str, str] = dict(signer.env()) if signer else {}
        if date is not None:
            env |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        config = config_args(signer.config()) if signer else []
        sign = ["-S"] if signer else []
        self.git.run(*config, "commit", "-q", "--allow-empty", *sign, "-m", message, cwd=work, env=env)
        return self.git.out("rev-parse", "HEAD", cwd=work)


def _write(work: Path, name: str, content: FileContent) -> None:
    path = work / name
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir() and content is not None:
        shutil.rmtree(path)
    if content is None:
        if path.is_dir():
            shutil.rmtree(path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Symlink):
        path.symlink_to(content.target)
        return
    data = content.content if isinstance(content, Executable) else content
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(0o755 if isinstance(content, Executable) else 0o644)
