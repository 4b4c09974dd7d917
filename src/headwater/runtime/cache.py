"""The manager's shared informer cache: one list + watch per kind per process.

Controllers in one process (``headwater controller all``) read overlapping kinds: the source controller
reconciles GitRepositories that the kustomize controller watches for new artifacts, and Helm will add
HelmCharts, OCIRepositories and more read by several controllers. Each informer costs a watch
connection, a copy of every object in memory and a share of the apiserver's fan-out, so every controller
asks this cache for the kinds it needs and gets the same informer for the same kind. Informers are
created on first request and started together by the Manager; indexes are added before the start.
"""

from __future__ import annotations

from typing import Protocol

from headwater.runtime.informer import IndexFunc, Informer
from headwater.runtime.kube.client import KubeClient


class KindRef(Protocol):
    """Anything naming a kind by apiVersion: a registry ``KindDef`` or a test's own kind."""

    @property
    def api_version(self) -> str: ...

    @property
    def kind(self) -> str: ...


class SharedCache:
    """Informers by ``(apiVersion, kind)``, all scoped by the same namespace and label selector."""

    def __init__(self, kube: KubeClient, *, namespace: str | None = None, label_selector: str | None = None) -> None:
        self.kube = kube
        self.namespace = namespace or None
        self.label_selector = label_selector or None
        self._informers: dict[tuple[str, str], Informer] = {}
        self._index_funcs: dict[tuple[str, str, str], IndexFunc] = {}

    def informer(self, api_version: str, kind: str) -> Informer:
        """The process's informer for the kind, created on first request."""
        key = (api_version, kind)
        found = self._informers.get(key)
        if found is None:
            found = Informer(self.kube, api_version, kind, namespace=self.namespace,
                             label_selector=self.label_selector)
            self._informers[key] = found
        return found

    def informer_for(self, kind: KindRef) -> Informer:
        return self.informer(kind.api_version, kind.kind)

    def add(self, informer: Informer) -> Informer:
        """Share an informer made elsewhere (another scope); the first one of a kind wins."""
        return self._informers.setdefault((informer.api_version, informer.kind), informer)

    def add_index(self, kind: KindRef, name: str, func: IndexFunc) -> Informer:
        """Index the kind's objects by ``func``; several controllers may declare the same index.

        The same name declared twice must be the same function, or the second controller would read
        an index built by a different rule.
        """
        informer = self.informer_for(kind)
        key = (kind.api_version, kind.kind, name)
        existing = self._index_funcs.get(key)
        if existing is None:
            informer.add_index(name, func)
            self._index_funcs[key] = func
        elif existing is not func:
            raise ValueError(f"index {name!r} on {kind.kind} is already declared with another function")
        return informer

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    def __len__(self) -> int:
        return len(self._informers)


__all__ = ["KindRef", "SharedCache"]
