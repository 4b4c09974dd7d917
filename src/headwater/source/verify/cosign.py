"""cosign's key-based signature check, as pure functions over bytes: keys, payloads, signatures.

cosign signs a manifest digest by storing an OCI image tagged `sha256-<hex>.sig` next to it; each layer
is a "simple signing" JSON payload naming the digest (`critical.image.docker-manifest-digest`), and the
layer's annotation `dev.cosignproject.cosign/signature` holds the base64 signature of the payload bytes.
A manifest is verified when one payload is signed by one of the trusted keys *and* names the manifest's
digest: a valid signature of another artifact's payload proves nothing about this one.

Keys are the `*.pub` entries of a Secret (PEM public keys: ECDSA, RSA, Ed25519), as Flux reads them.
Signatures are checked as cosign makes them: SHA-256 over the payload, ECDSA signatures DER-encoded,
RSA with PKCS#1 v1.5. Everything read here came from a registry or a tenant, so every input is bounded
and a refusal says what was wrong without echoing the input.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

__all__ = ["MAX_KEYS", "MAX_PAYLOAD_SIZE", "MAX_SIGNATURES", "PAYLOAD_MEDIA_TYPE", "SIGNATURE_ANNOTATION", "UNSIGNED",
           "InvalidKeys", "PublicKey", "SignedPayload", "check_signatures", "load_public_keys", "payload_digest",
           "signature_tag"]

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PAYLOAD_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
PAYLOAD_TYPE = "cosign container image signature"
MAX_KEYS = 64
MAX_SIGNATURES = 32
MAX_PAYLOAD_SIZE = 64 * 1024
MAX_SIGNATURE_SIZE = 4096
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
#: What `check_signatures` answers for a digest without any signature (Flux says "no matching signatures").
UNSIGNED = "no signatures found"

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class InvalidKeys(ValueError):
    """The verification Secret holds no usable public key; the message names the Secret and the entry."""


@dataclass(frozen=True)
class SignedPayload:
    """One signature layer: the payload bytes and the base64 signature from its annotation."""

    payload: bytes
    signature: str


def signature_tag(digest: str) -> str:
    """`sha256:<hex>` -> `sha256-<hex>.sig`, the tag cosign stores a digest's signatures under."""
    if _DIGEST.fullmatch(digest) is None:
        raise ValueError(f"unsupported manifest digest {digest!r}: only sha256 digests can be verified")
    return digest.replace(":", "-") + ".sig"


def load_public_keys(data: Mapping[str, bytes], secret: str) -> list[tuple[str, PublicKey]]:
    """The public keys of the `*.pub` entries (sorted by name); other entries are ignored, as in Flux."""
    names = sorted(name for name in data if name.endswith(".pub"))
    if not names:
        raise InvalidKeys(f"no public keys found in secret '{secret}'")
    if len(names) > MAX_KEYS:
        raise InvalidKeys(f"secret '{secret}' has {len(names)} public keys, more than the maximum of {MAX_KEYS}")
    keys: list[tuple[str, PublicKey]] = []
    for name in names:
        try:
            key = serialization.load_pem_public_key(data[name])
        except (ValueError, TypeError, UnsupportedAlgorithm) as err:
            raise InvalidKeys(f"secret '{secret}' entry '{name}' is not a PEM public key") from err
        if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
            raise InvalidKeys(f"secret '{secret}' entry '{name}' is a {type(key).__name__}, not an ECDSA, RSA or "
                            "Ed25519 public key")
        keys.append((name, key))
    return keys


def payload_digest(payload: bytes) -> str:
    """The manifest digest a simple-signing payload vouches for; ValueError when it is not one."""
    if len(payload) > MAX_PAYLOAD_SIZE:
        raise ValueError(f"payload is larger than {MAX_PAYLOAD_SIZE} bytes")
    try:
        document = json.loads(payload)
        critical = document["critical"]
        kind, digest = critical["type"], critical["image"]["docker-manifest-digest"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError("payload is not a cosign simple-signing document") from err
    if kind != PAYLOAD_TYPE:
        raise ValueError(f"payload type is {str(kind)[:80]!r}, not {PAYLOAD_TYPE!r}")
    if not isinstance(digest, str):
        raise ValueError("payload names no manifest digest")
    return digest


def _signature_valid(key: PublicKey, signature: bytes, payload: bytes) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, payload)
    except InvalidSignature:
        return False
    return True


def check_signatures(signed: Sequence[SignedPayload], keys: Sequence[tuple[str, PublicKey]],
                     digest: str) -> str | None:
    """None when a payload naming `digest` is signed by one of `keys`; otherwise why not (for the message)."""
    if not signed:
        return UNSIGNED
    signed_other = False
    for item in signed[:MAX_SIGNATURES]:
        if len(item.signature) > MAX_SIGNATURE_SIZE or len(item.payload) > MAX_PAYLOAD_SIZE:
            continue
        try:
            signature = base64.b64decode(item.signature, validate=True)
        except (binascii.Error, ValueError):
            continue
        if not any(_signature_valid(key, signature, item.payload) for _, key in keys):
            continue
        try:
            named = payload_digest(item.payload)
        except ValueError:
            continue
        if named == digest:
            return None
        signed_other = True
    if signed_other:
        return "a trusted signature names another manifest digest"
    return "no signature verifies with the trusted public keys"
