"""Decryption keys from a Kustomization's `spec.decryption.secretRef`, and recovery of a file's data key.

As in kustomize-controller: Secret entries ending in `.agekey` hold age identities (`AGE-SECRET-KEY-1…`,
one per line, `#` comments allowed) and entries ending in `.asc` hold armored OpenPGP private keys without
a passphrase. A file's data key is encrypted once per recipient; every key in the set is tried against every
recipient (age first, then OpenPGP, like SOPS) until one opens it. With several key groups the data key is
a Shamir split and a part is recovered per group. KMS recipients (AWS, GCP, Azure, Vault) are recognised
but not supported, and say so. Nothing here logs, and no error carries key material: entries are named by
their Secret key, keys by their public recipient or fingerprint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyrage
import pysequoia
from pysequoia.packet import PacketPile, Tag

from headwater.kustomize.sops.errors import KeyImportError, NoMatchingKeyError
from headwater.kustomize.sops.metadata import KEY_TYPES, MasterKey, Metadata
from headwater.kustomize.sops.shamir import combine

AGE_KEY_SUFFIX = ".agekey"
PGP_KEY_SUFFIX = ".asc"
# Entries kustomize-controller reads for KMS providers; recognised so that errors can say they are unsupported.
KMS_ENTRIES = ("sops.aws-kms", "sops.azure-kv", "sops.gcp-kms", "sops.vault-token")
DATA_KEY_SIZE = 32
# gpg imports every armored block of a file; PacketPile reads one, so blocks are split first.
_ARMOR_BLOCK = re.compile(rb"-----BEGIN PGP [A-Z ]+-----.*?-----END PGP [A-Z ]+-----", re.DOTALL)


def go_ext(name: str) -> str:
    """Go's `filepath.Ext`: from the last dot of the last path element (`.agekey` of `.agekey` too)."""
    dot = name.rfind(".")
    if dot < 0 or "/" in name[dot:]:
        return ""
    return name[dot:]


@dataclass(frozen=True, slots=True)
class AgeKey:
    """An age X25519 identity and its public recipient."""

    identity: Any = None
    recipient: str = ""

    def __repr__(self) -> str:
        return f"AgeKey({self.recipient})"


@dataclass(frozen=True, slots=True)
class PgpKey:
    """An OpenPGP secret key; `decryptor` is None when the key is passphrase-protected or cannot decrypt."""

    fingerprint: str
    decryptor: Any = None
    problem: str = ""

    def __repr__(self) -> str:
        return f"PgpKey({self.fingerprint})"


def parse_age_identities(text: str, entry: str) -> list[AgeKey]:
    """Every identity in an age identity file; any other non-comment line is an error (as in age)."""
    keys: list[AgeKey] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not stripped.startswith("AGE-SECRET-KEY-1"):
            raise KeyImportError(f"entry {entry!r}, line {number}: not an age X25519 identity "
                                 "(plugin and SSH identities are not supported)")
        try:
            identity = pyrage.x25519.Identity.from_str(stripped)
        except Exception:
            raise KeyImportError(f"entry {entry!r}, line {number}: malformed age identity") from None
        keys.append(AgeKey(identity, str(identity.to_public())))
    if not keys:
        raise KeyImportError(f"entry {entry!r}: no age identities found")
    return keys


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def parse_pgp_keys(data: bytes, entry: str) -> list[PgpKey]:
    """Every secret key in an armored (or binary) OpenPGP keyring; public-only certificates are skipped."""
    blocks = _ARMOR_BLOCK.findall(data) or [data]
    packets: list[Any] = []
    for block in blocks:
        try:
            packets.extend(PacketPile.from_bytes(block))
        except Exception:
            raise KeyImportError(f"entry {entry!r}: not an OpenPGP key (armored private key expected)") from None
    certificates: list[list[Any]] = []
    for packet in packets:
        if packet.tag in (Tag.SecretKey, Tag.PublicKey):
            certificates.append([])
        if certificates:
            certificates[-1].append(packet)
    keys: list[PgpKey] = []
    for certificate in certificates:
        if certificate[0].tag != Tag.SecretKey:
            continue
        fingerprint = (certificate[0].fingerprint or "").upper()
        try:
            tsk = pysequoia.Tsk.from_packets(certificate)
        except Exception:
            raise KeyImportError(f"entry {entry!r}: malformed OpenPGP secret key {fingerprint}") from None
        try:
            keys.append(PgpKey(fingerprint, tsk.decryptor()))
        except Exception as error:
            reason = _first_line(error)
            problem = "is passphrase-protected" if "encrypted" in reason else "has no usable encryption subkey"
            keys.append(PgpKey(fingerprint, None, problem))
    if not keys:
        raise KeyImportError(f"entry {entry!r}: no OpenPGP secret keys found")
    return keys


