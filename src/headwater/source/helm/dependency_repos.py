"""The chart repositories a HelmChart's dependencies are fetched from, as its namespace sees them.

Flux's rule: a dependency's repository URL (normalized) is looked up among the HelmRepositories in the
HelmChart's own namespace by their normalized `spec.url`; one that matches lends its credentials
(`secretRef`, `certSecretRef`, `passCredentials`), its timeout and, for OCI, `insecure`; its stored index
is used when it has one. A URL no HelmRepository names is used anonymously, with a 60 s timeout, its
index downloaded for this build. Nothing crosses namespaces: another namespace's Secrets are never read.

Indexes and registries are kept for one build (`NamespaceCharts` is made per build), so several
dependencies from one repository cost one index download. All sizes are the Helm limits of the controller
(`--helm-index-max-size`, `--helm-chart-max-size`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from headwater.api.models.source import HelmRepository
from headwater.runtime.kube import KubeClient
from headwater.runtime.result import ReconcileError
from headwater.source import semver
from headwater.source.helm.auth import repository_credentials
from headwater.source.helm.dependencies import Dependency, DependencyError, RemoteChart
from headwater.source.helm.getter import Credentials, FetchError, download, resolve_reference
from headwater.source.helm.helmrepository import normalize_url
from headwater.source.helm.index import ChartVersionNotFound, InvalidIndex, RepositoryIndex, chart_version, parse_index
from headwater.source.helm.limits import DEFAULT_LIMITS, HelmLimits
from headwater.source.helm.oci import Registry, TagNotFound
from headwater.source.helm.oci import chart_version as oci_chart_version

__all__ = ["ANONYMOUS_TIMEOUT", "NamespaceCharts", "repository_key"]

ANONYMOUS_TIMEOUT = 60.0

StoredIndex = Callable[[HelmRepository], RepositoryIndex]


def repository_key(url: str) -> str | None:
    """The normalized URL a HelmRepository is matched by (None for a URL that cannot be normalized)."""
    if url.startswith("oci://"):
        return url.rstrip("/")
    try:
        return normalize_url(url)
    except ValueError:
        return None


class NamespaceCharts:
    """A `ChartSource` for the dependencies of one HelmChart build in `namespace`."""

    def __init__(self, kube: KubeClient, repositories: list[dict[str, Any]], namespace: str, *,
                 stored_index: StoredIndex, has_stored_index: Callable[[HelmRepository], bool],
                 limits: HelmLimits = DEFAULT_LIMITS) -> None:
        self.kube = kube
        self.namespace = namespace
        self.limits = limits
        self._stored_index = stored_index
        self._has_stored_index = has_stored_index
        self._by_url: dict[str, HelmRepository] = {}
        for raw in sorted(repositories, key=lambda r: str((r.get("metadata") or {}).get("name") or "")):
            repo = HelmRepository(raw)
            key = repository_key(str(repo.spec.url or ""))
            if repo.namespace == namespace and key is not None:
                self._by_url.setdefault(key, repo)
        self._credentials: dict[str, Credentials] = {}
        self._indexes: dict[str, RepositoryIndex] = {}

    def matching(self, remote: RemoteChart) -> HelmRepository | None:
        return self._by_url.get(remote.url)

    async def _credentials_for(self, remote: RemoteChart, repo: HelmRepository | None) -> Credentials:
        if repo is None:
            return Credentials()
        if remote.url not in self._credentials:
            try:
                self._credentials[remote.url] = await repository_credentials(self.kube, repo)
            except ReconcileError as err:
                raise DependencyError(f"failed to get chart repository for URL '{remote.url}' (HelmRepository "
                                      f"{repo.namespace}/{repo.name}): {err.message}") from err
        return self._credentials[remote.url]

    async def fetch(self, remote: RemoteChart, dependency: Dependency) -> bytes:
        repo = self.matching(remote)
        credentials = await self._credentials_for(remote, repo)
        timeout = repo.spec.timeout.seconds if repo is not None else ANONYMOUS_TIMEOUT
        wanted = f"failed to get chart '{dependency.name}' version '{dependency.version}' from " \
                 f"'{dependency.repository}'"
        if remote.is_oci:
            registry = Registry(remote.url, credentials, insecure=bool(repo is not None and repo.spec.insecure),
                                timeout=timeout, limits=self.limits)
            try:
                version = await oci_chart_version(registry, dependency.name, dependency.version)
            except TagNotFound as err:
                raise DependencyError(f"{wanted}: {err}") from err
            try:
                return await registry.pull(dependency.name, version)
            except FetchError as err:
                raise DependencyError(f"chart download of version '{version}' failed: {err}") from err
        index = await self._index(remote, repo, credentials, timeout, wanted)
        try:
            entry = chart_version(index, dependency.name, dependency.version)
        except (ChartVersionNotFound, semver.SemverError) as err:
            raise DependencyError(f"{wanted}: {err}") from err
        if not entry.get("urls"):
            raise DependencyError(f"{wanted}: chart '{dependency.name}' version '{entry['version']}' has no "
                                  "downloadable URLs")
        where = resolve_reference(remote.url, str(entry["urls"][0]))
        try:
            return await download(where, credentials, repository_url=remote.url, timeout=timeout,
                                  max_size=self.limits.max_chart_size, what=f"chart '{dependency.name}'")
        except FetchError as err:
            raise DependencyError(f"chart download of version '{entry['version']}' failed: {err}") from err

    async def _index(self, remote: RemoteChart, repo: HelmRepository | None, credentials: Credentials,
                     timeout: float, wanted: str) -> RepositoryIndex:
        cached = self._indexes.get(remote.url)
        if cached is not None:
            return cached
        try:
            if repo is not None and self._has_stored_index(repo):
                index = self._stored_index(repo)
            else:
                url = resolve_reference(remote.url, "index.yaml")
                data = await download(url, credentials, repository_url=remote.url, timeout=timeout,
                                      max_size=self.limits.max_index_size, what="repository index")
                index = await asyncio.to_thread(parse_index, data, source=f"index.yaml from {url}",
                                                max_size=self.limits.max_index_size)
        except (FetchError, InvalidIndex) as err:
            raise DependencyError(f"{wanted}: {err}") from err
        self._indexes[remote.url] = index
        return index
