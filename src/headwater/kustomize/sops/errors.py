"""Errors raised while decrypting SOPS documents.

They are separate classes so callers (the kustomize controller) can tell a broken file from a missing key
from tampering, and turn each into the right condition message. Every message is built from structure only
(file names, key paths, recipients, fingerprints): never from a decrypted value, a data key or key material.
"""

from __future__ import annotations

import copy


class SopsError(Exception):
    """Base class of every error raised by the SOPS decryptor."""


class MetadataError(SopsError):
    """The document has no `sops` metadata, or it is malformed (missing MAC, bad dates, conflicting rules)."""


class FormatError(SopsError):
    """The encrypted document cannot be parsed in its format, or cannot be emitted in the output format."""


class UnsupportedError(SopsError):
    """The document needs a feature this decryptor does not implement (a KMS provider, an unknown value type)."""


class KeyImportError(SopsError):
    """An entry of the decryption Secret cannot be used as a key (named by entry, never by content)."""


class NoMatchingKeyError(SopsError):
    """None of the provided keys can decrypt the data key; the message lists the file's recipients."""


class IntegrityError(SopsError):
    """The document failed an integrity check."""


class MacMismatch(IntegrityError):
    """The document's MAC, or a value's AES-GCM authentication tag, does not verify.

    Raised when the recomputed MAC differs from the stored one (values changed, reordered, added or removed
    outside sops), when the stored MAC itself or `lastmodified` was altered, and when a value's ciphertext was
    altered (its GCM tag, which is a MAC bound to the value's key path, fails).
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class MalformedValueError(SopsError):
    """A value is not in the form SOPS writes (not `ENC[...]` where it must be, bad base64, bad type)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


def with_source(error: SopsError, source: str) -> SopsError:
    """A copy of `error` (same class and attributes) whose message starts with `source`, with no traceback,
    cause or context attached (nothing from the failing operation rides along)."""
    message = str(error)
    fresh = copy.copy(error)
    fresh.args = (message if message.startswith(f"{source}:") else f"{source}: {message}",)
    return fresh
