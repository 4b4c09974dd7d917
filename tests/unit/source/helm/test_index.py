"""The Helm index reader: Flux's acceptance rules, order, resolution, and its refusals of hostile input."""

from __future__ import annotations

import json
import re

import pytest

from headwater.source.helm.index import ChartVersionNotFound, InvalidIndex, chart_version, parse_index, to_json

INDEX = b"""apiVersion: v1
generated: "2024-05-01T00:00:00Z"
entries:
  podinfo:
  - {name: podinfo, version: 6.0.0, urls: [podinfo-6.0.0.tgz], created: "2024-01-01T00:00:00Z"}
  - {name: podinfo, version: 6.1.0, urls: [podinfo-6.1.0.tgz]}
  - {name: podinfo, version: 6.2.0-rc.1, urls: [podinfo-6.2.0-rc.1.tgz]}
  - {name: podinfo, version: 5.9.1, urls: [podinfo-5.9.1.tgz]}
  broken:
  - {name: broken, version: not-semver}
  - {name: a/b, version: 1.0.0}
  - {name: broken, version: 1.0.0, type: plugin}
  - {name: broken, version: 2.0.0, dependencies: [{name: x, alias: "bad alias"}]}
  - {name: broken, version: 3.0.0}
"""


def test_entries_are_validated_and_sorted_newest_first() -> None:
    index = parse_index(INDEX)
    assert [v["version"] for v in index.versions("podinfo")] == ["6.2.0-rc.1", "6.1.0", "6.0.0", "5.9.1"]
    assert [v["version"] for v in index.versions("broken")] == ["3.0.0"]
    assert index.dropped == 4
    assert all(v["apiVersion"] == "v1" for v in index.versions("podinfo"))


@pytest.mark.parametrize(("wanted", "expected"), [
    ("", "6.1.0"), ("*", "6.1.0"), ("6.0.x", "6.0.0"), (">=5.0.0 <6.0.0", "5.9.1"), ("6.2.0-rc.1", "6.2.0-rc.1"),
    (">=6.2.0-0", "6.2.0-rc.1"), ("~6.0", "6.0.0"), ("^5", "5.9.1"),
])
def test_chart_version_selects_as_flux_does(wanted: str, expected: str) -> None:
    assert chart_version(parse_index(INDEX), "podinfo", wanted)["version"] == expected


@pytest.mark.parametrize(("name", "wanted", "message"), [
    ("podinfo", "9.*", "no 'podinfo' chart with version matching '9.*' found"),
    ("absent", "*", "no chart name found"),
])
def test_chart_version_misses_are_reported(name: str, wanted: str, message: str) -> None:
    with pytest.raises(ChartVersionNotFound, match=message):
        chart_version(parse_index(INDEX), name, wanted)


def test_json_input_is_read_and_unknown_fields_ignored_as_go_json_does() -> None:
    document = {"apiVersion": "v1", "extra": 1, "entries": {"a": [{"name": "a", "version": "1.0.0", "odd": True}]}}
    index = parse_index(json.dumps(document).encode())
    assert index.versions("a")[0]["version"] == "1.0.0"


def test_the_stored_form_is_flux_json() -> None:
    index = parse_index(b"apiVersion: v1\nentries:\n  z: []\n  a:\n  - name: a\n    version: 1.0.0\n"
                        b"    description: <b>&</b>\n    urls: [a.tgz]\n")
    stored = json.loads(to_json(index))
    assert list(stored) == ["apiVersion", "generated", "entries"]
    assert list(stored["entries"]) == ["a", "z"]
    assert list(stored["entries"]["a"][0]) == ["name", "version", "description", "apiVersion", "urls", "created"]
    assert stored["entries"]["a"][0]["created"] == "0001-01-01T00:00:00Z"
    assert b"\\u003cb\\u003e\\u0026\\u003c/b\\u003e" in to_json(index)
    reread = parse_index(to_json(index)).versions("a")[0]
    assert {k: v for k, v in reread.items() if k != "created"} == index.versions("a")[0]


ALIAS_BOMB = ("apiVersion: v1\nanchors:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "\n".join(
    f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)) + "\nentries: {}\n").encode()


@pytest.mark.parametrize(("data", "message"), [
    (b"", "index.yaml: empty index.yaml file"),
    (b"entries: {}\n", "index.yaml: no API version specified"),
    (b"- a\n- b\n", "index.yaml: the index is not a mapping"),
    (b"apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0.0, colour: red}\n",
     "unknown field 'entries.a[0].colour'"),
    (b"apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0}\n",
     "field 'entries.a[0].version' must be a string, not float"),
    (b"apiVersion: v1\nentries:\n  a: {name: a}\n", "field 'entries.a' must be a list of chart versions"),
    (b"apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0.0, urls: x}\n",
     "field 'entries.a[0].urls' must be a list"),
    (b"apiVersion: v1\nentries: [a]\n", "field 'entries' must be a mapping"),
    (ALIAS_BOMB, "aliases"),
    (b"apiVersion: v1\nentries: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested deeper"),
    (b"\xff\xfeapiVersion", "not UTF-8"),
])
def test_refusals_name_the_file_and_field(data: bytes, message: str) -> None:
    with pytest.raises(InvalidIndex, match=re.escape(message)) as refused:
        parse_index(data, source="index.yaml")
    assert str(refused.value).startswith("index.yaml")


def test_an_oversized_index_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(InvalidIndex, match="larger than the maximum index size of 64 bytes"):
        parse_index(b"apiVersion: v1\nentries: {}\n" + b"#" * 100, max_size=64)
