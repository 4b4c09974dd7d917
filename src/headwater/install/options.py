"""What an installation is made of: the options flux's `install`/`bootstrap` take, and the component table.

Flux names components after their controllers (`source-controller`, …). headwater runs every controller
from one image (`headwater controller <name>`), so a component here is a table row saying which
subcommand it runs, its ports and whether it reconciles arbitrary objects (and so is bound to
cluster-admin); which CRDs it brings comes from the kind registry (`KindDef.component`). Components
Flux has but headwater does not implement yet are known by name so that asking for them fails with a
clear message instead of "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from headwater import __version__

DEFAULT_NAMESPACE = "flux-system"
DEFAULT_REGISTRY = "ghcr.io/headwater"
IMAGE_NAME = "headwater"
DEFAULT_CLUSTER_DOMAIN = "cluster.local"

PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF_VALUE = "flux"
INSTANCE_LABEL = "app.kubernetes.io/instance"
VERSION_LABEL = "app.kubernetes.io/version"
COMPONENT_LABEL = "app.kubernetes.io/component"


class InstallError(ValueError):
    """Options that cannot produce an installation (unknown component, bad version, …)."""


@dataclass(frozen=True)
class Port:
    name: str
    number: int


@dataclass(frozen=True)
class Component:
    name: str  # the Deployment, ServiceAccount and `app` label
    controller: str  # `headwater controller <controller>`
    ports: tuple[Port, ...]
    readiness_path: str
    readiness_port: str
    service_port: str | None = None  # a ClusterIP Service `<name>:80 → <port>`
    reconciler: bool = False  # applies arbitrary objects: bound to cluster-admin
    extra_args: tuple[str, ...] = ()
    data_volume: bool = False  # an emptyDir at /data
    cpu_request: str = "100m"
    grace_seconds: int = 60


METRICS = Port("http-prom", 8080)
HEALTHZ = Port("healthz", 9440)

COMPONENTS: dict[str, Component] = {
    "source-controller": Component(
        name="source-controller", controller="source",
        ports=(Port("http", 9090), METRICS, HEALTHZ), readiness_path="/", readiness_port="http",
        service_port="http", data_volume=True, cpu_request="50m", grace_seconds=10,
        extra_args=("--storage-path=/data",),
    ),
    "kustomize-controller": Component(
        name="kustomize-controller", controller="kustomize",
        ports=(METRICS, HEALTHZ), readiness_path="/readyz", readiness_port="healthz", reconciler=True,
    ),
    "helm-controller": Component(
        name="helm-controller", controller="helm",
        ports=(METRICS, HEALTHZ), readiness_path="/readyz", readiness_port="healthz", reconciler=True,
    ),
}

#: Flux components that headwater does not run yet: known so the error says so.
NOT_YET = ("notification-controller", "image-reflector-controller",
           "image-automation-controller", "source-watcher")

DEFAULT_COMPONENTS = ("source-controller", "kustomize-controller", "helm-controller")

#: Every Flux API group: the RBAC aggregation roles and the crd-controller role cover all of them.
TOOLKIT_GROUPS = ("source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io",
                  "notification.toolkit.fluxcd.io", "image.toolkit.fluxcd.io", "source.extensions.fluxcd.io")


@dataclass(frozen=True)
class InstallOptions:
    namespace: str = DEFAULT_NAMESPACE
    version: str = __version__
    registry: str = DEFAULT_REGISTRY
    components: tuple[str, ...] = DEFAULT_COMPONENTS
    components_extra: tuple[str, ...] = ()
    network_policy: bool = True
    watch_all_namespaces: bool = True
    log_level: str = "info"
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN
    image_pull_secret: str = ""
    toleration_keys: tuple[str, ...] = field(default=())

    @property
    def tag(self) -> str:
        """The image tag: the version without flux's leading `v`."""
        return self.version.removeprefix("v")

    @property
    def version_label(self) -> str:
        return f"v{self.tag}"

    @property
    def image(self) -> str:
        return image_reference(self.registry, self.tag)

    def selected(self) -> list[Component]:
        """The components to install, in the order given, validated."""
        names = list(dict.fromkeys([*self.components, *self.components_extra]))
        if not names:
            raise InstallError("no components selected: --components must name at least one")
        chosen: list[Component] = []
        for name in names:
            if name in COMPONENTS:
                chosen.append(COMPONENTS[name])
            elif name in NOT_YET:
                raise InstallError(f"component {name!r} is not implemented by headwater yet "
                                   f"(available: {', '.join(COMPONENTS)})")
            else:
                raise InstallError(f"unknown component {name!r} (available: {', '.join(COMPONENTS)})")
        return chosen

    def validate(self) -> None:
        self.selected()
        if not self.tag or any(c.isspace() or c in "/:@" for c in self.tag):
            raise InstallError(f"invalid --version {self.version!r}")
        if not self.registry or self.registry.endswith("/") or any(c.isspace() for c in self.registry):
            raise InstallError(f"invalid --registry {self.registry!r}")
        if self.log_level not in ("trace", "debug", "info", "error"):
            raise InstallError(f"invalid --log-level {self.log_level!r} (trace, debug, info or error)")
        if not _dns_label(self.namespace):
            raise InstallError(f"invalid --namespace {self.namespace!r}: not a DNS-1123 label")


def image_reference(registry: str, tag: str) -> str:
    """`<registry>/headwater:<tag>`, the one image every controller runs."""
    return f"{registry}/{IMAGE_NAME}:{tag}"


def _dns_label(text: str) -> bool:
    import re

    return bool(re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", text)) and len(text) <= 63


def common_labels(opts: InstallOptions) -> dict[str, str]:
    """The labels flux's kustomize build puts on every installed object."""
    return {INSTANCE_LABEL: opts.namespace, PART_OF_LABEL: PART_OF_VALUE, VERSION_LABEL: opts.version_label}


def component_labels(opts: InstallOptions, component: str) -> dict[str, str]:
    return {**common_labels(opts), COMPONENT_LABEL: component}
