"""The GitRepository's message when the artifact storage refuses a write says what happened, in words."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from headwater.artifact.storage import StorageError
from headwater.source.gitrepository import storage_problem

pytestmark = pytest.mark.unit
ROOT = Path("/data")


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
         "no space left in the artifact storage /data (No space left on device); the previous artifact is kept"),
        (OSError(errno.EDQUOT, os.strerror(errno.EDQUOT)),
         f"no space left in the artifact storage /data ({os.strerror(errno.EDQUOT)}); the previous artifact is kept"),
        (OSError(errno.EFBIG, os.strerror(errno.EFBIG)),
         "file size limit reached writing to the artifact storage /data (File too large)"),
        (OSError(errno.EACCES, os.strerror(errno.EACCES)), "Permission denied in the artifact storage /data"),
        (StorageError("artifact path 'x' escapes the storage root"), "artifact path 'x' escapes the storage root"),
    ],
)
def test_storage_problems_are_named(error: Exception, message: str) -> None:
    assert storage_problem(error, ROOT) == message
