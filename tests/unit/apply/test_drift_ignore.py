"""Drift-ignore rules: target matching, label selectors, strip vs adopt."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.apply.drift_ignore import IgnoreRule, apply_rules, parse_rules, pointer_tokens, selects

pytestmark = pytest.mark.unit


def deployment(replicas: int, managed: list[dict[str, Any]] | None = None, labels: dict[str, str] | None = None
               ) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "apps", "labels": labels or {"app": "web"},
                         "managedFields": managed or []},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": "a"}]}}}}


def manager(name: str, operation: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"manager": name, "operation": operation, "fieldsV1": fields}


REPLICAS = {"f:spec": {"f:replicas": {}}}


@pytest.mark.parametrize(
    ("target", "matches"),
    [
        ({}, True),
        ({"kind": "Deployment"}, True),
        ({"kind": "Deploy.*"}, True),
        ({"kind": "Deploy"}, False),  # full match, not search
        ({"group": "apps", "version": "v1", "name": "web", "namespace": "apps"}, True),
        ({"namespace": "other"}, False),
        ({"labelSelector": "app=web"}, True),
        ({"labelSelector": "app!=web"}, False),
        ({"labelSelector": "app in (web, api)"}, True),
        ({"labelSelector": "app notin (web)"}, False),
        ({"labelSelector": "tier"}, False),
        ({"labelSelector": "!tier"}, True),
        ({"annotationSelector": "x=y"}, False),
    ],
)
def test_target_selection(target: dict[str, str], matches: bool) -> None:
    assert IgnoreRule(("/spec/replicas",), target).matches(deployment(1)) is matches


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [("a=1,b=2", {"a": "1", "b": "2"}, True), ("a=1,b=2", {"a": "1"}, False), ("a==1", {"a": "1"}, True),
     ("", {}, True), ("a in (1,2),!c", {"a": "2"}, True), ("a in (1,2),!c", {"a": "2", "c": ""}, False)],
)
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert selects(selector, labels) is expected


def test_pointer_tokens_unescape() -> None:
    assert pointer_tokens("/metadata/annotations/a~1b~0c") == ["metadata", "annotations", "a/b~c"]
    assert pointer_tokens("/") == []


def test_a_field_applied_by_another_manager_is_stripped() -> None:
    live = deployment(7, [manager("kustomize-controller", "Apply", REPLICAS), manager("hpa", "Apply", REPLICAS)])
    result = apply_rules(deployment(2), live, parse_rules([{"paths": ["/spec/replicas"]}]), "kustomize-controller")
    assert "replicas" not in result["spec"]
    assert result["spec"]["template"] == deployment(2)["spec"]["template"]


def test_a_field_only_we_apply_adopts_the_live_value() -> None:
    live = deployment(7, [manager("kustomize-controller", "Apply", REPLICAS),
                          manager("kubectl-edit", "Update", REPLICAS)])
    result = apply_rules(deployment(2), live, parse_rules([{"paths": ["/spec/replicas"]}]), "kustomize-controller")
    assert result["spec"]["replicas"] == 7


def test_on_creation_and_for_other_targets_the_desired_object_is_untouched() -> None:
    rules = parse_rules([{"paths": ["/spec/replicas"], "target": {"kind": "StatefulSet"}}])
    desired = deployment(2)
    assert apply_rules(desired, None, rules, "kustomize-controller") is desired
    assert apply_rules(desired, deployment(9), rules, "kustomize-controller") is desired
