"""The GitRepository reconciler: a Git ref in, a versioned tar.gz artifact out.

Every reconcile asks the remote for its refs (one small request) and resolves `spec.ref` against them.
When the resolved revision is the stored artifact's, and nothing else that shapes the artifact changed
(ignore rules, includes, sparse checkout, submodules, verification), and the stored file is still the
one written (`Storage.intact`: a stat, the digest only when it changed), the reconcile ends there: no
clone, no archive, no status write. Otherwise it fetches exactly that ref (shallow), checks it out,
verifies signatures when asked, copies included artifacts in, packs the tree reproducibly, stores it,
and reports the new artifact in status and in a `NewArtifact` event, as Flux's source-controller does.
A stored file modified on disk is removed and rebuilt that way from the same revision, after a Warning
event `ArtifactVerificationFailed` (Flux's reason and message), without waiting for a new commit.

The object and its includes are read through the API's typed views (`headwater.api.models.source`), so
defaults (the 60 s timeout, the HEAD verification mode) are the API's; status is written into
`ctx.status`, the dict the runtime sends.
"""

from __future__ import annotations

import asyncio
import errno
import shutil
import tempfile
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from headwater.api.duration import format_seconds
from headwater.api.models.common import Artifact as ArtifactView
from headwater.api.models.source import GitRepository, GitRepositoryInclude, GitRepositoryRef, GitRepositorySpec
from headwater.api.validation import refuse_unreadable
from headwater.artifact import revision as rev
from headwater.artifact.fetch import extract_archive
from headwater.artifact.ignore import tree_matcher
from headwater.artifact.storage import Artifact, ObjectRef, Storage, StorageError
from headwater.runtime import conditions as cond
from headwater.runtime.controller import ReconcileContext
from headwater.runtime.events import EVENT_TYPE_NORMAL
from headwater.runtime.informer import Informer
from headwater.runtime.kube import KubeClient, NotFound
from headwater.runtime.metrics import REGISTRY
from headwater.runtime.reconciler import Reconciler
from headwater.runtime.result import ReconcileError, Result, TerminalError
from headwater.source.git.auth import GitAuthError, ProxyConfig, auth_from_secret, proxy_from_secret, secret_values
from headwater.source.git.operations import CommitInfo, fetch_checkout, ls_remote, submodule_urls
from headwater.source.git.transport import GitError, InvalidURL, open_remote, redact, validate_url
from headwater.source.git.verify import VerificationError, normalise_mode, verify
from headwater.source.gitref import FetchPlan, GitRef, GitRefError, InvalidSemverRangeError, resolve_ref
from headwater.source.stored import remove_stored, stored_intact

API_VERSION = "source.toolkit.fluxcd.io/v1"
KIND = "GitRepository"
MAX_SUBMODULE_DEPTH = 5
# On the served registry, so a controller process can be measured through /metrics.
FETCHES = Counter("headwater_source_git_fetches", "Git fetches made (not ref listings)", registry=REGISTRY)


