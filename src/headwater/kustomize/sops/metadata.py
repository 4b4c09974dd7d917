"""The `sops` metadata block: key groups, MAC, `lastmodified`, and which values are encrypted.

Read the way SOPS' `stores.Metadata.ToInternal` reads it, with its checks (one crypt rule at most, RFC 3339
dates, at least one key), so a file SOPS would refuse is refused here with an error naming the file. The
crypt rules (`unencrypted_suffix`, `encrypted_suffix`, `unencrypted_regex`, `encrypted_regex` and the
comment regexes) decide, per key path, whether a value must be decrypted, exactly as SOPS decides it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from headwater.kustomize.sops.errors import MetadataError, UnsupportedError
from headwater.kustomize.sops.goscalars import GoTime, parse_rfc3339
from headwater.kustomize.sops.linear_regex import LinearRegex, UnsupportedRegex, compile_linear

DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"

# Key types SOPS knows, in the order of its decryption preference (age, then pgp, then the rest), with the
# fields that identify a key (shown in errors) and whether a `created_at` date is required.
KEY_TYPES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "age": ("age recipient", ("recipient",), False),
    "pgp": ("PGP fingerprint", ("fp",), True),
    "kms": ("AWS KMS key", ("arn",), True),
    "gcp_kms": ("GCP KMS key", ("resource_id",), True),
    "azure_kv": ("Azure Key Vault key", ("vault_url", "name", "version"), True),
    "hc_vault": ("HashiCorp Vault key", ("vault_address", "engine_path", "key_name"), True),
    "hckms": ("HuaweiCloud KMS key", ("key_id",), True),
}


@dataclass(frozen=True, slots=True)
class MasterKey:
    """One recipient of the data key (or of a Shamir part of it) and the data key encrypted for it."""

    kind: str
    identifier: str
    encrypted_key: str

    def describe(self) -> str:
        label = KEY_TYPES[self.kind][0] if self.kind in KEY_TYPES else self.kind
        return f"{label} {self.identifier}"


@dataclass(frozen=True, slots=True)
class Metadata:
    """The parsed `sops` block."""

    key_groups: tuple[tuple[MasterKey, ...], ...]
    lastmodified: str  # normalised like Go's time.Format(time.RFC3339): the MAC's additional data
    mac: str
    version: str = ""
    shamir_threshold: int = 0
    mac_only_encrypted: bool = False
    unencrypted_suffix: str = ""
    encrypted_suffix: str = ""
    unencrypted_regex: str = ""
    encrypted_regex: str = ""
    unencrypted_comment_regex: str = ""
    encrypted_comment_regex: str = ""
    _compiled: dict[str, LinearRegex] = field(default_factory=dict, compare=False, repr=False)

    @property
    def uses_comment_rules(self) -> bool:
        return bool(self.unencrypted_comment_regex or self.encrypted_comment_regex)

    def recipients(self) -> list[str]:
        """Every recipient, for error messages: public identifiers only."""
        return [key.describe() for group in self.key_groups for key in group]

    def _matches(self, rule: str, subject: str) -> bool:
        pattern = self._compiled.get(rule)
        if pattern is None:
            return False
        return pattern.search(subject)

    def should_be_encrypted(self, path: Sequence[str], comments: Sequence[Sequence[str]], is_comment: bool) -> bool:
        """SOPS' `shouldBeEncrypted`: the rules apply to every key on the path; later rules override."""
        encrypted = True
        if self.unencrypted_suffix and any(part.endswith(self.unencrypted_suffix) for part in path):
            encrypted = False
        if self.encrypted_suffix:
            encrypted = any(part.endswith(self.encrypted_suffix) for part in path)
        if self.unencrypted_regex and any(self._matches("unencrypted_regex", part) for part in path):
            encrypted = False
        if self.encrypted_regex:
            encrypted = any(self._matches("encrypted_regex", part) for part in path)
        if self.unencrypted_comment_regex and any(
            self._matches("unencrypted_comment_regex", line) for lines in comments for line in lines
        ):
            encrypted = False
        if self.encrypted_comment_regex:
            encrypted = False
            last_group = len(comments) - 1
            for i, lines in enumerate(comments):
                for j, line in enumerate(lines):
                    # The comment line that carries the marker is itself left in cleartext.
                    if is_comment and i == last_group and j == len(lines) - 1:
                        continue
                    if self._matches("encrypted_comment_regex", line):
                        return True
        return encrypted


