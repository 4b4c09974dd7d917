"""The chart a HelmRelease releases: its HelmChart (made from `spec.chart`) or `spec.chartRef`, fetched.

`spec.chart` is a template: the controller owns a HelmChart named `<namespace>-<name>` in the source's
namespace (labels `helm.toolkit.fluxcd.io/name|namespace` point back, since an owner reference cannot
cross namespaces), keeps its spec equal to the template, and reads its artifact. `spec.chartRef` names
a HelmChart, OCIRepository or ExternalArtifact directly. Either way the artifact is fetched with the
artifact package's strict rules (digest checked, links and escapes refused, sizes bounded) into a
small cache keyed by digest, so an unchanged chart is not downloaded again; the chart's directory is
the artifact's root or its single top-level directory, and its Chart.yaml is read within bounds.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.api import safeyaml
from headwater.artifact.fetch import ArtifactError, fetch_artifact
from headwater.helm.digest_tracking import track
from headwater.runtime.informer import Informer
from headwater.runtime.result import TerminalError, WaitingError

HELM_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_API = "source.toolkit.fluxcd.io/v1"
CHART_REF_KINDS = ("HelmChart", "OCIRepository", "ExternalArtifact")


@dataclass(frozen=True)
class ResolvedChart:
    directory: Path
    name: str
    version: str
    app_version: str
    revision: str
    digest: str
    source: str  # Kind/namespace/name
    oci_digest: str = ""  # OCIRepository charts: the version carries its first 12 hex digits (digest_tracking)


def chart_name_for(namespace: str, name: str) -> str:
    return f"{namespace}-{name}"


def template_object(release: dict[str, Any]) -> dict[str, Any]:
    """The HelmChart `spec.chart` asks for, as Flux builds it."""
    meta, spec = release["metadata"], release.get("spec") or {}
    template = (spec.get("chart") or {})
    chart_spec = template.get("spec") or {}
    source = chart_spec.get("sourceRef") or {}
    namespace = source.get("namespace") or meta["namespace"]
    labels = {**((template.get("metadata") or {}).get("labels") or {}),
              f"{HELM_GROUP}/name": meta["name"], f"{HELM_GROUP}/namespace": meta["namespace"]}
    body: dict[str, Any] = {
        "chart": chart_spec.get("chart"), "version": chart_spec.get("version") or "*",
        "sourceRef": {"kind": source.get("kind"), "name": source.get("name")},
        "interval": chart_spec.get("interval") or spec.get("interval"),
        "reconcileStrategy": chart_spec.get("reconcileStrategy") or "ChartVersion",
    }
    for key in ("valuesFiles", "ignoreMissingValuesFiles", "verify"):
        if chart_spec.get(key):
            body[key] = chart_spec[key]
    metadata: dict[str, Any] = {"name": chart_name_for(meta["namespace"], meta["name"]), "namespace": namespace,
                                "labels": labels}
    annotations = (template.get("metadata") or {}).get("annotations")
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": SOURCE_API, "kind": "HelmChart", "metadata": metadata, "spec": body}


def chart_source(release: dict[str, Any], *, no_cross_namespace_refs: bool) -> tuple[str, str, str]:
    """(kind, namespace, name) of the object whose artifact holds the chart."""
    meta, spec = release["metadata"], release.get("spec") or {}
    if spec.get("chartRef"):
        ref = spec["chartRef"]
        kind, namespace = str(ref.get("kind")), str(ref.get("namespace") or meta["namespace"])
        name = str(ref.get("name"))
    elif spec.get("chart"):
        template = template_object(release)
        kind, namespace, name = "HelmChart", template["metadata"]["namespace"], template["metadata"]["name"]
    else:
        raise TerminalError("InvalidChartReference", "either spec.chart or spec.chartRef must be set")
    if no_cross_namespace_refs and namespace != meta["namespace"]:
        raise TerminalError("AccessDenied", f"cannot access {kind}/{namespace}/{name}: cross-namespace references "
                                            "are not allowed (--no-cross-namespace-refs)")
    if kind not in CHART_REF_KINDS:
        raise TerminalError("InvalidChartReference", f"unsupported chart source kind '{kind}'")
    return kind, namespace, name


def ready_artifact(source: dict[str, Any] | None, label: str, retry: float) -> dict[str, Any]:
    """The source's artifact when it is ready, else a wait with Flux's words."""
    if source is None:
        raise WaitingError("ArtifactFailed", f"could not get {label}: not found", retry)
    artifact = (source.get("status") or {}).get("artifact")
    conditions = (source.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if not artifact:
        detail = f": {ready.get('message')}" if ready and ready.get("status") == "False" else ""
        raise WaitingError("ArtifactFailed", f"{label} is not ready{detail}", retry)
    return dict(artifact)


class ChartCache:
    """Fetched chart artifacts by digest (a few kept, the least recently used dropped first)."""

    def __init__(self, root: Path, keep: int = 64) -> None:
        self.root, self.keep = root, keep
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = asyncio.Lock()

    async def directory(self, url: str, digest: str) -> Path:
        target = self.root / digest.replace(":", "-")
        async with self._lock:
            if target.is_dir():
                target.touch()
                return target
            staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=self.root))
            try:
                await fetch_artifact(url, digest, staging / "artifact")
                (staging / "artifact").rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            self._trim()
            return target

    def _trim(self) -> None:
        entries = sorted((p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[self.keep:]:
            shutil.rmtree(stale, ignore_errors=True)


def chart_root(artifact_dir: Path) -> Path:
    """The chart's directory in an extracted artifact: the root, or its single top-level directory."""
    if (artifact_dir / "Chart.yaml").is_file():
        return artifact_dir
    candidates = [p for p in artifact_dir.iterdir() if p.is_dir() and (p / "Chart.yaml").is_file()]
    if len(candidates) != 1:
        raise ValueError("the artifact holds no chart (no Chart.yaml at its root or in one top-level directory)")
    return candidates[0]


