"""The HelmChart reconciler: a chart from a HelmRepository (HTTP or OCI) or a GitRepository, stored as .tgz.

The source is read from the controller's informers. A missing source, or one without an artifact (an OCI
HelmRepository needs none), is a retried failure (`SourceUnavailable`, `NoSourceArtifact`); the HelmChart
is woken again as soon as its source stores a new artifact. Bucket sources are not implemented yet (#14):
such a HelmChart is reported the way Flux reports a source it cannot get, and retried.

From a HelmRepository the version is resolved (`spec.version`, a SemVer range; the repository's stored
index, or the registry's tags), and the chart downloaded with the repository's credentials (basic auth only
to the repository's own host unless `passCredentials`). From a GitRepository the chart directory at
`spec.chart` is read from the Git artifact, confined to it, its missing dependencies fetched (local
`file://` charts of the same artifact, HTTP/S repositories and OCI registries with the credentials of the
namespace's HelmRepository of that URL: `dependency_build`, `dependency_repos`), and packaged; with `reconcileStrategy:
Revision` its version gets `+<first 12 hex of the commit>`. `spec.valuesFiles` are merged into values.yaml
(the version then gets the object's generation as build metadata, `.`-joined after a revision), which makes
a package of a pulled chart too. Nothing is downloaded or built when the stored artifact already is the
chart this spec and source select (same name and version, same generation).

With `spec.verify` (OCI charts only, cosign public keys: `verification`), the chart's manifest digest is
checked for a trusted signature before anything is pulled or the cache consulted, the chart is pulled by
that digest, and `SourceVerified` says the outcome with Flux's reasons and messages.

Every chart is read completely and within bounds before it is stored (`archive.read_archive`,
`directory.read_directory`); a refusal names the object, the file and, where it applies, the field. The
artifact is `<name>-<version>.tgz`, its revision the chart version, `latest.tar.gz` the `status.url`; the
status records `observedChartName`, `observedSourceArtifactRevision` and (with
`ignoreMissingValuesFiles`) `observedValuesFiles`, as Flux does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from headwater.api.models.source import HelmChart, HelmChartSpec, HelmRepository
from headwater.api.validation import refuse_unreadable
from headwater.artifact import revision as rev
from headwater.artifact.fetch import DEFAULT_MAX_UNTAR_SIZE, ArtifactError, extract_archive
from headwater.artifact.storage import Artifact, ObjectRef, Storage
from headwater.runtime import conditions as cond
from headwater.runtime.context import ReconcileContext
from headwater.runtime.events import EVENT_TYPE_NORMAL
from headwater.runtime.informer import Informer
from headwater.runtime.kube import KubeClient
from headwater.runtime.reconciler import Reconciler
from headwater.runtime.result import ReconcileError, Result, TerminalError
from headwater.source import semver
from headwater.source.helm import build as b
from headwater.source.helm.archive import Chart, ChartError, package, read_archive
from headwater.source.helm.auth import repository_credentials
from headwater.source.helm.dependency_build import build_dependencies
from headwater.source.helm.dependency_repos import NamespaceCharts
from headwater.source.helm.directory import chart_directory, read_directory
from headwater.source.helm.getter import FetchError, download, resolve_reference
from headwater.source.helm.helmrepository import normalize_url
from headwater.source.helm.index import ChartVersionNotFound, InvalidIndex, RepositoryIndex, chart_version, parse_index
from headwater.source.helm.limits import DEFAULT_LIMITS, HelmLimits
from headwater.source.helm.oci import Registry, TagNotFound
from headwater.source.helm.oci import chart_version as oci_chart_version
from headwater.source.helm.values import (
    ValuesError,
    effective_values_files,
    merge_values_files,
    reader_in_chart,
    reader_in_directory,
)
from headwater.source.helm.verification import chart_verifier
from headwater.source.stored import remove_stored, store_file, stored_intact

API_VERSION = "source.toolkit.fluxcd.io/v1"
KIND = "HelmChart"
LATEST_LINK = "latest.tar.gz"
SOURCE_PLURALS = {"HelmRepository": "helmrepositories", "GitRepository": "gitrepositories", "Bucket": "buckets"}
INDEX_CACHE_SIZE = 16


class HelmChartReconciler(Reconciler):
    api_version = API_VERSION
    kind = KIND

    def __init__(self, kube: KubeClient, store: Storage, sources: dict[str, Informer],
                 limits: HelmLimits = DEFAULT_LIMITS) -> None:
        self.kube = kube
        self.store = store
        self.sources = sources  # kind -> informer (HelmRepository, GitRepository)
        self.limits = limits
        self.downloads = 0  # chart downloads and pulls (tests count them)
        self._indexes: OrderedDict[str, RepositoryIndex] = OrderedDict()  # by the index artifact's digest

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        with refuse_unreadable(ctx.obj, TerminalError):
            return await self._reconcile(ctx, HelmChart(ctx.obj))

    async def finalize(self, ctx: ReconcileContext) -> None:
        chart = HelmChart(ctx.obj)
        await remove_stored(self.store, ObjectRef(KIND, chart.namespace, chart.name))

    # -- the reconcile -----------------------------------------------------------------------------

    async def _reconcile(self, ctx: ReconcileContext, chart: HelmChart) -> Result:
        spec, namespace = chart.spec, chart.namespace
        source = self._source(ctx, spec, namespace)
        source_artifact = ((source.get("status") or {}).get("artifact")) or None
        if source_artifact is not None:
            ctx.status["observedSourceArtifactRevision"] = str(source_artifact.get("revision") or "")
        ref = ObjectRef(KIND, namespace, chart.name)
        current = chart.status.artifact
        cached = None
        if current is not None and await stored_intact(ctx, self.store, ref, Artifact.from_dict(current.raw)):
            cached = (str(ctx.status.get("observedChartName") or ""), current.revision)
        force = ctx.generation != int(ctx.status.get("observedGeneration") or 0)
        label = f"{KIND} {namespace}/{chart.name}"
        if spec.verify is None:
            cond.delete(ctx.conditions, cond.SOURCE_VERIFIED_CONDITION)
        try:
            if spec.source_ref.kind == "HelmRepository":
                built = await self._from_repository(ctx, spec, HelmRepository(source), None if force else cached,
                                                    label)
            else:
                assert source_artifact is not None
                built = await self._from_git(ctx, spec, Artifact.from_dict(source_artifact),
                                             None if force else cached, label, namespace)
        except b.BuildError as err:
            other = b.BUILD_FAILED_CONDITION if err.reason.condition == cond.FETCH_FAILED_CONDITION \
                else cond.FETCH_FAILED_CONDITION
            cond.delete(ctx.conditions, other)
            cond.mark_true(ctx.conditions, err.reason.condition, err.reason.reason, str(err), generation=ctx.generation)
            if err.reason is b.CHART_VERIFICATION:
                cond.mark_false(ctx.conditions, cond.SOURCE_VERIFIED_CONDITION, cond.VERIFICATION_ERROR_REASON,
                                str(err), generation=ctx.generation)
            raise (TerminalError if err.reason.persistent else ReconcileError)(err.reason.reason, str(err)) from err

        summary = built.summary()
        if built.verified:
            cond.mark_true(ctx.conditions, cond.SOURCE_VERIFIED_CONDITION, cond.SUCCEEDED_REASON,
                           f"verified signature of version {built.version}", generation=ctx.generation)
        if built.data is not None:
            if current is not None:
                cond.mark_true(ctx.conditions, cond.ARTIFACT_OUTDATED_CONDITION, "NewChart", summary,
                               generation=ctx.generation)
            await ctx.progress(f"building artifact: {summary}")
            stored, link = await store_file(ctx, self.store, ref, built.version, f"{built.name}-{built.version}.tgz",
                                            built.data, LATEST_LINK)
            ctx.status["artifact"] = stored.to_dict()
            ctx.status["url"] = link
            ctx.status["observedChartName"] = built.name
            if spec.ignore_missing_values_files:
                ctx.status["observedValuesFiles"] = built.values_files
            else:
                ctx.status.pop("observedValuesFiles", None)
            if current is None or current.digest != stored.digest:
                ctx.event(EVENT_TYPE_NORMAL, built.reason, summary,
                          {"revision": stored.revision, "digest": stored.digest})
        for stale in (cond.FETCH_FAILED_CONDITION, b.BUILD_FAILED_CONDITION, cond.ARTIFACT_OUTDATED_CONDITION):
            cond.delete(ctx.conditions, stale)
        cond.mark_true(ctx.conditions, cond.ARTIFACT_IN_STORAGE_CONDITION, built.reason, summary,
                       generation=ctx.generation)
        cond.mark_ready(ctx.conditions, summary, built.reason, generation=ctx.generation)
        return Result()

    def _source(self, ctx: ReconcileContext, spec: HelmChartSpec, namespace: str) -> dict[str, Any]:
        """The source object, ready to build from (an artifact in storage, unless it is an OCI repository)."""
        kind, name = spec.source_ref.kind, spec.source_ref.name
        informer = self.sources.get(kind)
        if informer is None:  # Bucket (#14)
            raise self._fetch_failed(ctx, "SourceUnavailable", f"failed to get source: {kind} '{namespace}/{name}' "
                                     f"cannot be read: the {kind} kind is not implemented yet")
        source = informer.get((namespace, name))
        if source is None:
            raise self._fetch_failed(ctx, "SourceUnavailable", f"failed to get source: "
                                     f"{SOURCE_PLURALS[kind]}.source.toolkit.fluxcd.io \"{name}\" not found")
        if kind == "HelmRepository" and (source.get("spec") or {}).get("type") == "oci":
            return source
        artifact = (source.get("status") or {}).get("artifact")
        if not artifact or not self.store.exists(Artifact.from_dict(artifact)):
            raise self._fetch_failed(ctx, "NoSourceArtifact", f"no artifact available for {kind} source '{name}'")
        return source

    @staticmethod
    def _fetch_failed(ctx: ReconcileContext, reason: str, message: str) -> ReconcileError:
        cond.mark_true(ctx.conditions, cond.FETCH_FAILED_CONDITION, reason, message, generation=ctx.generation)
        return ReconcileError(reason, message)

    # -- from a Helm repository --------------------------------------------------------------------

    async def _from_repository(self, ctx: ReconcileContext, spec: HelmChartSpec, repo: HelmRepository,
                               cached: tuple[str, str] | None, label: str) -> b.Build:
        b.check_chart_name(spec.chart)
        try:
            verifier = await chart_verifier(self.kube, spec.verify, repo.namespace, oci=repo.spec.is_oci)
        except ReconcileError as err:
            cond.mark_false(ctx.conditions, cond.SOURCE_VERIFIED_CONDITION, err.reason, err.message,
                            generation=ctx.generation)
            raise
        try:
            credentials = await repository_credentials(self.kube, repo)
        except ReconcileError as err:
            raise self._fetch_failed(ctx, err.reason, err.message) from err
        timeout = repo.spec.timeout.seconds
        values_files = effective_values_files(spec.values_files)
        metadata = str(ctx.generation) if values_files else ""
        if repo.spec.is_oci:
            registry = Registry(repo.spec.url.rstrip("/"), credentials, insecure=repo.spec.insecure, timeout=timeout,
                                limits=self.limits)
            name, version = spec.chart, await self._oci_version(registry, spec.chart, spec.version)
            where = registry.reference(spec.chart, version)
        else:
            base = normalize_url(repo.spec.url)
            entry = self._chart_version(repo, spec)
            name, version = str(entry["name"]), str(entry["version"])
            if not entry.get("urls"):
                raise b.BuildError(b.CHART_PULL, f"chart '{name}' has no downloadable URLs")
            where = resolve_reference(base, str(entry["urls"][0]))
        artifact_version = b.with_build_metadata(version, metadata)
        digest = None if verifier is None else await verifier.verify(registry, spec.chart, version)
        verified = digest is not None
        if cached == (name, artifact_version):
            return b.Build(name, artifact_version, None, bool(values_files), values_files, verified)
        self.downloads += 1
        try:
            if repo.spec.is_oci:
                data, _ = await registry.pull_with_digest(spec.chart, version, digest=digest)
            else:
                data = await download(where, credentials, repository_url=base, timeout=timeout,
                                      max_size=self.limits.max_chart_size, what=f"chart '{name}'")
        except FetchError as err:
            raise b.BuildError(b.CHART_PULL, f"failed to download chart for remote reference: {err}") from err
        try:
            pulled = await asyncio.to_thread(read_archive, data, label=f"{label} chart {where}", limits=self.limits)
        except ChartError as err:
            raise b.BuildError(b.CHART_PULL, str(err)) from err
        if not values_files and not metadata:
            return b.Build(name, artifact_version, data, verified=verified)
        built = await asyncio.to_thread(self._package, pulled, artifact_version, values_files, spec, label, name,
                                        reader=None)
        return dataclasses.replace(built, verified=verified)

    @staticmethod
    async def _oci_version(registry: Registry, chart: str, wanted: str) -> str:
        try:
            return await oci_chart_version(registry, chart, wanted)
        except TagNotFound as err:
            raise b.BuildError(b.CHART_PULL, f"failed to get chart version for remote reference: {err}") from err

    def _chart_version(self, repo: HelmRepository, spec: HelmChartSpec) -> dict[str, Any]:
        try:
            index = self._stored_index(repo)
        except InvalidIndex as err:
            raise b.BuildError(b.CHART_PULL, f"could not load repository index for remote chart reference: "
                               f"{err}") from err
        try:
            return chart_version(index, spec.chart, spec.version)
        except (ChartVersionNotFound, semver.SemverError) as err:
            raise b.BuildError(b.CHART_REFERENCE, f"failed to get chart version for remote reference: {err}") from err

    def _stored_index(self, repo: HelmRepository) -> RepositoryIndex:
        """The repository's stored index artifact, parsed (kept for the last few index digests)."""
        artifact = repo.status.artifact
        assert artifact is not None
        index = self._indexes.get(artifact.digest)
        if index is None:
            try:
                path = self.store.local_path(artifact.path)
                with path.open("rb") as f:
                    data = f.read(self.limits.max_index_size + 1)
            except OSError as err:
                raise InvalidIndex(f"HelmRepository {repo.namespace}/{repo.name} artifact {artifact.path}: "
                                   f"{err.strerror or err}") from err
            index = parse_index(data, source=f"HelmRepository {repo.namespace}/{repo.name} artifact "
                                f"{artifact.path}", max_size=self.limits.max_index_size)
            self._indexes[artifact.digest] = index
            while len(self._indexes) > INDEX_CACHE_SIZE:
                self._indexes.popitem(last=False)
        self._indexes.move_to_end(artifact.digest)
        return index

    # -- from a Git artifact -----------------------------------------------------------------------

    async def _from_git(self, ctx: ReconcileContext, spec: HelmChartSpec, source: Artifact,
                        cached: tuple[str, str] | None, label: str, namespace: str) -> b.Build:
        values_files = effective_values_files(spec.values_files)
        metadata = ""
        if spec.reconcile_strategy == "Revision":
            metadata = rev.extract_hash(source.revision)[:12]
        if values_files:
            metadata = f"{metadata}.{ctx.generation}" if metadata else str(ctx.generation)
        with tempfile.TemporaryDirectory(prefix="hw-helmchart-") as tmp:
            root = Path(tmp, "source")
            try:
                await asyncio.to_thread(extract_archive, self.store.local_path(source.path), root,
                                        max_untar_size=DEFAULT_MAX_UNTAR_SIZE)
            except (ArtifactError, OSError) as err:
                raise self._fetch_failed(ctx, cond.FAILED_REASON, f"artifact untar error: {err}") from err
            try:
                directory = chart_directory(root, spec.chart)
            except ChartError as err:
                raise b.BuildError(b.CHART_REFERENCE, f"{label}: {err}") from err
            chart_label = f"{label} chart '{spec.chart}'"
            try:
                chart = await asyncio.to_thread(read_directory, directory, label=chart_label, limits=self.limits)
            except ChartError as err:
                raise b.BuildError(b.CHART_PACKAGE, str(err)) from err
            version = b.with_build_metadata(chart.version, metadata)
            if cached == (chart.name, version):
                return b.Build(chart.name, version, None, True, values_files)
            try:
                chart, _ = await build_dependencies(
                    chart, root=root, chart_path=directory.relative_to(root).as_posix(), label=chart_label,
                    charts=self._dependency_charts(namespace), limits=self.limits)
            except ChartError as err:
                raise b.BuildError(b.DEPENDENCY_BUILD, str(err)) from err
            return await asyncio.to_thread(self._package, chart, version, values_files, spec, label, chart.name,
                                           reader=root)

    def _dependency_charts(self, namespace: str) -> NamespaceCharts:
        """Where this build's remote dependencies come from: the namespace's HelmRepositories, or anonymous."""
        informer = self.sources.get("HelmRepository")
        repositories = informer.list(namespace) if informer is not None else []

        def has_stored_index(repo: HelmRepository) -> bool:
            artifact = repo.status.artifact
            return artifact is not None and self.store.exists(Artifact.from_dict(artifact.raw))

        return NamespaceCharts(self.kube, repositories, namespace, stored_index=self._stored_index,
                               has_stored_index=has_stored_index, limits=self.limits)

    def _package(self, chart: Chart, version: str, values_files: list[str], spec: HelmChartSpec, label: str,
                 name: str, *, reader: Path | None) -> b.Build:
        """Merge the values files into values.yaml, set the version, package (blocking: run in a thread)."""
        used: list[str] = []
        if values_files:
            read = reader_in_chart(chart) if reader is None else reader_in_directory(reader, self.limits)
            where = f"the chart '{spec.chart}'" if reader is None else "the source artifact"
            try:
                merged, used = merge_values_files(values_files, read, ignore_missing=spec.ignore_missing_values_files,
                                                  label=f"{label} {where}", chart=chart if reader is None else None,
                                                  limits=self.limits)
            except ValuesError as err:
                raise b.BuildError(b.VALUES_FILES, f"{label}: {err}") from err
            except ChartError as err:
                raise b.BuildError(b.VALUES_FILES, str(err)) from err
            chart = chart.with_values(merged)
        if version != chart.version:
            chart = chart.with_version(version)
        try:
            data = package(chart)
        except (OSError, ValueError) as err:
            raise b.BuildError(b.CHART_PACKAGE, f"failed to package chart: {err}") from err
        return b.Build(name, version, data, True, used)