class GitRepositoryReconciler(Reconciler):
    api_version = API_VERSION
    kind = KIND

    def __init__(self, kube: KubeClient, store: Storage, informer: Informer,
                 *, no_cross_namespace_refs: bool = False) -> None:
        self.kube = kube
        self.store = store
        self.informer = informer
        self.no_cross_namespace_refs = no_cross_namespace_refs
        self.fetches = 0  # full fetches made (benchmarks and tests count them)
        self.ls_remotes = 0

    # -- the reconcile -----------------------------------------------------------------------------

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        with refuse_unreadable(ctx.obj, TerminalError):  # a spec the views cannot read: Stalled, ValidationFailed
            return await self._reconcile(ctx, GitRepository(ctx.obj))

    async def _reconcile(self, ctx: ReconcileContext, repo: GitRepository) -> Result:
        spec, namespace = repo.spec, repo.namespace
        url, timeout = spec.url, spec.timeout.seconds  # read first: an unreadable object is refused before any work
        conds, gen = ctx.conditions, ctx.generation
        try:
            validate_url(url)
        except InvalidURL as err:
            raise TerminalError(err.reason, str(err)) from err
        auth = await self._auth(namespace, spec, url)
        proxy = await self._proxy(namespace, spec)

        try:
            refs = await asyncio.wait_for(asyncio.to_thread(self._ls_remote, url, auth, proxy, timeout), timeout)
            plan = resolve_ref(refs, _git_ref(spec.ref))
        except InvalidSemverRangeError as err:
            raise TerminalError("GitOperationFailed", str(err)) from err
        except (GitError, GitRefError, TimeoutError) as err:
            raise self._fetch_failed(ctx, err, url, timeout) from err
        includes = self._includes(ctx, repo)
        shaping = _shaping_inputs(spec, includes)

        artifact = repo.status.artifact
        if artifact is not None and rev.same_revision(artifact.revision, plan.revision) \
                and _observed_shaping(ctx.status) == shaping \
                and await stored_intact(ctx, self.store, ObjectRef(KIND, namespace, repo.name),
                                        Artifact.from_dict(artifact.raw)):
            self._mark_stored(ctx, plan.revision)
            return Result()

        message = f"building artifact: new upstream revision '{plan.revision}'"
        cond.mark_true(conds, cond.ARTIFACT_OUTDATED_CONDITION, "NewRevision",
                       f"new upstream revision '{plan.revision}'", generation=gen)
        await ctx.progress(message)
        with tempfile.TemporaryDirectory(prefix="hw-gitrepo-") as tmp:
            checkout = Path(tmp, "checkout")
            try:
                commit = await asyncio.wait_for(
                    asyncio.to_thread(self._fetch, url, auth, proxy, timeout, plan, checkout, Path(tmp, "repo"),
                                      spec.sparse_checkout or None, spec.recurse_submodules),
                    timeout)
            except (GitError, TimeoutError) as err:
                raise self._fetch_failed(ctx, err, url, timeout) from err
            await self._verify(ctx, repo, commit)
            for include, source in includes:
                await asyncio.to_thread(self._copy_include, include, source, checkout)
            ref = ObjectRef(KIND, namespace, repo.name)
            previous = Artifact.from_dict(artifact.raw) if artifact is not None else None
            try:
                async with self.store.lock(ref):
                    stored = await asyncio.to_thread(self._store, ref, plan.revision, commit.sha, checkout,
                                                     spec.ignore, previous)
            except ReconcileError as err:
                cond.mark_true(conds, cond.STORAGE_OPERATION_FAILED_CONDITION, err.reason, str(err), generation=gen)
                raise
        status = ctx.status
        status["artifact"] = stored.to_dict()
        status.pop("url", None)  # GitRepository v1 has no status.url (Flux removed the latest link)
        for key in SHAPING_KEYS:
            status.pop(key, None)
        status.update(shaping)
        cond.delete(conds, cond.ARTIFACT_OUTDATED_CONDITION)
        self._mark_stored(ctx, plan.revision)
        subject = rev.commit_short_message(commit.message)
        message = (f"stored artifact for commit '{subject}'" if subject
                   else f"stored artifact for revision '{plan.revision}'")
        ctx.event(EVENT_TYPE_NORMAL, "NewArtifact", message, {"revision": plan.revision, "digest": stored.digest})
        return Result()

    async def finalize(self, ctx: ReconcileContext) -> None:
        repo = GitRepository(ctx.obj)
        await remove_stored(self.store, ObjectRef(KIND, repo.namespace, repo.name))

    def _store(self, ref: ObjectRef, revision: str, sha: str, checkout: Path, ignore: str | None,
               previous: Artifact | None) -> Artifact:
        """Archive the checkout as `<commit>.tar.gz`, then collect the object's old artifacts, except
        `previous`: the status names it until this reconcile writes the new one, and consumers reading
        that status must still be able to download it (a fault test caught 404s in that gap)."""
        try:
            artifact = self.store.new_artifact(ref, revision, f"{sha}.tar.gz")
            stored = self.store.archive(artifact, checkout, tree_matcher(checkout, ignore))
            self.store.garbage_collect(stored, keep=[previous])
        except (StorageError, OSError) as err:
            raise ReconcileError(cond.ARCHIVE_OPERATION_FAILED_REASON,
                                 f"unable to archive artifact to storage: {storage_problem(err, self.store.root)}"
                                 ) from err
        return stored

    # -- steps -------------------------------------------------------------------------------------

    def _ls_remote(self, url: str, auth: Any, proxy: ProxyConfig | None, timeout: float) -> dict[str, str]:
        self.ls_remotes += 1
        with open_remote(url, auth, proxy=proxy, timeout=timeout) as remote:
            return ls_remote(remote)

    def _fetch(self, url: str, auth: Any, proxy: ProxyConfig | None, timeout: float, plan: FetchPlan,
               checkout: Path, workdir: Path, sparse: list[str] | None, recurse: bool) -> CommitInfo:
        self.fetches += 1
        FETCHES.inc()
        want = plan.tag_object or plan.commit
        with open_remote(url, auth, proxy=proxy, timeout=timeout) as remote:
            if plan.fetch_ref is None or plan.checkout_commit:
                commit = self._fetch_commit(remote, plan, checkout, workdir, sparse)
            else:
                commit = fetch_checkout(remote, want, None, checkout, workdir, sparse=sparse)
        if recurse:
            self._fetch_submodules(url, auth, proxy, timeout, commit, checkout, workdir)
        return commit

    def _fetch_submodules(self, url: str, auth: Any, proxy: ProxyConfig | None, timeout: float,
                          commit: CommitInfo, checkout: Path, workdir: Path, depth: int = 0) -> None:
        """Check out each submodule at its pinned commit, with the parent's credentials (as Flux does)."""
        if depth > MAX_SUBMODULE_DEPTH:
            raise GitError(f"submodules nest deeper than {MAX_SUBMODULE_DEPTH} levels")
        urls = submodule_urls(checkout / ".gitmodules", url)
        for index, (path, sha) in enumerate(commit.submodules):
            sub_url = urls.get(path)
            if sub_url is None:
                raise GitError(f"submodule {path!r} has no URL in .gitmodules")
            target = checkout / path
            with open_remote(sub_url, auth, proxy=proxy, timeout=timeout) as remote:
                tip = ls_remote(remote).get("HEAD", "")
                nested = fetch_checkout(remote, tip, sha, target, workdir / f"sub-{depth}-{index}", shallow=False)
            self._fetch_submodules(sub_url, auth, proxy, timeout, nested, target, workdir, depth + 1)

    @staticmethod
    def _fetch_commit(remote: Any, plan: FetchPlan, checkout: Path, workdir: Path,
                      sparse: list[str] | None) -> CommitInfo:
        refs = ls_remote(remote)
        tip = refs.get(plan.fetch_ref) if plan.fetch_ref else None
        if tip is None:  # no branch given: the commit must be reachable from the default branch's history
            tip = refs.get("HEAD") or next((sha for name, sha in refs.items() if name.startswith("refs/heads/")), "")
        return fetch_checkout(remote, tip, plan.commit, checkout, workdir, shallow=False, sparse=sparse)

    async def _verify(self, ctx: ReconcileContext, repo: GitRepository, commit: CommitInfo) -> None:
        conds, gen = ctx.conditions, ctx.generation
        verification = repo.spec.verify
        if verification is None:
            cond.delete(conds, cond.SOURCE_VERIFIED_CONDITION)
            ctx.status.pop("sourceVerificationMode", None)
            return
        mode = normalise_mode(verification.mode)
        secret = await self._secret(repo.namespace, verification.secret_ref.name, "verification", "VerificationError")
        try:
            checked = await asyncio.to_thread(verify, commit, mode, secret_values(secret))
        except VerificationError as err:
            cond.mark_false(conds, cond.SOURCE_VERIFIED_CONDITION, "VerificationError", str(err), generation=gen)
            raise ReconcileError("VerificationError", str(err)) from err
        message = "verified signature of " + " and ".join(f"{c.what} with key '{c.fingerprint}'" for c in checked)
        cond.mark_true(conds, cond.SOURCE_VERIFIED_CONDITION, "Succeeded", message, generation=gen)
        ctx.status["sourceVerificationMode"] = mode

    def _includes(self, ctx: ReconcileContext, repo: GitRepository) -> list[tuple[GitRepositoryInclude, ArtifactView]]:
        """Each `spec.include` with the artifact of the GitRepository it names (all must have one)."""
        namespace, conds = repo.namespace, ctx.conditions
        found = []
        for include in repo.spec.include:
            name = include.repository.name
            cached = self.informer.get((namespace, name))
            artifact = None if cached is None else GitRepository(cached).status.artifact
            if artifact is None:
                message = f"could not get include '{namespace}/{name}': " + (
                    "GitRepository not found" if cached is None else "it has no artifact yet")
                cond.mark_true(conds, cond.INCLUDE_UNAVAILABLE_CONDITION, "NoSourceArtifact", message,
                               generation=ctx.generation)
                raise ReconcileError("NoSourceArtifact", message)
            found.append((include, artifact))
        cond.delete(conds, cond.INCLUDE_UNAVAILABLE_CONDITION)
        return found

    def _copy_include(self, include: GitRepositoryInclude, source: ArtifactView, checkout: Path) -> None:
        to_path = include.destination().strip("/")
        from_path = (include.from_path or "").strip("/")
        target = _inside(checkout, to_path)
        with tempfile.TemporaryDirectory(prefix="hw-include-") as tmp:
            artifact = Artifact.from_dict(source.raw)
            extracted = Path(tmp, "content")
            with self.store.local_path(artifact.path).open("rb") as archive:
                extract_archive(archive, extracted)
            origin = _inside(extracted, from_path)
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(origin, target, symlinks=False, ignore_dangling_symlinks=True)

    def _mark_stored(self, ctx: ReconcileContext, revision: str) -> None:
        conds, gen = ctx.conditions, ctx.generation
        message = f"stored artifact for revision '{revision}'"
        cond.delete(conds, cond.FETCH_FAILED_CONDITION)
        cond.delete(conds, cond.STORAGE_OPERATION_FAILED_CONDITION)
        cond.mark_true(conds, cond.ARTIFACT_IN_STORAGE_CONDITION, "Succeeded", message, generation=gen)
        cond.mark_ready(conds, message, "Succeeded", generation=gen)

    def _fetch_failed(self, ctx: ReconcileContext, err: Exception, url: str, timeout: float) -> ReconcileError:
        """Record FetchFailed and return the error to raise (Ready=False with the same reason)."""
        reason = getattr(err, "reason", "GitOperationFailed")
        message = str(err) if not isinstance(err, TimeoutError) else \
            f"Git operation on {redact(url)} timed out after {format_seconds(timeout)} (spec.timeout)"
        cond.mark_true(ctx.conditions, cond.FETCH_FAILED_CONDITION, reason, message, generation=ctx.generation)
        return ReconcileError(reason, message)

    # -- Secrets -----------------------------------------------------------------------------------

    async def _secret(self, namespace: str, name: str, purpose: str, reason: str) -> dict[str, Any]:
        try:
            return await self.kube.get("v1", "Secret", name, namespace)
        except NotFound as err:
            raise ReconcileError(reason, f"failed to get {purpose} secret '{namespace}/{name}': not found") from err

    async def _auth(self, namespace: str, spec: GitRepositorySpec, url: str) -> Any:
        secret = None
        if spec.secret_ref is not None:
            secret = await self._secret(namespace, spec.secret_ref.name, "auth", "AuthenticationFailed")
        try:
            return auth_from_secret(url, secret)
        except GitAuthError as err:
            raise TerminalError("AuthenticationFailed", str(err)) from err

    async def _proxy(self, namespace: str, spec: GitRepositorySpec) -> ProxyConfig | None:
        if spec.proxy_secret_ref is None:
            return None
        secret = await self._secret(namespace, spec.proxy_secret_ref.name, "proxy", "AuthenticationFailed")
        try:
            return proxy_from_secret(secret)
        except GitAuthError as err:
            raise TerminalError("AuthenticationFailed", str(err)) from err