def _plain_string(raw: Mapping[str, object], name: str, source: str, *, required: bool = False) -> str:
    value = raw.get(name)
    if value is None:
        if required:
            raise MetadataError(f"{source}: malformed sops metadata: '{name}' is missing")
        return ""
    if isinstance(value, GoTime):  # an unquoted date in YAML
        return value.rfc3339nano()
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MetadataError(f"{source}: malformed sops metadata: '{name}' must be a string")
    if isinstance(value, float) and not math.isfinite(value):
        raise MetadataError(f"{source}: malformed sops metadata: '{name}' must be a string")
    return str(value)


def _rfc3339(text: str, what: str, source: str) -> GoTime:
    parsed = parse_rfc3339(text)
    if parsed is None:
        raise MetadataError(f"{source}: malformed sops metadata: {what} {text!r} is not an RFC 3339 time")
    return parsed


def _master_keys(raw: Mapping[str, object], source: str) -> tuple[MasterKey, ...]:
    keys: list[MasterKey] = []
    # SOPS builds a group in this order: the KMS kinds, then pgp, then age.
    for kind in ("kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp", "age"):
        entries = raw.get(kind)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise MetadataError(f"{source}: malformed sops metadata: '{kind}' must be a list")
        _, id_fields, dated = KEY_TYPES[kind]
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise MetadataError(f"{source}: malformed sops metadata: '{kind}' entries must be mappings")
            if dated:
                _rfc3339(_plain_string(entry, "created_at", source), f"{kind} created_at", source)
            identifier = "/".join(_plain_string(entry, name, source) for name in id_fields)
            keys.append(MasterKey(kind, identifier.upper() if kind == "pgp" else identifier,
                                  _plain_string(entry, "enc", source)))
    return tuple(keys)


def _key_groups(raw: Mapping[str, object], source: str) -> tuple[tuple[MasterKey, ...], ...]:
    if any(raw.get(kind) for kind in KEY_TYPES):
        return (_master_keys(raw, source),)
    groups = raw.get("key_groups")
    if groups:
        if not isinstance(groups, list) or not all(isinstance(group, Mapping) for group in groups):
            raise MetadataError(f"{source}: malformed sops metadata: 'key_groups' must be a list of mappings")
        return tuple(_master_keys(group, source) for group in groups)
    raise MetadataError(f"{source}: malformed sops metadata: no keys found (no age, pgp or KMS recipients)")


def _int(raw: Mapping[str, object], name: str, source: str) -> int:
    value = raw.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise MetadataError(f"{source}: malformed sops metadata: '{name}' must be an integer")
    return int(value)


def _bool(raw: Mapping[str, object], name: str, source: str) -> bool:
    value = raw.get(name, False)
    if value is None:
        return False
    if isinstance(value, str):
        return value == "true"
    if not isinstance(value, bool):
        raise MetadataError(f"{source}: malformed sops metadata: '{name}' must be a boolean")
    return value


_RULES = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex",
          "unencrypted_comment_regex", "encrypted_comment_regex")


def parse_metadata(raw: object, source: str) -> Metadata:
    """Validate and parse the `sops` block (already converted to plain Python values)."""
    if raw is None:
        raise MetadataError(f"{source}: sops metadata not found (the document is not SOPS-encrypted)")
    if not isinstance(raw, Mapping):
        raise MetadataError(f"{source}: malformed sops metadata: 'sops' must be a mapping")
    lastmodified = _rfc3339(_plain_string(raw, "lastmodified", source, required=True), "lastmodified", source)
    mac = _plain_string(raw, "mac", source)
    if not mac:
        raise MetadataError(f"{source}: malformed sops metadata: 'mac' is missing or empty")
    rules = {name: _plain_string(raw, name, source) for name in _RULES}
    if sum(1 for value in rules.values() if value) > 1:
        raise MetadataError(f"{source}: malformed sops metadata: cannot use more than one of "
                            "encrypted_suffix, unencrypted_suffix, encrypted_regex or unencrypted_regex")
    if not any(rules.values()):
        rules["unencrypted_suffix"] = DEFAULT_UNENCRYPTED_SUFFIX
    compiled: dict[str, LinearRegex] = {}
    for name in _RULES[2:]:
        if rules[name]:
            try:
                compiled[name] = compile_linear(rules[name])  # the file's own pattern: linear time, as RE2
            except UnsupportedRegex as err:
                raise UnsupportedError(f"{source}: the sops {name} {rules[name][:200]!r} is not a regular "
                                       f"expression this decryptor can evaluate ({err})") from None
    return Metadata(
        key_groups=_key_groups(raw, source),
        lastmodified=lastmodified.rfc3339(),
        mac=mac,
        version=_plain_string(raw, "version", source),
        shamir_threshold=_int(raw, "shamir_threshold", source),
        mac_only_encrypted=_bool(raw, "mac_only_encrypted", source),
        _compiled=compiled,
        **rules,
    )
