"""The in-sync memo: an object is known unchanged only while both its desired form and live version hold."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.apply.unchanged import UnchangedMemo, digest

pytestmark = pytest.mark.unit

KEY = ("https://127.0.0.1:6443", "", "kustomize-controller", "v1", "ConfigMap", "apps", "settings")


def live(version: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "settings", "namespace": "apps"}
    if version is not None:
        meta["resourceVersion"] = version
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def test_digest_ignores_key_order_and_sees_values() -> None:
    assert digest({"a": 1, "b": {"c": 2, "d": 3}}) == digest({"b": {"d": 3, "c": 2}, "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})
    assert digest({"a": "1"}) != digest({"a": 1})


@pytest.mark.parametrize(("remembered", "asked", "expected"), [
    pytest.param(("d1", "10"), ("d1", "10"), True, id="same desired, same live version"),
    pytest.param(("d1", "10"), ("d1", "11"), False, id="someone else changed the live object"),
    pytest.param(("d1", "10"), ("d2", "10"), False, id="the desired object changed"),
    pytest.param(("d1", "10"), ("d1", None), False, id="live object gone"),
    pytest.param(None, ("d1", "10"), False, id="never verified"),
])
def test_known_in_sync(remembered: tuple[str, str] | None, asked: tuple[str, str | None], expected: bool) -> None:
    memo = UnchangedMemo()
    if remembered is not None:
        memo.remember(KEY, remembered[0], live(remembered[1]))
    assert memo.known_in_sync(KEY, asked[0], live(asked[1]) if asked[1] else None) is expected
    assert memo.hits == (1 if expected else 0)


def test_remembering_without_a_version_forgets() -> None:
    memo = UnchangedMemo()
    memo.remember(KEY, "d1", live("10"))
    memo.remember(KEY, "d1", live(None))
    assert len(memo) == 0


def test_bounded_least_recently_used_first() -> None:
    memo = UnchangedMemo(limit=2)
    keys = [(*KEY[:-1], name) for name in ("a", "b", "c")]
    memo.remember(keys[0], "d", live("1"))
    memo.remember(keys[1], "d", live("1"))
    assert memo.known_in_sync(keys[0], "d", live("1"))  # a is now the most recently used
    memo.remember(keys[2], "d", live("1"))
    assert len(memo) == 2
    assert not memo.known_in_sync(keys[1], "d", live("1"))
    assert memo.known_in_sync(keys[0], "d", live("1"))
    assert memo.known_in_sync(keys[2], "d", live("1"))
