"""The helm controller as the process runs it: its name, flags and kinds."""

from __future__ import annotations

from dataclasses import dataclass

from headwater.api.defs.helm import HELM_RELEASE
from headwater.api.kinds import kind_named
from headwater.runtime.flags import flag
from headwater.runtime.spec import ControllerSpec

CHART_REF = HELM_RELEASE.reference_at("spec", "chartRef")
DEPENDS_ON = HELM_RELEASE.reference_at("spec", "dependsOn", "[]")


@dataclass(frozen=True)
class HelmFlags:
    """helm-controller's own flags, with Flux's names and defaults."""

    chart_cache_path: str = flag("", "Where fetched chart artifacts are kept (default: a private temporary directory).")


SPEC = ControllerSpec(
    name="helm",
    process_name="helm-controller",
    summary="Release Helm charts from source artifacts with the real Helm engine.",
    setup="headwater.helm.controller:setup",
    flags=HelmFlags,
    concurrent=4,
    reconciles=((HELM_RELEASE.api_version, HELM_RELEASE.kind),),
    reads=tuple((kind_named(kind).api_version, kind) for kind in CHART_REF.kinds),
)
