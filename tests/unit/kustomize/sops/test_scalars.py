"""Go's scalar rules (strconv, time, go-yaml typing) and the format helpers, without the sops binary."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
import yaml

from headwater.kustomize.sops.format_dotenv import load_dotenv
from headwater.kustomize.sops.format_json import go_json_string
from headwater.kustomize.sops.format_yaml import emit_yaml, load_yaml
from headwater.kustomize.sops.goscalars import (
    GoTime,
    go_atoi,
    go_format_float,
    go_json_float,
    go_parse_bool,
    go_parse_float,
    parse_rfc3339,
    parse_yaml_timestamp,
    yaml_resolve_plain,
)
from headwater.kustomize.sops.mac import MAC_ONLY_ENCRYPTED_SEED
from headwater.kustomize.sops.shamir import combine
from headwater.kustomize.sops.tree import value_to_mac_bytes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("value", "f", "g", "json_text"), [
    (1.5, "1.5", "1.5", "1.5"),
    (3.0, "3", "3", "3"),
    (-0.0, "-0", "-0", "-0"),
    (1e21, "1000000000000000000000", "1e+21", "1e+21"),
    (1.5e-7, "0.00000015", "1.5e-07", "1.5e-7"),
    (1234567.0, "1234567", "1.234567e+06", "1234567"),
    (0.0001, "0.0001", "0.0001", "0.0001"),
    (12345678901234567890.0, "12345678901234567000", "1.2345678901234567e+19", "12345678901234567000"),
])
def test_go_float_text(value: float, f: str, g: str, json_text: str) -> None:
    assert go_format_float(value, "f") == f
    assert go_format_float(value, "g") == g
    assert go_json_float(value) == json_text


def test_go_parsers() -> None:
    assert go_atoi("007") == 7
    assert go_atoi("+5") == 5
    assert go_atoi("1_0") is None
    assert go_atoi(" 1") is None
    assert go_atoi(str(2**63)) is None
    assert go_parse_float("1e5") == 1e5
    assert go_parse_float("Inf") == math.inf
    assert go_parse_float("1_0") is None
    assert go_parse_float("0x1p-2") == 0.25
    assert go_parse_float("1e400") is None
    assert go_parse_bool("t") is True
    assert go_parse_bool("FALSE") is False
    assert go_parse_bool("yes") is None


@pytest.mark.parametrize(("text", "expected"), [
    ("yes", "yes"), ("on", "on"), ("n", "n"), ("true", True), ("False", False), ("~", None), ("", None),
    ("0o17", 15), ("017", 15), ("0x1F", 31), ("1_000", 1000), ("-0b101", -5), ("09", 9.0), ("1e5", 1e5),
    (".5", 0.5), ("1.50", 1.5), ("+.inf", math.inf), ("1:30", "1:30"), ("3.11.0", "3.11.0"), ("<<", "<<"),
    ("2001-12-14", GoTime(2001, 12, 14)), ("2001-13-14", "2001-13-14"),
])
def test_go_yaml_typing_of_plain_scalars(text: str, expected: object) -> None:
    assert yaml_resolve_plain(text) == expected


def test_times() -> None:
    stamp = parse_yaml_timestamp("2001-12-14T21:59:43.10-05:00")
    assert stamp is not None
    assert stamp.rfc3339nano() == "2001-12-14T21:59:43.1-05:00"
    assert stamp.rfc3339() == "2001-12-14T21:59:43-05:00"
    assert parse_yaml_timestamp("2001-12-14 21:59:43.10") == GoTime(2001, 12, 14, 21, 59, 43, 100_000_000)
    assert parse_yaml_timestamp("2001-12-14T21:59:43") is None  # 'T' form needs a zone
    assert parse_rfc3339("2024-01-01T00:00:00+00:00") == GoTime(2024, 1, 1)
    assert parse_rfc3339("2024-02-30T00:00:00Z") is None
    assert parse_rfc3339("2024-01-01") is None
    assert value_to_mac_bytes(GoTime(2024, 1, 1, nanosecond=5)) == b"2024-01-01T00:00:00.000000005Z"


def test_mac_bytes_follow_go() -> None:
    assert [value_to_mac_bytes(v) for v in (True, False, 7, 1.0, 2.5, "é", b"\xff")] == [
        b"True", b"False", b"7", b"1", b"2.5", "é".encode(), b"\xff"]
    assert hashlib.sha256(b"sops").digest() == MAC_ONLY_ENCRYPTED_SEED
    assert MAC_ONLY_ENCRYPTED_SEED.hex().startswith("8a3fd2ad54ce6652")


def test_go_json_string_escaping() -> None:
    assert go_json_string('<a href="x">&</a>') == '"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"'
    assert go_json_string("\b\f\n\r\t\x01\u2028é") == '"\\b\\f\\n\\r\\t\\u0001\\u2028é"'
    assert go_json_string(b"\xffok".decode("utf-8", "surrogateescape")) == '"\\ufffdok"'


def test_yaml_output_quotes_what_would_change_type() -> None:
    strings = ["yes", "n", "0o17", "1e5", "1_000", "2001-12-14", "", "~", "<<", "3", ".5", "true", "null",
               "- x", "a: b", "plain text", "multi\nline\n"]
    branches, _ = load_yaml(json.dumps({"values": strings}).encode())  # JSON: every string quoted
    emitted = emit_yaml(branches)
    assert yaml.safe_load(emitted) == {"values": strings}  # YAML 1.1 reader
    again, _ = load_yaml(emitted)
    assert again == branches  # go-yaml typing


def test_yaml_refuses_non_string_keys_and_sequences(monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.kustomize.sops import FormatError, format_yaml

    monkeypatch.setattr(format_yaml, "MAX_NODES", 10_000)

    with pytest.raises(FormatError, match="string keys only"):
        load_yaml(b"1: a\n")
    with pytest.raises(FormatError, match="sequences are not supported"):
        load_yaml(b"- a\n")
    with pytest.raises(FormatError, match=r"too many nodes|nested too deeply|aliases expand|nested deeper"):
        load_yaml(b"a: &a [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
            f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
            .encode() for i in range(7)))


def test_dotenv_metadata_is_unflattened() -> None:
    branches, metadata = load_dotenv(b"A=1\nsops_age__list_0__map_recipient=age1x\n"
                                     b"sops_age__list_0__map_enc=line1\\nline2\nsops_mac_only_encrypted=true\n")
    assert [item.key for item in branches[0]] == ["A"]
    assert metadata == {"age": [{"recipient": "age1x", "enc": "line1\nline2"}], "mac_only_encrypted": "true"}


def test_shamir_combine_rejects_bad_shares() -> None:
    with pytest.raises(ValueError, match="at least two"):
        combine([b"\x01\x02"])
    with pytest.raises(ValueError, match="same x coordinate"):
        combine([b"\x01\x02", b"\x03\x02"])
    with pytest.raises(ValueError, match="same length"):
        combine([b"\x01\x02", b"\x03\x04\x05"])
