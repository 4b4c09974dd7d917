"""Where the dev cluster keeps its cache (binaries, build logs) and its running clusters' state.

`HEADWATER_CACHE` overrides the root (default `~/.cache/headwater`), so tests can exercise an empty
cache without touching the real one.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    override = os.environ.get("HEADWATER_CACHE")
    return Path(override) if override else Path.home() / ".cache" / "headwater"


def clusters_root() -> Path:
    return cache_root() / "clusters"


def logs_root() -> Path:
    """Component logs live outside a cluster's state so they survive `down` and failed starts."""
    return cache_root() / "logs"
