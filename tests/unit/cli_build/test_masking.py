"""Secret masking of `build` (SOPS values) and `diff` (every value), case by case as Flux does it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from headwater.kustomize.masking import (
    DIFF_MASK,
    DIFF_MASK_AFTER,
    DIFF_MASK_BEFORE,
    SOPS_MASK,
    MaskingError,
    has_sops_mask,
    mask_secret_diff,
    mask_secret_values,
    mask_sops,
)

pytestmark = pytest.mark.unit

MASK_B64 = base64.b64encode(SOPS_MASK.encode()).decode()
DOCKER_MASK = json.dumps({"mask": SOPS_MASK}, separators=(",", ":"))
SOPS_BLOCK = {"mac": "ENC[AES256_GCM,data:abc,type:str]", "version": "3.9.0"}
ENCRYPTED = "ENC[AES256_GCM,data:Zm9v,iv:aXY=,tag:dGFn,type:str]"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, **fields}


@pytest.mark.parametrize(("given", "expected"), [
    pytest.param(secret(data={"a": b64("plain")}, stringData={"b": "plain"}),
                 secret(data={"a": b64("plain")}, stringData={"b": "plain"}), id="plain values are kept"),
    pytest.param(secret(data={"a": b64(ENCRYPTED), "b": b64("x")}, sops=SOPS_BLOCK),
                 secret(data={"a": MASK_B64, "b": MASK_B64}), id="whole document: every value, sops removed"),
    pytest.param(secret(stringData={"a": ENCRYPTED}, sops=SOPS_BLOCK),
                 secret(stringData={"a": SOPS_MASK}), id="whole document: stringData masked plainly"),
    pytest.param(secret(type="kubernetes.io/dockerconfigjson", data={".dockerconfigjson": b64(ENCRYPTED)},
                        sops=SOPS_BLOCK),
                 secret(type="kubernetes.io/dockerconfigjson", data={".dockerconfigjson": b64(DOCKER_MASK)}),
                 id="docker config: a JSON mask that still validates"),
    pytest.param(secret(data={"a": b64("sops " + ENCRYPTED), "b": b64("plain")}),
                 secret(data={"a": MASK_B64, "b": b64("plain")}), id="per value: only encrypted values"),
    pytest.param(secret(stringData={"a": "sops " + ENCRYPTED, "b": "plain"}),
                 secret(stringData={"a": MASK_B64, "b": "plain"}), id="per value stringData: flux's b64 mask"),
    pytest.param({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}, "sops": SOPS_BLOCK},
                 {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}}, id="other kinds lose sops only"),
])
def test_mask_sops(given: dict[str, Any], expected: dict[str, Any]) -> None:
    before = json.dumps(given, sort_keys=True)
    assert mask_sops(given) == expected
    assert json.dumps(given, sort_keys=True) == before, "the input is not modified"


def test_mask_sops_names_a_secret_with_bad_base64() -> None:
    with pytest.raises(MaskingError, match=r"Secret s .*data\.a is not base64"):
        mask_sops(secret(data={"a": "%%%"}))


def test_has_sops_mask() -> None:
    assert has_sops_mask(secret(data={"a": MASK_B64}))
    assert has_sops_mask(secret(stringData={"a": SOPS_MASK}))
    assert not has_sops_mask(secret(data={"a": b64("plain")}))


@pytest.mark.parametrize(("live", "merged", "live_after", "merged_after"), [
    pytest.param({"a": "1"}, {"a": "2"}, {"a": DIFF_MASK_BEFORE}, {"a": DIFF_MASK_AFTER}, id="changed"),
    pytest.param({"a": "1"}, {"a": "1"}, {"a": DIFF_MASK}, {"a": DIFF_MASK}, id="same"),
    pytest.param({"a": "1"}, {"b": "2"}, {"a": DIFF_MASK}, {"b": DIFF_MASK}, id="renamed key"),
    pytest.param(None, {"b": "2"}, None, {"b": DIFF_MASK}, id="no live data"),
    pytest.param({"a": "1"}, None, {"a": DIFF_MASK}, None, id="no merged data"),
])
def test_mask_secret_diff(live: dict[str, str] | None, merged: dict[str, str] | None,
                          live_after: dict[str, str] | None, merged_after: dict[str, str] | None) -> None:
    old = secret(**({"data": live} if live is not None else {}))
    new = secret(**({"data": merged} if merged is not None else {}))
    mask_secret_diff(old, new)
    assert old.get("data") == live_after
    assert new.get("data") == merged_after


@pytest.mark.parametrize(("given", "expected"), [
    pytest.param(secret(data={"a": b64("plain")}), secret(data={"a": DIFF_MASK}), id="plain data masked"),
    pytest.param(secret(stringData={"a": "plain"}), secret(stringData={"a": DIFF_MASK}), id="plain stringData"),
    pytest.param(secret(data={"a": MASK_B64, "b": b64("x")}), secret(data={"a": MASK_B64, "b": DIFF_MASK}),
                 id="SOPS mask kept, the rest masked"),
    pytest.param(secret(stringData={"a": DOCKER_MASK}), secret(stringData={"a": DOCKER_MASK}),
                 id="docker-config SOPS mask kept"),
    pytest.param({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "visible"}},
                 {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "visible"}}, id="not a Secret"),
])
def test_mask_secret_values(given: dict[str, Any], expected: dict[str, Any]) -> None:
    assert mask_secret_values(given) == expected
