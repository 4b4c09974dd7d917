"""The pinned versions of every control-plane component, in one place.

A change here is the only thing that triggers a rebuild: each component is cached under a directory
named after its own version, so bumping etcd does not rebuild Kubernetes.
"""

from __future__ import annotations

from dataclasses import dataclass

KUBERNETES = "v1.36.4"
ETCD = "v3.6.16"
KWOK = "v0.8.0"
# Flux 2.9's helm-controller runs the Helm v4.2 SDK; the engine and the `helm` CLI the tests check with
# are built from this one module version (also in helm/engine-go/go.mod).
HELM = "v4.2.4"
# The `cosign` CLI the signature tests sign charts with (Flux's source-controller verifies with cosign v2).
COSIGN = "v2.6.5"


@dataclass(frozen=True)
class Component:
    """One cached build product: its name, pinned version and the binaries it yields."""

    name: str
    version: str
    binaries: tuple[str, ...]

    @property
    def cache_key(self) -> str:
        return f"{self.name}-{self.version}"


COMPONENTS: tuple[Component, ...] = (
    Component("kubernetes", KUBERNETES, ("kube-apiserver", "kube-controller-manager", "kube-scheduler")),
    Component("etcd", ETCD, ("etcd",)),
    Component("kwok", KWOK, ("kwok",)),
)


def staging_version(kubernetes_version: str) -> str:
    """`v1.36.4` -> `v0.36.4`: the tag Kubernetes' staging modules (k8s.io/api, …) share."""
    major_minor_patch = kubernetes_version.removeprefix("v").split(".")
    return "v0." + ".".join(major_minor_patch[1:])


def helm_components(engine_source_digest: str) -> tuple[Component, ...]:
    """The `helm` CLI and headwater's Helm engine; the engine is keyed by its source too, so an edit
    of the Go files rebuilds it."""
    return (Component("helm", HELM, ("helm",)),
            Component("helm-engine", f"{HELM}-{engine_source_digest[:12]}", ("hw-helm-engine",)))


COSIGN_COMPONENT = Component("cosign", COSIGN, ("cosign",))
