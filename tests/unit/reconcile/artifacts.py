"""Source artifacts for the Kustomization tables: trees of files published as real tarballs.

The revision is derived from the files (a stand-in commit id), so a case can name the revision it
expects before anything is published.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

from headwater.artifact.storage import ObjectRef, Storage
from tests.unit.reconcile.harness import NAMESPACE


def commit_of(files: dict[str, str]) -> str:
    return hashlib.sha1(json.dumps(files, sort_keys=True).encode()).hexdigest()


def revision_of(files: dict[str, str], branch: str = "main") -> str:
    return f"{branch}@sha1:{commit_of(files)}"


class Shelf:
    """Publishes trees of files as source artifacts on the session's artifact server."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._serial = itertools.count()

    def publish(self, files: dict[str, str], name: str = "repo", branch: str = "main") -> dict[str, Any]:
        """The `status.artifact` of a GitRepository `name` whose commit holds `files`."""
        sha = commit_of(files)
        ref = ObjectRef("GitRepository", NAMESPACE, name)
        with tempfile.TemporaryDirectory(prefix="hw-shelf-") as tmp:
            for rel, content in files.items():
                path = Path(tmp, rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
            artifact = self.storage.new_artifact(ref, f"{branch}@sha1:{sha}", f"{sha}-{next(self._serial)}.tar.gz")
            return self.storage.archive(artifact, tmp).to_dict()
