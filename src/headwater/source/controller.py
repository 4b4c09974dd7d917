"""Wire the source controller into a Manager: storage, artifact server, GitRepository and Helm controllers.

A GitRepository that includes others must be rebuilt as soon as an included one stores a new artifact;
the watch declared below turns that status change into an immediate enqueue of its includers (found by
the index of the registry's `spec.include[].repository` reference) instead of a wait for the interval.
"""

from __future__ import annotations

from pathlib import Path

from headwater.api.defs.source import GIT_REPOSITORY
from headwater.artifact.server import create_app
from headwater.artifact.storage import Storage, advertised_address
from headwater.runtime.spec import SetupContext
from headwater.runtime.watches import artifact_changed, referenced_by
from headwater.source.gitrepository import GitRepositoryReconciler
from headwater.source.helm.controller import setup_helm
from headwater.source.spec import SPEC, SourceFlags

INCLUDE = GIT_REPOSITORY.reference_at("spec", "include", "[]", "repository")


def build_storage(flags: SourceFlags) -> Storage:
    root = Path(flags.storage_path or "/data")
    root.mkdir(parents=True, exist_ok=True)
    hostname = advertised_address(flags.storage_addr or ":9090", flags.storage_adv_addr)
    return Storage(root, hostname, retention_records=flags.artifact_retention_records,
                   retention_ttl=flags.artifact_retention_ttl)


async def setup(ctx: SetupContext[SourceFlags]) -> None:
    store = build_storage(ctx.flags)
    repositories = ctx.cache.informer_for(GIT_REPOSITORY)
    reconciler = GitRepositoryReconciler(ctx.kube, store, repositories,
                                         no_cross_namespace_refs=ctx.options.no_cross_namespace_refs)
    ctx.manager.new_controller(
        "gitrepository", reconciler, options=ctx.options, field_manager=SPEC.process_name,
        watches=[referenced_by(INCLUDE, GIT_REPOSITORY.api_version, GIT_REPOSITORY.kind, when=artifact_changed)],
    )
    setup_helm(ctx, store)  # after GitRepository: the first controller stays the GitRepository one
    ctx.manager.add_server("storage", ctx.flags.storage_addr or ":9090", create_app(store.root))