class KeySet:
    """The keys a Kustomization may decrypt with. Its repr shows public identifiers only."""

    def __init__(self, age: Iterable[AgeKey] = (), pgp: Iterable[PgpKey] = (), kms_entries: Iterable[str] = ()):
        self.age: tuple[AgeKey, ...] = tuple(age)
        self.pgp: tuple[PgpKey, ...] = tuple(pgp)
        self.kms_entries: tuple[str, ...] = tuple(kms_entries)

    @classmethod
    def from_secret_data(cls, data: Mapping[str, bytes]) -> KeySet:
        """Keys from a decryption Secret's (base64-decoded) data, selected by entry name like Flux does."""
        age: list[AgeKey] = []
        pgp: list[PgpKey] = []
        kms: list[str] = []
        for name in sorted(data):
            value = data[name]
            extension = go_ext(name)
            if extension == AGE_KEY_SUFFIX:
                try:
                    text = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise KeyImportError(f"entry {name!r}: age identities must be UTF-8 text") from None
                age.extend(parse_age_identities(text, name))
            elif extension == PGP_KEY_SUFFIX:
                pgp.extend(parse_pgp_keys(value, name))
            elif name in KMS_ENTRIES:
                kms.append(name)
        return cls(age, pgp, kms)

    def merged(self, other: KeySet) -> KeySet:
        """Both sets' keys (e.g. the Kustomization's Secret plus a controller-wide age Secret)."""
        return KeySet(self.age + other.age, self.pgp + other.pgp, self.kms_entries + other.kms_entries)

    def __bool__(self) -> bool:
        return bool(self.age or self.pgp)

    def __repr__(self) -> str:
        return (f"KeySet(age={[k.recipient for k in self.age]}, pgp={[k.fingerprint for k in self.pgp]}, "
                f"kms_entries={list(self.kms_entries)})")

    # -- data key recovery --------------------------------------------------------------------------------

    def _open_age(self, master: MasterKey) -> bytes | None:
        if not self.age:
            return None
        try:
            result = pyrage.decrypt(master.encrypted_key.encode(), [key.identity for key in self.age])
        except Exception:
            return None
        return bytes(result)

    def _open_pgp(self, master: MasterKey) -> bytes | None:
        usable = [key for key in self.pgp if key.decryptor is not None]
        # The key named by the recipient's fingerprint first; any other key may still hold the subkey used.
        usable.sort(key=lambda key: key.fingerprint != master.identifier)
        for key in usable:
            try:
                result = pysequoia.decrypt(master.encrypted_key.encode(), decryptor=key.decryptor)
            except Exception:
                continue
            if result.bytes is not None:
                return bytes(result.bytes)
        return None

    def _open_group(self, group: Sequence[MasterKey]) -> bytes | None:
        order = {"age": 0, "pgp": 1}
        for master in sorted(group, key=lambda key: order.get(key.kind, 2)):
            if master.kind == "age":
                part = self._open_age(master)
            elif master.kind == "pgp":
                part = self._open_pgp(master)
            else:
                part = None
            if part is not None:
                return part
        return None

    def _failure(self, metadata: Metadata, source: str, detail: str) -> NoMatchingKeyError:
        recipients = "; ".join(metadata.recipients()) or "no recipients"
        provided = f"{len(self.age)} age identit{'y' if len(self.age) == 1 else 'ies'} and "
        provided += f"{len(self.pgp)} OpenPGP key{'' if len(self.pgp) == 1 else 's'}"
        notes = [f"OpenPGP key {key.fingerprint} {key.problem}" for key in self.pgp if key.problem]
        unsupported = sorted({KEY_TYPES[key.kind][0] if key.kind in KEY_TYPES else key.kind
                              for group in metadata.key_groups for key in group if key.kind not in ("age", "pgp")})
        if unsupported:
            notes.append(f"{', '.join(unsupported)} recipients are not supported by this decryptor")
        message = f"{source}: cannot get the sops data key: {detail}; tried {provided}; encrypted for: {recipients}"
        if notes:
            message += " (" + "; ".join(notes) + ")"
        return NoMatchingKeyError(message)

    def decrypt_data_key(self, metadata: Metadata, source: str = "document") -> bytes:
        """The 32-byte data key of a document, or `NoMatchingKeyError` listing who it is encrypted for."""
        parts = [self._open_group(group) for group in metadata.key_groups]
        recovered = [part for part in parts if part is not None]
        if len(metadata.key_groups) > 1:
            threshold = max(metadata.shamir_threshold, 2)
            if len(recovered) < threshold:
                raise self._failure(metadata, source, f"{len(recovered)} of {len(metadata.key_groups)} key groups "
                                    f"could be opened, {threshold} are needed (Shamir threshold)")
            try:
                data_key = combine(recovered)
            except ValueError as error:
                raise self._failure(metadata, source, f"the Shamir parts do not combine ({error})") from None
        else:
            if not recovered:
                raise self._failure(metadata, source, "none of the provided keys can decrypt it")
            data_key = recovered[0]
        if len(data_key) != DATA_KEY_SIZE:
            raise self._failure(metadata, source, "the recovered data key has the wrong size")
        return data_key
