"""Our own SOPS decryptor, for `spec.decryption.provider: sops` (no `sops` binary, no gpg at runtime).

kustomize-controller decrypts SOPS-encrypted manifests, Secret data entries and secretGenerator sources
with age and OpenPGP keys taken from `spec.decryption.secretRef`. This package reads the SOPS format itself
(YAML, JSON, dotenv, binary), recovers the data key with `pyrage`/`pysequoia`, decrypts values with
AES-256-GCM, and recomputes the MAC. Cleartext exists only in memory and never reaches logs or errors.

    keys = KeySet.from_secret_data(secret_data)          # *.agekey / *.asc entries
    cleartext = decrypt_document(data, "yaml", keys)     # bytes, as `sops -d` would print them
    obj = decrypt_resource(obj, keys, verify_mac=False)  # a built object, as Flux decrypts it
    generator_sources(kustomization) / decrypt_source(...)  # secretGenerator inputs, before the build
"""

from headwater.kustomize.sops.detect import (
    decryption_required_message,
    detect_format,
    format_for_path,
    is_encrypted_secret,
    is_sops_encrypted,
)
from headwater.kustomize.sops.document import FORMATS, Format, decrypt_document
from headwater.kustomize.sops.errors import (
    FormatError,
    IntegrityError,
    KeyImportError,
    MacMismatch,
    MalformedValueError,
    MetadataError,
    NoMatchingKeyError,
    SopsError,
    UnsupportedError,
)
from headwater.kustomize.sops.generators import decrypt_source, generator_sources
from headwater.kustomize.sops.keys import KeySet
from headwater.kustomize.sops.resource import decrypt_resource, is_decryption_disabled

__all__ = [
    "FORMATS",
    "Format",
    "FormatError",
    "IntegrityError",
    "KeyImportError",
    "KeySet",
    "MacMismatch",
    "MalformedValueError",
    "MetadataError",
    "NoMatchingKeyError",
    "SopsError",
    "UnsupportedError",
    "decrypt_document",
    "decrypt_resource",
    "decrypt_source",
    "decryption_required_message",
    "detect_format",
    "format_for_path",
    "generator_sources",
    "is_decryption_disabled",
    "is_encrypted_secret",
    "is_sops_encrypted",
]
