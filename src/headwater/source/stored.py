"""Is a source's stored artifact still the file it wrote? The check every source kind makes per reconcile.

Flux verifies the advertised artifact against its digest on every reconcile and rebuilds it when the file
was modified on disk; each source kind (GitRepository, HelmRepository, HelmChart, …) does exactly the same,
so the check, the removal of a modified file and Flux's `ArtifactVerificationFailed` Warning live here once,
beside the one way the file-artifact kinds (HelmRepository's index, HelmChart's package) store a new one.
"""

from __future__ import annotations

import asyncio

from headwater.artifact.storage import Artifact, ObjectRef, Storage, StorageError
from headwater.runtime import conditions as cond
from headwater.runtime.context import ReconcileContext
from headwater.runtime.events import EVENT_TYPE_WARNING
from headwater.runtime.result import ReconcileError


async def stored_intact(ctx: ReconcileContext, store: Storage, ref: ObjectRef, stored: Artifact) -> bool:
    """Whether `stored` is still the file written: one `lstat` when it is, its digest when it changed (or
    after a restart). A modified file is removed, with a Warning event, and the caller rebuilds it from the
    same revision; a missing one is rebuilt too."""
    if store.unchanged(stored):
        return True
    if not store.exists(stored):
        return False
    if await asyncio.to_thread(store.intact, stored):
        return True
    async with store.lock(ref):
        await asyncio.to_thread(store.remove, stored)
    message = (f"failed to verify integrity of artifact: computed digest doesn't match '{stored.digest}'; "
               f"removed it, rebuilding it from revision '{stored.revision}'")
    ctx.log.info(message)
    ctx.event(EVENT_TYPE_WARNING, "ArtifactVerificationFailed", message, {"revision": stored.revision})
    return False


async def store_file(ctx: ReconcileContext, store: Storage, ref: ObjectRef, revision: str, filename: str,
                     data: bytes, link: str) -> tuple[Artifact, str]:
    """Store `data` as `ref`'s artifact `filename` (atomically: a reader sees the old file or the new one),
    collect its old artifacts and point the `link` symlink (Flux's `status.url`) at it. A failure marks
    StorageOperationFailed and raises (retried): nothing half-written is left under the artifact's name."""
    async with store.lock(ref):
        try:
            artifact = store.new_artifact(ref, revision, filename)
            stored = await asyncio.to_thread(store.write, artifact, data)
            await asyncio.to_thread(store.garbage_collect, stored)
            url = await asyncio.to_thread(store.symlink, stored, link)
        except (StorageError, OSError) as err:
            message = f"unable to save artifact to storage: {err}"
            cond.mark_true(ctx.conditions, cond.STORAGE_OPERATION_FAILED_CONDITION,
                           cond.ARCHIVE_OPERATION_FAILED_REASON, message, generation=ctx.generation)
            raise ReconcileError(cond.ARCHIVE_OPERATION_FAILED_REASON, message) from err
    cond.delete(ctx.conditions, cond.STORAGE_OPERATION_FAILED_CONDITION)
    return stored, url


async def remove_stored(store: Storage, ref: ObjectRef) -> None:
    """Everything stored for `ref` (on deletion: the finalizer of every source kind)."""
    async with store.lock(ref):
        await asyncio.to_thread(store.remove_all, ref)
