"""The HelmRepository reconciler: an index.yaml in, a checked, sorted index artifact out (type `default`).

Each reconcile downloads `<spec.url>/index.yaml` (bounded by `--helm-index-max-size`, with the repository's
credentials, within `spec.timeout`). The revision is Flux's: `sha256:<hex>` of the bytes as fetched, so an
unchanged index costs one download and a comparison, and neither a parse nor a write. A new index is
parsed within bounds (`index.parse_index`: JSON or YAML, alias bombs and oversized or malformed input
refused with the file and field named), its invalid entries dropped and versions sorted, and stored as
Flux stores it: indented JSON in `index-<hex>.yaml`, with the `index.yaml` symlink as `status.url`.

Conditions and messages are Flux's: `FetchFailed` (reasons `Failed`, `AuthenticationFailed`,
`IndexationFailed`), `ArtifactOutdated` (`NewRevision`), `ArtifactInStorage` and Ready
(`stored artifact: revision '<rev>'`), `URLInvalid` Stalled for a URL no retry can fix, and the
`NewArtifact` event `stored fetched index of size <n> from '<url>'`.

A HelmRepository of `type: oci` is static in Flux v1 (a URL and credentials its HelmCharts read): no
finalizer, no status, nothing fetched. `is_static` tells the controller kit so.
"""

from __future__ import annotations

import asyncio
import hashlib
from urllib.parse import urlsplit

from headwater.api.models.source import HelmRepository
from headwater.api.validation import refuse_unreadable
from headwater.artifact.fetch import redact_url
from headwater.artifact.storage import Artifact, ObjectRef, Storage
from headwater.runtime import conditions as cond
from headwater.runtime.context import ReconcileContext
from headwater.runtime.events import EVENT_TYPE_NORMAL
from headwater.runtime.kube import KubeClient
from headwater.runtime.reconciler import Reconciler
from headwater.runtime.result import ReconcileError, Result, TerminalError
from headwater.source.helm.auth import repository_credentials
from headwater.source.helm.getter import FetchError, download
from headwater.source.helm.index import InvalidIndex, parse_index, to_json
from headwater.source.helm.limits import DEFAULT_LIMITS, HelmLimits
from headwater.source.stored import remove_stored, store_file, stored_intact

API_VERSION = "source.toolkit.fluxcd.io/v1"
KIND = "HelmRepository"
INDEX_LINK = "index.yaml"
INDEXATION_FAILED_REASON = "IndexationFailed"


