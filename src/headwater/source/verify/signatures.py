"""Fetching the cosign signatures of a manifest digest from an OCI registry repository.

The signature image is looked up by its tag (`sha256-<hex>.sig`); no such tag means "unsigned", any
other registry failure is an error. Its manifest and every payload blob are read through the caller's
registry client (credentials, TLS, size bounds and digest checks are the client's), at most
`MAX_SIGNATURES` layers, each at most `MAX_PAYLOAD_SIZE` bytes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from headwater.source.verify.cosign import (
    MAX_PAYLOAD_SIZE,
    MAX_SIGNATURES,
    SIGNATURE_ANNOTATION,
    PublicKey,
    SignedPayload,
    check_signatures,
    signature_tag,
)

__all__ = ["BlobReader", "ManifestReader", "NotFoundCheck", "fetch_signatures", "verify_digest"]

ManifestReader = Callable[[str], Awaitable[bytes]]
BlobReader = Callable[[str, int], Awaitable[bytes]]
NotFoundCheck = Callable[[Exception], bool]


async def fetch_signatures(tag: str, manifest: ManifestReader, blob: BlobReader,
                           not_found: NotFoundCheck) -> list[SignedPayload]:
    """The signature layers stored under `tag` (empty when the tag does not exist)."""
    try:
        body = await manifest(tag)
    except Exception as err:
        if not_found(err):
            return []
        raise
    layers = _layers(body)
    found: list[SignedPayload] = []
    for layer in layers[:MAX_SIGNATURES]:
        annotations = layer.get("annotations") or {}
        signature = annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
        size = layer.get("size")
        if not isinstance(signature, str) or not isinstance(size, int) or not 0 <= size <= MAX_PAYLOAD_SIZE:
            continue
        payload = await blob(str(layer.get("digest") or ""), MAX_PAYLOAD_SIZE)
        found.append(SignedPayload(payload, signature))
    return found


def _layers(body: bytes) -> list[dict[str, Any]]:
    try:
        layers = json.loads(body).get("layers") or []
    except (ValueError, AttributeError) as err:
        raise ValueError("the signature manifest is not an OCI manifest") from err
    return [layer for layer in layers if isinstance(layer, dict)] if isinstance(layers, list) else []


async def verify_digest(digest: str, keys: list[tuple[str, PublicKey]], manifest: ManifestReader, blob: BlobReader,
                        not_found: NotFoundCheck) -> str | None:
    """None when `digest` carries a cosign signature by one of `keys`; otherwise why not."""
    signed = await fetch_signatures(signature_tag(digest), manifest, blob, not_found)
    return check_signatures(signed, keys, digest)
