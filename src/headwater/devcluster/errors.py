"""The error a control-plane build step raises, shared by the build driver and the Go module helpers.

It lives apart from `devcluster.build` so that `devcluster.gomod` (which `build` uses) can raise it
without importing `build` back: the two modules used to import each other.
"""

from __future__ import annotations

from pathlib import Path


class BuildError(RuntimeError):
    """A build step failed; `log_path` holds its full output."""

    def __init__(self, message: str, step: str = "", log_path: Path | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.log_path = log_path


class ToolchainMissing(BuildError):
    """No usable Go toolchain on this machine."""
