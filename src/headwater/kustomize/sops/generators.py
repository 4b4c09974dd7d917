"""Which files of a kustomization kustomize-controller decrypts *before* the build, and how.

kustomize reads secretGenerator sources itself, so an encrypted `.env` or certificate must be decrypted
first. Flux visits every kustomization file (following `resources` and `components`) and decrypts, in its
own format, each `secretGenerator[].files` entry (format from the key name, so `tls.crt` is binary and
`config.json` JSON), each `secretGenerator[].envs` entry (dotenv unless the name says YAML/JSON/INI) and each
local `patches[].path`, but only files that carry their format's SOPS marker and are at most 5 MiB.
This module lists those sources and decrypts one; walking directories and confining paths is the build's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from headwater.kustomize.sops.detect import MARKERS, DetectedFormat, format_for_path
from headwater.kustomize.sops.document import decrypt_document
from headwater.kustomize.sops.errors import UnsupportedError
from headwater.kustomize.sops.keys import KeySet

MAX_ENCRYPTED_FILE_SIZE = 5 << 20


def _is_remote(path: str) -> bool:
    parsed = urlparse(path)
    return bool(parsed.scheme and parsed.netloc)


def generator_sources(kustomization: Mapping[str, Any]) -> list[tuple[str, DetectedFormat]]:
    """(relative path, format) of every source Flux would try to decrypt in one kustomization file."""
    sources: list[tuple[str, DetectedFormat]] = []
    for generator in kustomization.get("secretGenerator") or []:
        for file_source in generator.get("files") or []:
            key, separator, path = str(file_source).partition("=")
            sources.append((path if separator else key, format_for_path(key)))
        for env in generator.get("envs") or []:
            detected = format_for_path(str(env))
            sources.append((str(env), "dotenv" if detected == "binary" else detected))
    for patch in kustomization.get("patches") or []:
        patch_path = str(patch.get("path") or "") if isinstance(patch, Mapping) else ""
        if patch_path and not _is_remote(patch_path):
            sources.append((patch_path, format_for_path(patch_path)))
    return sources


def decrypt_source(data: bytes, fmt: DetectedFormat, keys: KeySet, *, source: str) -> bytes | None:
    """The cleartext of a generator source in the same format, or None if it is not SOPS-encrypted.

    Too large files are refused like Flux refuses them; the caller keeps the result in memory (or hands it
    to kustomize without writing it next to the other sources).
    """
    if len(data) > MAX_ENCRYPTED_FILE_SIZE:
        raise UnsupportedError(f"{source}: cannot decrypt a file of {len(data)} bytes (limit "
                               f"{MAX_ENCRYPTED_FILE_SIZE})")
    marker = dict(MARKERS).get("json" if fmt == "binary" else fmt)
    if marker is None or marker not in data:
        return None
    if fmt == "ini":
        raise UnsupportedError(f"{source}: the INI format is not supported by this decryptor")
    return decrypt_document(data, fmt, keys, source=source)
