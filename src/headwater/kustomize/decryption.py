"""SOPS decryption in the Kustomization pipeline, where kustomize-controller does it.

Two places: secretGenerator sources (files, envs) and patch files are decrypted inside the private copy
of the artifact before kustomize runs, so generated Secrets hold cleartext; then every built object that
is SOPS-encrypted (whole document, or a Secret's data entry) is decrypted, each value's AES-GCM tag
checked (the MAC cannot be: kustomize changed the object). Without
`spec.decryption`, an encrypted Secret is refused rather than applied as ciphertext. Cleartext never leaves
memory except in the throw-away build directory, and never reaches messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headwater.api import safeyaml
from headwater.kustomize.build import KUSTOMIZATION_FILES
from headwater.kustomize.sops import (
    KeySet,
    SopsError,
    decrypt_resource,
    decrypt_source,
    decryption_required_message,
    generator_sources,
    is_encrypted_secret,
)


class DecryptionError(Exception):
    reason = "BuildFailed"


def decrypt_generator_sources(root: Path, keys: KeySet) -> int:
    """Decrypt, in place under `root`, every encrypted file a kustomization feeds to a generator or patch."""
    decrypted = 0
    for path in sorted(root.rglob("*")):
        if path.name not in KUSTOMIZATION_FILES or not path.is_file() or path.is_symlink():
            continue
        try:
            kustomization = safeyaml.load(path.read_text(), source=str(path.relative_to(root))) or {}
        except (safeyaml.YAMLInputError, UnicodeDecodeError):
            continue  # the build reports invalid kustomization files
        if not isinstance(kustomization, dict):
            continue
        for relative, fmt in generator_sources(kustomization):
            source = (path.parent / relative).resolve()
            if root.resolve() not in source.parents or not source.is_file():
                continue
            label = str(source.relative_to(root.resolve()))
            try:
                cleartext = decrypt_source(source.read_bytes(), fmt, keys, source=label)
            except SopsError as err:
                raise DecryptionError(f"decryption failed for '{label}': {err}") from err
            if cleartext is not None:
                source.write_bytes(cleartext)
                decrypted += 1
    return decrypted


def decrypt_objects(objects: list[dict[str, Any]], keys: KeySet | None) -> list[dict[str, Any]]:
    """Built objects decrypted (value tags verified); without keys, encrypted Secrets are an error."""
    result = []
    for obj in objects:
        if keys is None:
            if is_encrypted_secret(obj):
                raise DecryptionError(decryption_required_message(obj))
            result.append(obj)
            continue
        try:
            # As in Flux, no MAC check here: kustomize changed the object (namespace, labels); every value's
            # own AES-GCM tag still detects tampering. Generator sources are checked with their MAC.
            result.append(dict(decrypt_resource(obj, keys, verify_mac=False)))
        except SopsError as err:
            raise DecryptionError(str(err)) from err
    return result
