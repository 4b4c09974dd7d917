"""Walking a document tree: decrypt what the rules say is encrypted, and hash every value for the MAC.

This follows SOPS' `Tree.Decrypt` step by step, because the MAC depends on it: values are visited in
document order, the key path (list items share their list's path) is the AES-GCM additional data, comments
seen so far on each nesting level feed the comment rules, and comments are decrypted but never hashed.
A value the rules say is encrypted but that is not in `ENC[...]` form is an error, as in SOPS.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.kustomize.sops.cipher import decrypt_value, looks_encrypted
from headwater.kustomize.sops.errors import FormatError, MalformedValueError, SopsError
from headwater.kustomize.sops.goscalars import GoTime
from headwater.kustomize.sops.mac import MacAccumulator
from headwater.kustomize.sops.metadata import Metadata
from headwater.kustomize.sops.tree import Branch, Comment, Value


def _where(path: Sequence[str]) -> str:
    return ".".join(path) if path else "<document root>"


class TreeDecryptor:
    """Decrypts branches in place and accumulates the MAC.

    `decide_by_form` is for YAML files that use comment rules: this decryptor's YAML reader does not keep
    comments, so such files are decrypted wherever a value is in `ENC[...]` form (the MAC still covers every
    value, so nothing can be slipped in that way).
    """

    def __init__(self, metadata: Metadata, data_key: bytes, *, decide_by_form: bool = False) -> None:
        self.metadata = metadata
        self.data_key = data_key
        self.decide_by_form = decide_by_form
        self.mac = MacAccumulator(only_encrypted=metadata.mac_only_encrypted)

    def _is_encrypted(self, value: Value, path: Sequence[str], comments: Sequence[Sequence[str]]) -> bool:
        is_comment = isinstance(value, Comment)
        if self.decide_by_form:
            text = value.text if isinstance(value, Comment) else value
            return isinstance(text, str) and looks_encrypted(text)
        return self.metadata.should_be_encrypted(path, comments, is_comment)

    def _leaf(self, value: Value, path: Sequence[str], comments: Sequence[Sequence[str]]) -> Value:
        encrypted = self._is_encrypted(value, path, comments)
        where = _where(path)
        additional_data = ":".join(path) + ":"
        if isinstance(value, Comment):
            if not encrypted:
                return value
            try:
                opened = decrypt_value(value.text, self.data_key, additional_data, where)
            except SopsError:
                return value  # a comment written in cleartext (older SOPS versions did not encrypt comments)
            return opened if isinstance(opened, Comment) else Comment(str(opened))
        result: Value = value
        if encrypted:
            if not isinstance(value, str):
                raise MalformedValueError(
                    f"the value at {where!r} should be encrypted but is a cleartext {type(value).__name__}",
                    path=where)
            result = decrypt_value(value, self.data_key, additional_data, where)
        if not isinstance(result, Comment):
            self.mac.add(result, encrypted=encrypted)
        return result

    def _value(self, value: Value, path: list[str], comments: list[list[str]]) -> Value:
        if isinstance(value, Branch):
            self._branch(value, path, comments)
            return value
        if isinstance(value, list):
            self._sequence(value, path, comments)
            return value
        if value is None:
            return None
        if isinstance(value, str | int | float | bytes | GoTime | Comment):
            return self._leaf(value, path, comments)
        raise FormatError(f"cannot walk a value of type {type(value).__name__} at {_where(path)!r}")

    def _sequence(self, values: list[Value], path: list[str], comments: list[list[str]]) -> None:
        comments = [*comments, []]
        for index, value in enumerate(values):
            is_comment = isinstance(value, Comment)
            if isinstance(value, Comment):
                comments[-1].append(value.text)
            values[index] = self._value(value, path, comments)
            if not is_comment:
                comments[-1] = []

    def _branch(self, branch: Branch, path: list[str], comments: list[list[str]]) -> None:
        comments = [*comments, []]
        for item in branch:
            if isinstance(item.key, Comment):
                comments[-1].append(item.key.text)
                opened = self._leaf(item.key, path, comments)
                item.key = opened if isinstance(opened, Comment) else Comment(str(opened))
                continue
            if not isinstance(item.key, str):
                raise FormatError(f"the document has a non-string key under {_where(path)!r}; SOPS supports "
                                  "string keys only")
            value_is_comment = isinstance(item.value, Comment)
            if isinstance(item.value, Comment):
                comments[-1].append(item.value.text)
            item.value = self._value(item.value, [*path, item.key], comments)
            if not value_is_comment:
                comments[-1] = []

    def decrypt(self, branches: Sequence[Branch]) -> str:
        """Decrypt every branch (document) in place; returns the recomputed MAC (upper-case hex)."""
        for branch in branches:
            self._branch(branch, [], [])
        return self.mac.hexdigest()
