"""The document MAC: SHA-512 over every value's text, in tree order, compared in constant time.

SOPS hashes the cleartext of all values (or only the encrypted ones with `mac_only_encrypted`, seeded with a
fixed prefix so the two modes never collide), comments excluded, and stores the upper-case hex digest
encrypted under the data key with `lastmodified` (RFC 3339) as additional data. Recomputing it after
decryption catches values that were reordered, added, removed or changed in cleartext outside sops.
The digest is never put into an error: it is a hash of the plaintext.
"""

from __future__ import annotations

import hashlib
import hmac

from headwater.kustomize.sops.cipher import decrypt_value
from headwater.kustomize.sops.errors import MacMismatch, MalformedValueError
from headwater.kustomize.sops.tree import Value, value_to_mac_bytes

# sha256(b"sops"): the prefix SOPS hashes first when only encrypted values are authenticated.
MAC_ONLY_ENCRYPTED_SEED = hashlib.sha256(b"sops").digest()


class MacAccumulator:
    """Collects value texts in walk order."""

    def __init__(self, *, only_encrypted: bool) -> None:
        self._hash = hashlib.sha512()
        self.only_encrypted = only_encrypted
        if only_encrypted:
            self._hash.update(MAC_ONLY_ENCRYPTED_SEED)

    def add(self, value: Value, *, encrypted: bool) -> None:
        """Account for one leaf (comments and, in `mac_only_encrypted` mode, cleartext values are skipped)."""
        if self.only_encrypted and not encrypted:
            return
        self._hash.update(value_to_mac_bytes(value))

    def hexdigest(self) -> str:
        return self._hash.hexdigest().upper()


def verify_mac(computed: str, stored_mac: str, data_key: bytes, lastmodified: str) -> None:
    """Decrypt the stored MAC and compare it with the recomputed one; raise `MacMismatch` if they differ."""
    if not stored_mac:
        raise MacMismatch("MAC mismatch: the document has no MAC (sops.mac is empty)", path="sops.mac")
    stored = decrypt_value(stored_mac, data_key, lastmodified, "sops.mac")
    if not isinstance(stored, str):
        raise MalformedValueError("sops.mac does not decrypt to a string", path="sops.mac")
    if not hmac.compare_digest(stored.encode("utf-8", "surrogateescape"), computed.encode()):
        raise MacMismatch(
            "MAC mismatch: the document's integrity check failed (values were changed, reordered, added or "
            "removed outside sops)",
            path="sops.mac",
        )
