"""Per-repository request counters of the test Git servers, with the same keys for HTTP and SSH.

Tests assert on these ("the controller listed refs but did not clone"), so the keys mean the same on
both transports:

* `"info/refs"` - ref advertisements for fetching: HTTP `GET <repo>/info/refs?service=git-upload-pack`;
  SSH: a `git-upload-pack` session (which advertises on connect).
* `"ls-refs"` - protocol-v2 `command=ls-refs` requests (`git ls-remote`, and the first step of a v2 fetch).
* `"upload-pack"` - fetch requests that ask for objects (v2 `command=fetch`, v0 `want` lines): this is
  the "a clone or fetch happened" counter. An up-to-date `git fetch` does not move it. (Over HTTP with
  protocol v0 each negotiation round is a request, so a fetch may count more than once.)
* `"receive-pack"` - pushes that update refs (HTTP `POST <repo>/git-receive-pack`, SSH `git-receive-pack`
  sessions; git's auth probe before a large HTTP push and an up-to-date push do not count).
* `"info/refs:receive-pack"` - HTTP ref advertisements for pushing.
* `"requests"` (HTTP: every request for the repo, dumb-protocol files included), `"unauthorized"` (HTTP
  401s), `"sessions"` (SSH: every session).

`stats["app.git"]["upload-pack"]` is 0 for a repository or key never seen: no KeyError to guard.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping


class GitStats(Mapping[str, Counter[str]]):
    """Thread-safe counters: repository key (path relative to the served root) → Counter of events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[str]] = {}

    def add(self, repo: str, *events: str) -> None:
        with self._lock:
            counter = self._counts.setdefault(repo, Counter())
            for event in events:
                counter[event] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def snapshot(self) -> dict[str, Counter[str]]:
        with self._lock:
            return {repo: Counter(c) for repo, c in self._counts.items()}

    def total(self, event: str) -> int:
        """The count of one event over all repositories."""
        with self._lock:
            return sum(c[event] for c in self._counts.values())

    def __getitem__(self, repo: str) -> Counter[str]:
        """A copy of the repository's counters (empty, all zero, if it was never requested)."""
        with self._lock:
            return Counter(self._counts.get(repo.strip("/"), Counter()))

    def __contains__(self, repo: object) -> bool:
        with self._lock:
            return isinstance(repo, str) and repo.strip("/") in self._counts

    def __iter__(self) -> Iterator[str]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._counts)

    def __repr__(self) -> str:
        return f"GitStats({ {r: dict(c) for r, c in self.snapshot().items()} })"
