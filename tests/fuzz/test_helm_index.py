"""The Helm repository index parser (`headwater.source.helm.index`), through its public interface only.

`parse_index(data, source=...)` gives a checked index or `InvalidIndex` whose message starts with the
source; never another exception, a hang or a crash, whatever the bytes (JSON, YAML, alias bombs, deep
nesting, wrong types). What it accepts must also serialise (`to_json`), be read back as the same entries,
and answer `chart_version` with a version or `ChartVersionNotFound`.
"""

from __future__ import annotations

import contextlib
import json

from hypothesis import strategies as st

from headwater.source import semver
from headwater.source.helm.index import ChartVersionNotFound, InvalidIndex, chart_version, parse_index, to_json
from tests.fuzz.harness import corpus_bytes, fuzz, mutated, seeded

TARGET = "helm_index"
SOURCE = "HelmRepository ns/repo index.yaml"
TOKENS = [b"apiVersion: v1\n", b"entries:\n", b"  - ", b"name: ", b"version: ", b"urls: ", b"&a", b"*a", b"{", b"}",
          b"[", b"]", b'"', b"null", b"1.0", b"true", b"dependencies:", b"maintainers:", b"\n  ", b"\t"]

version_text = st.one_of(st.sampled_from(["1.0.0", "v1.2", "0.0.1-rc.1+b", "x", "", "1.0.0+a"]), st.text(max_size=8))
entry = st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "a/b", ""]), "version": version_text},
                              optional={"urls": st.lists(st.text(max_size=5), max_size=2),
                                        "created": st.sampled_from(["2024-01-01T00:00:00Z", "x"])})
documents = st.fixed_dictionaries({"apiVersion": st.sampled_from(["v1", ""])},
                                  optional={"entries": st.dictionaries(st.sampled_from(["a", "b"]),
                                                                       st.lists(entry, max_size=4), max_size=2)}
                                  ).map(lambda d: json.dumps(d).encode())


def check(data: bytes) -> str:
    try:
        index = parse_index(data, source=SOURCE, max_size=1 << 20)
    except InvalidIndex as err:
        assert str(err).startswith(f"{SOURCE}"), f"the error does not name the source: {err}"
        return "InvalidIndex"
    stored = to_json(index)
    again = parse_index(stored, source=SOURCE)
    assert again.entries.keys() == index.entries.keys()
    for name in index.entries:
        assert [v["version"] for v in again.versions(name)] == [v["version"] for v in index.versions(name)]
        for wanted in ("*", ">=0.0.0-0", "1.x"):
            with contextlib.suppress(ChartVersionNotFound, semver.SemverError):
                chart_version(index, name, wanted)
    return "index"


def test_helm_index() -> None:
    seeds = corpus_bytes(TARGET)
    strategy = seeded(seeds, documents, mutated(seeds, TOKENS))
    fuzz(TARGET, strategy, check, allowed=(), seeds=seeds, max_examples=150, dump=lambda data: (".yaml", data))
