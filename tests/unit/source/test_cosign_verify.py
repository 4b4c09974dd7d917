"""cosign's key-based check (`headwater.source.verify.cosign`): keys, payloads, signatures, as data.

Signatures are made here with `cryptography` in cosign's format (SHA-256, DER ECDSA, PKCS#1 v1.5 RSA,
raw Ed25519, base64 in the layer annotation) so every case states its inputs; one signature made by the
real `cosign` is kept in `tests/data/cosign-signature.json`, and the cluster test
(`tests/cluster/test_helm_verify.py`) signs with the real `cosign` at test time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519

from headwater.source.verify.cosign import (
    InvalidKeys,
    SignedPayload,
    check_signatures,
    load_public_keys,
    payload_digest,
    signature_tag,
)
from headwater.source.verify.signatures import fetch_signatures

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
PrivateKey = Any

KEYS: dict[str, Callable[[], PrivateKey]] = {
    "ecdsa-p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ecdsa-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "rsa-2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}
_made: dict[str, PrivateKey] = {}


def key(name: str) -> PrivateKey:
    if name not in _made:
        _made[name] = KEYS[name.split("#")[0]]()
    return _made[name]


def pem(private: PrivateKey) -> bytes:
    data: bytes = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    return data


def sign(private: PrivateKey, payload: bytes) -> str:
    if isinstance(private, ec.EllipticCurvePrivateKey):
        raw = private.sign(payload, ec.ECDSA(hashes.SHA256()))
    elif isinstance(private, rsa.RSAPrivateKey):
        raw = private.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    else:
        raw = private.sign(payload)
    return base64.b64encode(raw).decode()


def payload(digest: str = DIGEST, kind: str = "cosign container image signature") -> bytes:
    return json.dumps({"critical": {"identity": {"docker-reference": "127.0.0.1:5000/charts/demo"},
                                    "image": {"docker-manifest-digest": digest}, "type": kind},
                       "optional": None}).encode()


# (case, trusted key names, [(signing key name, payload)], expected reason or None)
CHECKS: list[tuple[str, list[str], list[tuple[str, bytes]], str | None]] = [
    ("ecdsa p256 signs the digest", ["ecdsa-p256"], [("ecdsa-p256", payload())], None),
    ("ecdsa p384 signs the digest", ["ecdsa-p384"], [("ecdsa-p384", payload())], None),
    ("rsa signs the digest", ["rsa-2048"], [("rsa-2048", payload())], None),
    ("ed25519 signs the digest", ["ed25519"], [("ed25519", payload())], None),
    ("second trusted key signed", ["ecdsa-p256", "ed25519"], [("ed25519", payload())], None),
    ("one of several signatures is trusted", ["ecdsa-p256"],
     [("ecdsa-p256#other", payload()), ("ecdsa-p256", payload())], None),
    ("unsigned", ["ecdsa-p256"], [], "no signatures found"),
    ("signed by another key", ["ecdsa-p256"], [("ecdsa-p256#other", payload())],
     "no signature verifies with the trusted public keys"),
    ("trusted key signed another digest", ["ecdsa-p256"], [("ecdsa-p256", payload(OTHER))],
     "a trusted signature names another manifest digest"),
    ("trusted key signed a payload of another type", ["ecdsa-p256"],
     [("ecdsa-p256", payload(kind="something else"))], "no signature verifies with the trusted public keys"),
    ("trusted key signed a non-JSON payload", ["ecdsa-p256"], [("ecdsa-p256", b"not json")],
     "no signature verifies with the trusted public keys"),
]


@pytest.mark.parametrize(("trusted", "signed", "expected"), [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS])
def test_check_signatures(trusted: list[str], signed: list[tuple[str, bytes]], expected: str | None) -> None:
    keys = load_public_keys({f"{name}.pub": pem(key(name)) for name in trusted}, "ns/keys")
    layers = [SignedPayload(body, sign(key(signer), body)) for signer, body in signed]
    assert check_signatures(layers, keys, DIGEST) == expected


# signatures a registry could serve that must not verify: (case, signature annotation)
BAD_SIGNATURES = [
    ("not base64", "%%%not-base64%%%"),
    ("empty", ""),
    ("oversized", "A" * 8192),
    ("signature of other bytes", None),
]


@pytest.mark.parametrize("signature", [c[1] for c in BAD_SIGNATURES], ids=[c[0] for c in BAD_SIGNATURES])
def test_malformed_signature_does_not_verify(signature: str | None) -> None:
    keys = load_public_keys({"k.pub": pem(key("ecdsa-p256"))}, "ns/keys")
    body = payload()
    value = sign(key("ecdsa-p256"), b"other bytes") if signature is None else signature
    assert check_signatures([SignedPayload(body, value)], keys, DIGEST) == \
        "no signature verifies with the trusted public keys"


def test_payload_digest_is_bound_to_the_signed_bytes() -> None:
    """A signature over one payload does not carry over to a payload edited afterwards."""
    keys = load_public_keys({"k.pub": pem(key("ecdsa-p256"))}, "ns/keys")
    signature = sign(key("ecdsa-p256"), payload(OTHER))
    assert check_signatures([SignedPayload(payload(DIGEST), signature)], keys, DIGEST) == \
        "no signature verifies with the trusted public keys"


# (case, Secret data, expected error or None)
SECRETS: list[tuple[str, dict[str, bytes], str | None]] = [
    ("no entries", {}, "no public keys found in secret 'ns/keys'"),
    ("only non-.pub entries", {"cosign.key": b"x", "readme": b"y"}, "no public keys found in secret 'ns/keys'"),
    ("not PEM", {"a.pub": b"garbage"}, "secret 'ns/keys' entry 'a.pub' is not a PEM public key"),
    ("private key PEM", {"a.pub": b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"},
     "secret 'ns/keys' entry 'a.pub' is not a PEM public key"),
    ("x25519 is not a signing key",
     {"a.pub": x25519.X25519PrivateKey.generate().public_key().public_bytes(
         serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)},
     "secret 'ns/keys' entry 'a.pub' is a X25519PublicKey, not an ECDSA, RSA or Ed25519 public key"),
    ("too many keys", {f"{i}.pub": b"x" for i in range(65)},
     "secret 'ns/keys' has 65 public keys, more than the maximum of 64"),
    ("one good key among other entries", {"cosign.pub": pem(key("ecdsa-p256")), "cosign.key": b"secret"}, None),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in SECRETS], ids=[c[0] for c in SECRETS])
def test_load_public_keys(data: dict[str, bytes], expected: str | None) -> None:
    if expected is None:
        assert [name for name, _ in load_public_keys(data, "ns/keys")] == ["cosign.pub"]
        return
    with pytest.raises(InvalidKeys) as raised:
        load_public_keys(data, "ns/keys")
    assert str(raised.value) == expected


# (case, payload, the digest it names or the start of the refusal)
PAYLOADS: list[tuple[str, bytes, str]] = [
    ("cosign payload", payload(), DIGEST),
    ("other type", payload(kind="x"), "payload type is 'x', not 'cosign container image signature'"),
    ("no critical", b'{"optional": {}}', "payload is not a cosign simple-signing document"),
    ("digest not a string", b'{"critical": {"type": "cosign container image signature", '
                            b'"image": {"docker-manifest-digest": 5}}}', "payload names no manifest digest"),
    ("not JSON", b"\xff\xfe", "payload is not a cosign simple-signing document"),
    ("JSON list", b"[]", "payload is not a cosign simple-signing document"),
    ("oversized", b" " * (64 * 1024 + 1), "payload is larger than 65536 bytes"),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in PAYLOADS], ids=[c[0] for c in PAYLOADS])
def test_payload_digest(body: bytes, expected: str) -> None:
    if expected.startswith("sha256:"):
        assert payload_digest(body) == expected
    else:
        with pytest.raises(ValueError, match=re.escape(expected)):
            payload_digest(body)


@pytest.mark.parametrize(("digest", "tag"), [
    (DIGEST, "sha256-" + "ab" * 32 + ".sig"),
    ("sha512:" + "ab" * 64, None),
    ("sha256:ABC", None),
    ("sha256:" + "ab" * 32 + "/../x", None),
])
def test_signature_tag(digest: str, tag: str | None) -> None:
    if tag is None:
        with pytest.raises(ValueError, match="only sha256 digests can be verified"):
            signature_tag(digest)
    else:
        assert signature_tag(digest) == tag


# (case, signature manifest layers, payload blobs by digest, number of signatures read)
MANIFESTS: list[tuple[str, list[Any], int]] = [
    ("two signature layers", [{"digest": "sha256:1", "size": 10, "annotations": {
        "dev.cosignproject.cosign/signature": "c2ln"}}, {"digest": "sha256:2", "size": 10, "annotations": {
            "dev.cosignproject.cosign/signature": "c2ln"}}], 2),
    ("layer without the annotation is skipped", [{"digest": "sha256:1", "size": 10}], 0),
    ("oversized payload layer is skipped", [{"digest": "sha256:1", "size": 10 ** 9, "annotations": {
        "dev.cosignproject.cosign/signature": "c2ln"}}], 0),
    ("at most 32 layers are read", [{"digest": f"sha256:{i}", "size": 1, "annotations": {
        "dev.cosignproject.cosign/signature": "c2ln"}} for i in range(40)], 32),
    ("non-object layers are skipped", ["x", 5, None], 0),
]


@pytest.mark.parametrize(("layers", "count"), [c[1:] for c in MANIFESTS], ids=[c[0] for c in MANIFESTS])
async def test_fetch_signatures(layers: list[Any], count: int) -> None:
    read: list[str] = []

    async def manifest(tag: str) -> bytes:
        return json.dumps({"layers": layers}).encode()

    async def blob(digest: str, max_size: int) -> bytes:
        read.append(digest)
        return b"payload"

    found = await fetch_signatures("sha256-x.sig", manifest, blob, lambda err: False)
    assert len(found) == count == len(read)


async def test_fetch_signatures_of_an_unsigned_digest() -> None:
    class Missing(Exception):
        pass

    async def manifest(tag: str) -> bytes:
        raise Missing(tag)

    async def blob(digest: str, max_size: int) -> bytes:
        raise AssertionError("no blob of an unsigned digest is read")

    assert await fetch_signatures("sha256-x.sig", manifest, blob, lambda err: isinstance(err, Missing)) == []


# A signature made by the real cosign v2.6.5 (`cosign sign --key … --tlog-upload=false` of a chart pushed by
# `helm push` to docker-registry): its public key, the chart's manifest digest, the signature image's
# manifest and the payload blob, as the registry served them.
VECTOR = json.loads((Path(__file__).resolve().parents[2] / "data" / "cosign-signature.json").read_text())


async def _vector_signatures() -> list[SignedPayload]:
    payload_bytes = base64.b64decode(VECTOR["payload_base64"])

    async def manifest(tag: str) -> bytes:
        assert tag == signature_tag(VECTOR["manifest_digest"])
        return json.dumps(VECTOR["signature_manifest"]).encode()

    async def blob(digest: str, max_size: int) -> bytes:
        assert digest == "sha256:" + hashlib.sha256(payload_bytes).hexdigest()
        return payload_bytes

    return await fetch_signatures(signature_tag(VECTOR["manifest_digest"]), manifest, blob, lambda err: False)


@pytest.mark.parametrize(("digest", "trusted", "expected"), [
    ("signed", "cosign's key", None),
    (OTHER, "cosign's key", "a trusted signature names another manifest digest"),
    ("signed", "another key", "no signature verifies with the trusted public keys"),
], ids=["cosign's signature verifies", "of another digest", "by another key"])
async def test_a_signature_made_by_cosign(digest: str, trusted: str, expected: str | None) -> None:
    public = VECTOR["public_key"].encode() if trusted == "cosign's key" else pem(key("ecdsa-p256"))
    keys = load_public_keys({"cosign.pub": public}, "ns/keys")
    signed = await _vector_signatures()
    assert len(signed) == 1
    assert check_signatures(signed, keys, VECTOR["manifest_digest"] if digest == "signed" else digest) == expected
