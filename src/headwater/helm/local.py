"""Render a HelmRelease locally, as the controller would release it: what `build/diff helmrelease` show.

Flux has no way to see what a HelmRelease will apply before pushing (flux2#2808, #1652). The render is
the controller's own: the HelmRelease from the cluster (or a file), its values composed with
`valuesFrom` by the engine exactly as a reconcile composes them, then `--values` files on top (the
local edit being previewed), the chart from a local directory (`--path`) or the artifact of the
HelmRelease's chart source, and the engine's client-side render with the post-renderers in Flux's
order (commonMetadata, postRenderers, origin labels). The manifest is the one Helm would store for the
release (what `helm get manifest` shows; hooks and `crds/` are not part of it). Nothing is written to
the cluster; rendering needs no connection unless values come from it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.api import safeyaml
from headwater.api.defs.helm import HELM_RELEASE
from headwater.artifact.fetch import ArtifactError
from headwater.helm import chart as charts
from headwater.helm.engine import EngineError, HelmEngine
from headwater.helm.reconciler import post_renderer_steps, release_name_of
from headwater.helm.values import ValuesError, compose
from headwater.runtime.kube import KubeClient
from headwater.runtime.result import ReconcileError

HELM_MANAGED_BY = ("app.kubernetes.io/managed-by", "Helm")
RELEASE_NAME_ANNOTATION = "meta.helm.sh/release-name"
RELEASE_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"


class LocalRenderError(Exception):
    """The render cannot be made; the message names the object, file or flag at fault."""


@dataclass(frozen=True)
class Request:
    name: str
    namespace: str
    path: Path | None = None  # a local chart directory standing for the chart source's artifact
    values_files: tuple[Path, ...] = ()
    release_file: Path | None = None


@dataclass
class Rendered:
    release: dict[str, Any]
    release_name: str
    target_namespace: str
    objects: list[dict[str, Any]]


def read_release_file(path: Path, name: str, namespace: str) -> dict[str, Any]:
    """The HelmRelease named `name` in a YAML file (the first HelmRelease when the file holds one)."""
    try:
        documents = safeyaml.load_all(path.read_text(), source=str(path))
    except (OSError, UnicodeDecodeError, safeyaml.YAMLInputError) as err:
        raise LocalRenderError(f"could not read the HelmRelease file {path}: {err}") from None
    found = [d for d in documents if isinstance(d, dict) and d.get("kind") == HELM_RELEASE.kind
             and str(d.get("apiVersion", "")).startswith("helm.toolkit.fluxcd.io/")]
    named = [d for d in found if (d.get("metadata") or {}).get("name") == name]
    if not named:
        raise LocalRenderError(f"{path} holds no HelmRelease named {name!r}")
    release = dict(named[0])
    release["metadata"] = {**(release.get("metadata") or {})}
    release["metadata"].setdefault("namespace", namespace)
    return release


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's rule for a later values file: maps merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_values_file(path: Path) -> dict[str, Any]:
    try:
        values = safeyaml.load(path.read_text(), source=str(path))
    except (OSError, UnicodeDecodeError, safeyaml.YAMLInputError) as err:
        raise LocalRenderError(f"could not read the values file {path}: {err}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise LocalRenderError(f"the values file {path} is not a map of values")
    return values


def with_release_metadata(obj: Mapping[str, Any], release_name: str, namespace: str) -> dict[str, Any]:
    """The object as Helm applies it: the managed-by label and the release annotations added."""
    result = dict(obj)
    meta = dict(result.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), HELM_MANAGED_BY[0]: HELM_MANAGED_BY[1]}
    meta["annotations"] = {**(meta.get("annotations") or {}), RELEASE_NAME_ANNOTATION: release_name,
                           RELEASE_NAMESPACE_ANNOTATION: namespace}
    result["metadata"] = meta
    return result


async def _chart_directory(kube: KubeClient | None, release: dict[str, Any], request: Request,
                           scratch: Path) -> Path:
    if request.path is not None:
        if not (request.path / "Chart.yaml").is_file():
            raise LocalRenderError(f'invalid chart path "{request.path}": no Chart.yaml')
        return request.path
    if kube is None:
        raise LocalRenderError("--path is required without a cluster")
    label = "the chart source"
    try:
        kind, namespace, name = charts.chart_source(release, no_cross_namespace_refs=False)
        label = f"{kind}/{namespace}/{name}"
        source = await kube.get_or_none(charts.SOURCE_API, kind, name, namespace)
        artifact = charts.ready_artifact(source, label, 0)
        return charts.chart_root(await charts.ChartCache(scratch).directory(str(artifact.get("url")),
                                                                            str(artifact.get("digest"))))
    except ReconcileError as err:
        raise LocalRenderError(f"{err.message}; pass --path to render a local chart") from None
    except (ArtifactError, OSError) as err:
        raise LocalRenderError(f"could not fetch the chart of {label}: {err}; pass --path to render a local "
                               "chart") from None


async def render_release(kube: KubeClient | None, engine: HelmEngine, request: Request) -> Rendered:
    """The objects the HelmRelease would release (ownership metadata not yet added)."""
    if request.release_file is not None:
        release = read_release_file(request.release_file, request.name, request.namespace)
    else:
        if kube is None:
            raise LocalRenderError("a HelmRelease file is required without a cluster")
        found = await kube.get_or_none(HELM_RELEASE.api_version, HELM_RELEASE.kind, request.name, request.namespace)
        if found is None:
            raise LocalRenderError(f"HelmRelease {request.namespace}/{request.name} not found")
        release = found
    spec, meta = release.get("spec") or {}, release["metadata"]
    if kube is None and spec.get("valuesFrom"):
        raise LocalRenderError("spec.valuesFrom needs the cluster")
    with tempfile.TemporaryDirectory(prefix="headwater-hr-build-") as scratch:
        chart_dir = await _chart_directory(kube, release, request, Path(scratch))
        try:
            values = (await compose(engine, kube, str(meta["namespace"]), spec)).values if kube is not None \
                else dict(spec.get("values") or {})
        except ValuesError as err:
            raise LocalRenderError(f"HelmRelease {meta['namespace']}/{meta['name']}: {err}") from None
        for path in request.values_files:
            values = merge_values(values, read_values_file(path))
        release_name = release_name_of(release)
        target_namespace = str(spec.get("targetNamespace") or meta["namespace"])
        params: dict[str, Any] = {
            "release_name": release_name, "namespace": target_namespace, "chart": str(chart_dir), "values": values,
            "post_renderers": post_renderer_steps(release),
            "post_render_strategy": spec.get("postRenderStrategy") or "combined",
            "skip_schema_validation": bool((spec.get("install") or {}).get("disableSchemaValidation"))}
        if kube is not None:
            version = await kube.version()
            params["kube_version"] = str(version.get("gitVersion") or "")
        try:
            rendered = await engine.call("template", params)
        except EngineError as err:
            raise LocalRenderError(f"HelmRelease {meta['namespace']}/{meta['name']}: {err.message}") from None
    try:
        documents = safeyaml.load_all(str(rendered.get("manifest") or ""), source="the rendered manifest")
    except safeyaml.YAMLInputError as err:
        raise LocalRenderError(str(err)) from None
    objects = [d for d in documents if isinstance(d, dict)]
    for obj in objects:
        obj_meta = obj.setdefault("metadata", {})
        if not obj_meta.get("namespace") and obj.get("kind") not in CLUSTER_SCOPED_HINT:
            obj_meta["namespace"] = target_namespace
    return Rendered(release=release, release_name=release_name, target_namespace=target_namespace, objects=objects)


#: Kinds that never take a namespace; others without one are put in the target namespace, as Helm's
#: client does when it applies them (a dry-run against the cluster corrects any other cluster kind).
CLUSTER_SCOPED_HINT = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                                 "PersistentVolume", "StorageClass", "PriorityClass", "IngressClass",
                                 "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                                 "APIService", "RuntimeClass"})


def inventory_owner(rendered: Rendered) -> dict[str, Any]:
    """The shape `kustomize.preview.pruned` reads: the release's inventory, pruned as an upgrade prunes."""
    return {"spec": {"prune": True}, "status": {"inventory": (rendered.release.get("status") or {}).get("inventory")}}


def objects_as_applied(rendered: Rendered) -> Sequence[dict[str, Any]]:
    return [with_release_metadata(obj, rendered.release_name, rendered.target_namespace) for obj in rendered.objects]