def storage_problem(err: Exception, root: Path) -> str:
    """What went wrong with the storage, in words (the path is the controller's own `--storage-path`)."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left in the artifact storage {root} ({err.strerror}); the previous artifact is kept"
    if isinstance(err, OSError) and err.errno == errno.EFBIG:
        return f"file size limit reached writing to the artifact storage {root} ({err.strerror})"
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror} in the artifact storage {root}"
    return str(err)


def _shaping_inputs(spec: GitRepositorySpec, includes: list[tuple[GitRepositoryInclude, ArtifactView]]
                    ) -> dict[str, Any]:
    """Everything besides the commit that decides the artifact's content, as Flux records it in status."""
    shaping: dict[str, Any] = {}
    if spec.ignore is not None:
        shaping["observedIgnore"] = spec.ignore
    if spec.recurse_submodules:
        shaping["observedRecurseSubmodules"] = True
    if includes:
        shaping["observedInclude"] = [include.raw for include, _ in includes]
        shaping["includedArtifacts"] = [artifact.raw for _, artifact in includes]
    if spec.sparse_checkout:
        shaping["observedSparseCheckout"] = spec.sparse_checkout
    if spec.verify is not None:
        shaping["sourceVerificationMode"] = normalise_mode(spec.verify.mode)
    return shaping


SHAPING_KEYS = ("observedIgnore", "observedRecurseSubmodules", "observedInclude", "includedArtifacts",
                "observedSparseCheckout", "sourceVerificationMode")


def _observed_shaping(status: dict[str, Any]) -> dict[str, Any]:
    return {k: status[k] for k in SHAPING_KEYS if k in status and status[k] not in (None, False, [])}


def _inside(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if target != root.resolve() and root.resolve() not in target.parents:
        raise ReconcileError("InvalidPath", f"path {relative!r} points outside the artifact")
    return target


def _git_ref(ref: GitRepositoryRef | None) -> GitRef | None:
    """`spec.ref` for the resolver (unset fields empty; no ref: the default branch)."""
    if ref is None:
        return None
    return GitRef(ref.branch or "", ref.tag or "", ref.semver or "", ref.name or "", ref.commit or "")

