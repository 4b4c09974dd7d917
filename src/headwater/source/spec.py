"""The source controller as the process runs it: its name, flags (Flux's) and kinds."""

from __future__ import annotations

from dataclasses import dataclass

from headwater.api.defs.source import GIT_REPOSITORY, HELM_CHART, HELM_REPOSITORY
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
    helm_index_max_size: int = flag(50 << 20, "The largest Helm repository index accepted, in bytes.")
    helm_chart_max_size: int = flag(10 << 20, "The largest Helm chart archive accepted, in bytes.")
    helm_chart_file_max_size: int = flag(5 << 20, "The largest file in a Helm chart accepted, in bytes.")


SPEC = ControllerSpec(
    name="source",
    process_name="source-controller",
    summary="Turn Git repositories, Helm repositories and charts into versioned artifacts and serve them.",
    setup="headwater.source.controller:setup",
    flags=SourceFlags,
    concurrent=2,
    shared_flags={"no_cross_namespace_refs": False},
    reconciles=tuple((kind.api_version, kind.kind) for kind in (GIT_REPOSITORY, HELM_REPOSITORY, HELM_CHART)),
)
