"""The status patch is a JSON merge patch from the stored status: what a reconcile removes is removed."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.runtime.status import merge_patch

pytestmark = pytest.mark.unit


def apply(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396, as the apiserver applies a merge patch."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = apply(result[key], value)
        else:
            result[key] = value
    return result


@pytest.mark.parametrize(("old", "new"), [
    pytest.param({"failures": 2, "upgradeFailures": 2, "history": [1]}, {"history": [1, 2]}, id="a cleared counter"),
    pytest.param({"artifact": {"url": "u", "metadata": {"a": "1"}}}, {"artifact": {"url": "u"}},
                 id="a nested key"),
    pytest.param({"inventory": {"entries": [1]}}, {"inventory": {}}, id="an emptied map"),
    pytest.param({}, {"conditions": [{"type": "Ready"}]}, id="from nothing"),
    pytest.param({"a": {"b": 1}}, {"a": 5}, id="a map replaced by a scalar"),
])
def test_applying_the_patch_gives_the_new_status(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert apply(old, merge_patch(old, new)) == new
