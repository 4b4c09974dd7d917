"""Git ref resolution (`headwater.source.gitref.resolve_ref`) over hostile advertisements and specs.

The remote's `ls-remote` advertisement is untrusted (any name, any id, bytes that are not UTF-8) and so is
`spec.ref`. The answer is a FetchPlan whose commit is a full object id and whose revision parses, or a
GitRefError; never a bare ValueError or UnicodeDecodeError.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from headwater.artifact.revision import hash_algorithm, parse_revision
from headwater.source.gitref import FetchPlan, GitRefError, resolve_ref
from tests.fuzz.harness import corpus_json, fuzz, seeded

TARGET = "gitref"
SHA = "0123456789abcdef0123456789abcdef01234567"

ids = st.one_of(st.just(SHA), st.text("0123456789abcdefABCDEFxyz", max_size=66), st.just(None), st.text(max_size=8))
names = st.one_of(
    st.sampled_from(["HEAD", "refs/heads/master", "refs/heads/main", "refs/tags/v1.0.0", "refs/tags/v1.0.0^{}",
                     "refs/tags/v2.0.0-rc.1", "refs/pull/1/head", "refs/tags/1.2", "refs/tags/v1.2.3+b"]),
    st.text(max_size=30).map(lambda s: "refs/tags/" + s),
    st.text(max_size=20),
)
advertised = st.dictionaries(names, ids, max_size=8)
fields = st.one_of(st.none(), st.sampled_from(["main", "master", "v1.0.0", ">=1.0", "*", "refs/pull/1/head", SHA,
                                                "/x", "x/", ">=|1"]), st.text(max_size=12), st.integers())
ref = st.one_of(st.none(), st.dictionaries(st.sampled_from(["branch", "tag", "semver", "name", "commit"]), fields))


def _as_bytes(adv: dict[str, Any], garble: bytes) -> dict[bytes, bytes | None]:
    out: dict[bytes, bytes | None] = {}
    for name, sha in adv.items():
        key = name.encode("utf-8", "surrogateescape") + garble
        out[key] = None if sha is None else sha.encode("utf-8", "surrogateescape") + garble
    return out


case = st.builds(dict, advertised=advertised, ref=ref, garble=st.one_of(st.none(), st.binary(max_size=3)))


def _load(seed: dict[str, Any]) -> dict[str, Any]:
    return {"garble": None, **seed}


def check(case: dict[str, Any]) -> FetchPlan:
    adv: Any = case["advertised"] if case["garble"] is None else _as_bytes(case["advertised"], case["garble"])
    plan = resolve_ref(adv, case["ref"])
    hash_algorithm(plan.commit)
    revision = parse_revision(plan.revision)
    assert revision.hex == plan.commit.lower()
    return plan


def test_gitref() -> None:
    seeds = [_load(seed) for seed in corpus_json(TARGET)]
    fuzz(TARGET, seeded(seeds, case), check, allowed=(GitRefError,), seeds=seeds, max_examples=200,
         dump=lambda c: (".json", json.dumps({"advertised": c["advertised"], "ref": c["ref"]}).encode()))
