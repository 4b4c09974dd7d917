"""SOPS documents (`headwater.kustomize.sops`): decrypted bytes, or a SopsError that says what is wrong.

The corpus holds real `sops -e` output (YAML, JSON, dotenv, binary; a Secret with `encrypted_regex`)
encrypted for a fuzz-only age key (`sops-fuzz.agekey`), so mutations reach past the data key into the
values, the crypt rules and the MAC. Beyond the bytes, structured mutations replace or delete one value of
the parsed document (metadata included). The decryptor turns any exception it did not expect into a
SopsError "unexpected ..." (so nothing holding cleartext escapes); the fuzzer treats that as a finding,
since the property is the module's own error types with a message that names the problem.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from headwater.kustomize.sops import KeySet, SopsError, decrypt_document, decrypt_resource, detect_format
from tests.fuzz.harness import corpus_files, fuzz, mutated, seeded

TARGET = "sops"
KEY = (Path(__file__).parent / "sops-fuzz.agekey").read_bytes()
FORMATS = {".yaml": "yaml", ".json": "json", ".env": "dotenv", ".bin": "binary"}
SUFFIXES = {v: k for k, v in FORMATS.items()}
REPLACEMENTS = [None, "", 0, -1, 2**70, 1.5, float("inf"), True, [], {}, "x", "é" * 3, "a" * 2000,
                "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
                "ENC[AES256_GCM,data:,iv:,tag:,type:int]", "ENC[AES256_GCM,data:!!,iv:x,tag:y,type:bytes]",
                "ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:float]",
                "ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:comment]",
                "ENC[AES128_GCM,data:AA==]", "ENC[", "2024-13-45T25:61:61Z", "2024-01-01T00:00:00+99:99", "3.x",
                "(a|aa)+$", "[", "^(data|stringData)$", "-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n"
                "-----END AGE ENCRYPTED FILE-----\n", "1" * 5000, "0x" + "f" * 80]


def _seeds() -> list[tuple[str, bytes]]:
    return [(FORMATS[p.suffix], p.read_bytes()) for p in corpus_files(TARGET) if p.suffix in FORMATS]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_paths(child, (*prefix, index)))
    return out


def _tree(fmt: str, data: bytes) -> Any:
    if data.count(b"[") + data.count(b"{") > 500:  # PyYAML's pure-Python scanner is quadratic in flow depth
        return None
    try:
        return yaml.safe_load(data) if fmt == "yaml" else json.loads(data)
    except (ValueError, yaml.YAMLError, RecursionError):
        return None


@st.composite
def structured(draw: st.DrawFn, trees: list[tuple[str, str]]) -> tuple[str, bytes]:
    """A YAML or JSON document (given as its format and JSON text) with one value replaced or deleted,
    written back in its format."""
    fmt, text = draw(st.sampled_from(trees))
    tree = json.loads(text)
    paths = _paths(tree)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        parent = tree
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(st.one_of(st.sampled_from(REPLACEMENTS), st.text(max_size=10)))
        paths = _paths(tree)
        if not paths:
            break
    if fmt == "yaml":
        text = yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)
    else:
        text = json.dumps(tree, indent="\t", allow_nan=True)
    return fmt, text.encode()


def _resource(data: bytes) -> dict[str, Any] | None:
    obj = _tree("yaml", data)
    return obj if isinstance(obj, dict) and all(isinstance(k, str) for k in obj) else None


def _hidden(err: SopsError) -> None:
    assert not re.search(r": unexpected \w+ while decrypting", str(err)), f"an exception was hidden: {err}"


def check(case: tuple[str, bytes, str, bool, bytes]) -> str:
    fmt, data, output, verify, key = case
    assert detect_format(data) in (None, "yaml", "json", "dotenv", "binary", "ini")
    try:
        keys = KeySet.from_secret_data({"fuzz.agekey": key, "other.asc": key})
    except SopsError as err:
        _hidden(err)
        keys = KeySet.from_secret_data({"fuzz.agekey": KEY})
    outcome = "decrypted"
    try:
        assert isinstance(decrypt_document(data, fmt, keys, output_format=output, verify_mac=verify), bytes)
    except SopsError as err:
        _hidden(err)
        outcome = type(err).__name__
    obj = _resource(data) if fmt == "yaml" else None
    if obj is not None:
        try:
            decrypt_resource(obj, keys, verify_mac=verify)
        except SopsError as err:
            _hidden(err)
    return outcome


def test_sops() -> None:
    seeds = _seeds()
    trees = [(fmt, json.dumps(_tree(fmt, data), default=str)) for fmt, data in seeds
             if fmt != "dotenv" and isinstance(_tree(fmt, data), dict)]
    documents = seeded(seeds, structured(trees), st.tuples(st.sampled_from([s[0] for s in seeds]),
                                                           mutated([s[1] for s in seeds])))
    for fmt, data in seeds[:5]:  # warm pyrage/pysequoia up in the parent: every forked child inherits it (10x)
        check((fmt, data, fmt, True, KEY))
    keys = st.one_of(st.just(KEY), mutated([KEY], [b"AGE-SECRET-KEY-1", b"-----BEGIN PGP PRIVATE KEY BLOCK-----"]))
    cases = st.builds(lambda doc, out, verify, key: (doc[0], doc[1], out or doc[0], verify, key), documents,
                      st.sampled_from([None, "yaml", "json", "dotenv", "binary"]), st.booleans(), keys)
    fuzz(TARGET, cases, check, allowed=(), seeds=[(f, d, f, True, KEY) for f, d in seeds], max_examples=100,
         dump=lambda case: (SUFFIXES[case[0]], case[1]))