def normalize_url(url: str) -> str:
    """Flux's `NormalizeURL` for an HTTP/S repository: the path ends with one slash, no query kept."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"scheme {parts.scheme!r} not supported" if parts.scheme not in ("http", "https")
                         else "the URL has no host")
    return parts._replace(path=parts.path.rstrip("/") + "/", fragment="").geturl()


def human_size(size: int) -> str:
    """go-units `HumanSize`: decimal units, four significant digits (`30.88kB`, `1.2MB`)."""
    value, units = float(size), ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    index = 0
    while value >= 1000 and index < len(units) - 1:
        value /= 1000
        index += 1
    return f"{value:.4g}{units[index]}"


class HelmRepositoryReconciler(Reconciler):
    api_version = API_VERSION
    kind = KIND

    def __init__(self, kube: KubeClient, store: Storage, limits: HelmLimits = DEFAULT_LIMITS) -> None:
        self.kube = kube
        self.store = store
        self.limits = limits
        self.downloads = 0  # index downloads (tests and benchmarks count them)

    def is_static(self, obj: dict[str, object]) -> bool:
        spec = obj.get("spec")
        return isinstance(spec, dict) and spec.get("type") == "oci"

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        with refuse_unreadable(ctx.obj, TerminalError):
            return await self._reconcile(ctx, HelmRepository(ctx.obj))

    async def finalize(self, ctx: ReconcileContext) -> None:
        repo = HelmRepository(ctx.obj)
        await remove_stored(self.store, ObjectRef(KIND, repo.namespace, repo.name))

    async def _reconcile(self, ctx: ReconcileContext, repo: HelmRepository) -> Result:
        spec, namespace, name = repo.spec, repo.namespace, repo.name
        url, timeout = spec.url, spec.timeout.seconds
        if url.startswith("oci://"):
            raise self._failed(ctx, cond.URL_INVALID_REASON, "invalid Helm repository URL: 'oci' URL scheme cannot "
                               "be used with 'default' HelmRepository type", terminal=True)
        try:
            base = normalize_url(url)
        except ValueError as err:
            raise self._failed(ctx, cond.URL_INVALID_REASON, f"invalid Helm repository URL: {err}",
                               terminal=True) from err
        try:
            credentials = await repository_credentials(self.kube, repo)
        except ReconcileError as err:
            raise self._failed(ctx, err.reason, err.message) from err
        index_url = base + "index.yaml"
        label = f"{KIND} {namespace}/{name}"
        try:
            self.downloads += 1
            data = await download(index_url, credentials, repository_url=base, timeout=timeout,
                                  max_size=self.limits.max_index_size, what=f"the index of {label}")
        except FetchError as err:
            raise self._failed(ctx, cond.FAILED_REASON, f"failed to fetch Helm repository index: {err}") from err
        revision = "sha256:" + hashlib.sha256(data).hexdigest()
        ref = ObjectRef(KIND, namespace, name)
        current = repo.status.artifact
        if current is not None and current.revision == revision \
                and await stored_intact(ctx, self.store, ref, Artifact.from_dict(current.raw)):
            cond.delete(ctx.conditions, cond.FETCH_FAILED_CONDITION)
            self._mark_stored(ctx, revision)
            return Result()

        try:
            index = await asyncio.to_thread(parse_index, data, source=f"{label} index.yaml from "
                                            f"{redact_url(index_url)}", max_size=self.limits.max_index_size)
        except InvalidIndex as err:
            raise self._failed(ctx, INDEXATION_FAILED_REASON,
                               f"failed to load Helm repository from index YAML: {err}") from err
        cond.delete(ctx.conditions, cond.FETCH_FAILED_CONDITION)
        message = f"new index revision '{revision}'"
        if current is not None:
            cond.mark_true(ctx.conditions, cond.ARTIFACT_OUTDATED_CONDITION, cond.NEW_REVISION_REASON, message,
                           generation=ctx.generation)
        await ctx.progress(f"building artifact: {message}")
        document = await asyncio.to_thread(to_json, index)
        stored, link = await store_file(ctx, self.store, ref, revision, f"index-{revision.partition(':')[2]}.yaml",
                                        document, INDEX_LINK)
        ctx.status["artifact"] = stored.to_dict()
        ctx.status["url"] = link
        cond.delete(ctx.conditions, cond.ARTIFACT_OUTDATED_CONDITION)
        self._mark_stored(ctx, revision)
        if current is None or current.digest != stored.digest:
            ctx.event(EVENT_TYPE_NORMAL, "NewArtifact",
                      f"stored fetched index of size {human_size(stored.size or 0)} from '{url}'",
                      {"revision": revision, "digest": stored.digest})
        return Result()

    def _mark_stored(self, ctx: ReconcileContext, revision: str) -> None:
        message = f"stored artifact: revision '{revision}'"
        cond.mark_true(ctx.conditions, cond.ARTIFACT_IN_STORAGE_CONDITION, cond.SUCCEEDED_REASON, message,
                       generation=ctx.generation)
        cond.mark_ready(ctx.conditions, message, cond.SUCCEEDED_REASON, generation=ctx.generation)

    @staticmethod
    def _failed(ctx: ReconcileContext, reason: str, message: str, *, terminal: bool = False) -> ReconcileError:
        """Record FetchFailed and return the error to raise (Ready=False with the same reason)."""
        cond.mark_true(ctx.conditions, cond.FETCH_FAILED_CONDITION, reason, message, generation=ctx.generation)
        return (TerminalError if terminal else ReconcileError)(reason, message)
