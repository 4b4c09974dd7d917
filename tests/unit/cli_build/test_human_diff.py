"""The field-by-field report of `diff kustomization` (dyff's human format), case by case."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.kustomize.human_diff import compare, count, render

pytestmark = pytest.mark.unit

POD = {"containers": [{"name": "web", "image": "web:1", "ports": [{"containerPort": 80}]}]}


@pytest.mark.parametrize(("old", "new", "expected"), [
    pytest.param({"a": 1}, {"a": 1}, "", id="equal: nothing"),
    pytest.param({"spec": {"replicas": 1}}, {"spec": {"replicas": 2}},
                 "\nspec.replicas\n  ± value change\n    - 1\n    + 2\n\n", id="value"),
    pytest.param({"a": "1"}, {"a": 1},
                 "\na\n  ± type change from string to int\n    - 1\n    + 1\n\n", id="type"),
    pytest.param({"data": {"a": "x"}}, {"data": {"a": "x", "b": "y", "c": "z"}},
                 "\ndata\n  + two map entries added:\n    b: y\n    c: z\n\n", id="map entries added"),
    pytest.param({"data": {"a": "x", "b": "y"}}, {"data": {"b": "y"}},
                 "\ndata\n  - one map entry removed:\n    a: x\n\n", id="map entry removed"),
    pytest.param({"a": 1}, {"b": 1},
                 "\n(root level)\n  - one map entry removed:\n    a: 1\n  + one map entry added:\n    b: 1\n\n",
                 id="root level"),
    pytest.param({"spec": POD}, {"spec": {"containers": [{**POD["containers"][0], "image": "web:2"}]}},
                 "\nspec.containers.web.image\n  ± value change\n    - web:1\n    + web:2\n\n",
                 id="named list entries are addressed by name"),
    pytest.param({"args": ["a", "b"]}, {"args": ["a", "b", "c"]},
                 "\nargs\n  + one list entry added:\n    - c\n\n", id="scalar list entry added"),
    pytest.param({"args": ["a", "b"]}, {"args": ["b", "a"]},
                 "\nargs\n  ⇆ order changed\n    - a, b\n    + b, a\n\n", id="order"),
    pytest.param({"ports": [{"port": 80}]}, {"ports": [{"port": 81}]},
                 "\nports.0.port\n  ± value change\n    - 80\n    + 81\n\n", id="unnamed maps by index"),
    pytest.param({"env": [{"name": "A"}]}, {"env": [{"name": "A"}, {"name": "B", "value": "2"}]},
                 "\nenv\n  + one list entry added:\n    - name: B\n      value: '2'\n\n", id="named entry added"),
    pytest.param({"data": {"f": "a\nb\n"}}, {"data": {"f": "a\nc\n"}},
                 "\ndata.f\n  ± value change\n    - a\n      b\n    + a\n      c\n\n", id="multi-line value"),
])
def test_render(old: Any, new: Any, expected: str) -> None:
    assert render(compare(old, new)) == expected


def test_differences_come_outer_first_in_document_order() -> None:
    old = {"metadata": {"labels": {"a": "1"}}, "spec": {"x": 1, "y": 1}}
    new = {"metadata": {"labels": {"a": "2"}}, "spec": {"x": 2, "y": 2, "z": 0}}
    assert [d.dotted for d in compare(old, new)] == ["metadata.labels.a", "spec", "spec.x", "spec.y"]


@pytest.mark.parametrize(("n", "expected"), [(1, "one map entry"), (2, "two map entries"), (13, "13 map entries")])
def test_count(n: int, expected: str) -> None:
    assert count(n, "map entry", "map entries") == expected
