"""The kustomize controller as the process runs it: its name, flags (Flux's) and kinds."""

from __future__ import annotations

from dataclasses import dataclass

from headwater.api.defs.kustomize import KUSTOMIZATION
from headwater.api.kinds import kind_named
from headwater.runtime.flags import flag
from headwater.runtime.spec import ControllerSpec

#: The sources a Kustomization may name, as the registry declares its `spec.sourceRef`.
SOURCE_REF = KUSTOMIZATION.reference_at("spec", "sourceRef")
DEPENDS_ON = KUSTOMIZATION.reference_at("spec", "dependsOn", "[]")


@dataclass(frozen=True)
class KustomizeFlags:
    """kustomize-controller's own flags, with Flux's names and defaults."""

    no_remote_bases: bool = flag(False, "Refuse kustomize remote bases (only what the artifact holds is built).")
    default_kubeconfig_service_account: str = flag(
        "", "Service account for spec.kubeConfig.configMapRef when its ConfigMap names none (workload identity; "
            "secret-less kubeconfigs are refused by this implementation).")


SPEC = ControllerSpec(
    name="kustomize",
    process_name="kustomize-controller",
    summary="Build kustomize overlays from source artifacts and apply them.",
    setup="headwater.kustomize.controller:setup",
    flags=KustomizeFlags,
    concurrent=4,
    reconciles=((KUSTOMIZATION.api_version, KUSTOMIZATION.kind),),
    reads=tuple((kind_named(kind).api_version, kind) for kind in SOURCE_REF.kinds),
)
