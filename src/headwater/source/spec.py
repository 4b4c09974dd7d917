"""The source controller as the process runs it: its name, flags (Flux's) and kinds."""

from __future__ import annotations

from dataclasses import dataclass

from headwater.api.defs.source import GIT_REPOSITORY
from headwater.runtime.flags import flag
from headwater.runtime.spec import ControllerSpec


@dataclass(frozen=True)
class SourceFlags:
    """source-controller's own flags (artifact storage), with Flux's names and defaults."""

    storage_path: str = flag("/data", "Where artifacts are stored.")
    storage_addr: str = flag(":9090", "Address the artifact server listens on.")
    storage_adv_addr: str = flag("", "Host[:port] (or http(s):// prefix) put in artifact URLs (default: this host).")
    artifact_retention_ttl: float = flag(60.0, "How long superseded artifacts are kept.", duration=True)
    artifact_retention_records: int = flag(2, "How many artifacts per object are kept.")


SPEC = ControllerSpec(
    name="source",
    process_name="source-controller",
    summary="Turn Git repositories into versioned artifacts and serve them.",
    setup="headwater.source.controller:setup",
    flags=SourceFlags,
    concurrent=2,
    shared_flags={"no_cross_namespace_refs": False},
    reconciles=((GIT_REPOSITORY.api_version, GIT_REPOSITORY.kind),),
)