def read_metadata(chart_dir: Path) -> dict[str, Any]:
    path = chart_dir / "Chart.yaml"
    doc = safeyaml.load(path.read_text(encoding="utf-8"), source=f"{chart_dir.name}/Chart.yaml")
    if not isinstance(doc, dict) or not doc.get("name") or not doc.get("version"):
        raise ValueError(f"{chart_dir.name}/Chart.yaml has no name or version")
    return doc


async def resolve(cache: ChartCache, informers: dict[str, Informer], release: dict[str, Any], *,
                  no_cross_namespace_refs: bool, retry: float) -> ResolvedChart:
    kind, namespace, name = chart_source(release, no_cross_namespace_refs=no_cross_namespace_refs)
    label = f"{kind}/{namespace}/{name}"
    informer = informers.get(kind)
    if informer is None:
        raise WaitingError("ArtifactFailed", f"chart source kind {kind} is not served by this controller yet", retry)
    artifact = ready_artifact(informer.get((namespace, name)), label, retry)
    try:
        directory = chart_root(await cache.directory(str(artifact.get("url")), str(artifact.get("digest"))))
        metadata = read_metadata(directory)
    except ArtifactError as err:
        raise WaitingError("ArtifactFailed", f"could not fetch the chart of {label}: {err}", retry) from err
    except (ValueError, OSError, safeyaml.YAMLInputError) as err:
        raise WaitingError("ArtifactFailed", f"the artifact of {label} is not a chart: {err}", retry) from err
    tracked = track(str(metadata["version"]), kind, str(artifact.get("revision") or ""))
    return ResolvedChart(directory=directory, name=str(metadata["name"]), version=tracked.version,
                         app_version=str(metadata.get("appVersion") or ""), revision=str(artifact.get("revision")),
                         digest=str(artifact.get("digest")), source=label, oci_digest=tracked.oci_digest)
