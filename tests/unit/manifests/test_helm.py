"""The Helm generators' rules and go-yaml v2's printing, as data tables (the whole objects are golden cases)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.manifests import GenerateError, dump, helm_chart, helm_release, helm_repository
from headwater.manifests.goyaml import go_float, go_ordered
from headwater.manifests.helm import json_round_trip, merge_maps, merge_values_files

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "chart or chart-ref is required"),
    ({"chart": "podinfo", "chart_ref": "HelmChart/x"}, "cannot use --chart in combination with --chart-ref"),
    ({"chart": "podinfo"}, "chart source is required"),
    ({"chart": "podinfo", "source": "foobar/podinfo"},
     "source kind 'foobar' is not supported, must be one of: HelmRepository, GitRepository, Bucket"),
    ({"chart": "podinfo", "source": "podinfo"}, "invalid helm chart source 'podinfo', must be in format"),
    ({"chart_ref": "foobar/podinfo"},
     "chart reference kind 'foobar' is not supported, must be one of: OCIRepository, HelmChart, ExternalArtifact"),
    ({"chart_ref": "OCIRepository/"}, "invalid chart reference 'OCIRepository/': the name is missing"),
    ({"chart_ref": "HelmChart/x", "reconcile_strategy": "Always"},
     "'Always' is an invalid reconcile strategy(valid: Revision, ChartVersion)"),
    ({"chart_ref": "HelmChart/x", "crds": "create"},
     "unsupported upgrade CRDs policy 'create', must be one of: Skip, Create, CreateReplace"),
    ({"chart_ref": "HelmChart/x", "values_from": ["values"]},
     "invalid Kubernetes object reference 'values', must be in format <kind>/<name>"),
    ({"chart_ref": "HelmChart/x", "values_from": ["Deployment/x"]},
     "reference kind 'Deployment' is not supported, must be one of: Secret, ConfigMap"),
    ({"chart_ref": "HelmChart/x", "interval": "soon"}, "invalid --interval 'soon'"),
    ({"chart": "c", "source": "HelmRepository/r", "chart_interval": "soon"}, "invalid --chart-interval 'soon'"),
    ({"chart_ref": "HelmChart/x", "depends_on": ["a/b/c"]}, "invalid --depends-on 'a/b/c'"),
    ({"chart_ref": "HelmChart/x", "target_namespace": "Apps"}, "invalid --target-namespace 'Apps'"),
])
def test_helm_release_refusals(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(GenerateError) as caught:
        helm_release("podinfo", "flux-system", **kwargs)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("kwargs", "path", "expected"), [
    ({"chart_ref": "ocirepo/podinfo"}, ("chartRef",), {"kind": "OCIRepository", "name": "podinfo"}),
    ({"chart_ref": "ExternalArtifact/chart.team"}, ("chartRef",),
     {"kind": "ExternalArtifact", "name": "chart", "namespace": "team"}),
    ({"chart": "c", "source": "bucket/b"}, ("chart", "spec", "sourceRef"), {"kind": "Bucket", "name": "b"}),
    ({"chart_ref": "HelmChart/x", "values_from": ["secret/a", "CONFIGMAP/b"]}, ("valuesFrom",),
     [{"kind": "Secret", "name": "a"}, {"kind": "ConfigMap", "name": "b"}]),
    ({"chart_ref": "HelmChart/x", "crds": "Skip"}, ("install",), {"crds": "Create"}),
    ({"chart_ref": "HelmChart/x", "crds": "Skip"}, ("upgrade",), {"crds": "Skip"}),
    ({"chart_ref": "HelmChart/x", "values": {}}, ("values",), {}),
    ({"chart_ref": "HelmChart/x", "create_target_namespace": True}, ("install",), {"createNamespace": True}),
])
def test_helm_release_fields(kwargs: dict[str, Any], path: tuple[str, ...], expected: Any) -> None:
    node: Any = helm_release("podinfo", "flux-system", **kwargs)["spec"]
    for key in path:
        node = node[key]
    assert node == expected


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"url": ""}, "url is required"),
    ({"url": "git://example.com/charts"}, "url scheme 'git' not supported, can be: http, https and oci"),
    ({"url": "https://"}, "url 'https://' has no host"),
    ({"url": "oci://r.example.com/c", "oci_provider": "ibm"},
     "source OCI provider 'ibm' is not supported, must be one of: generic, aws, azure, gcp"),
    ({"url": "https://r.example.com", "timeout": "0s"}, "invalid --fetch-timeout '0s': must be positive"),
])
def test_helm_repository_refusals(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(GenerateError, match=message):
        helm_repository("charts", "flux-system", **kwargs)


def test_pass_credentials_needs_a_secret_and_provider_needs_oci() -> None:
    assert "passCredentials" not in helm_repository("c", "ns", url="https://x.io", pass_credentials=True)["spec"]
    assert "provider" not in helm_repository("c", "ns", url="https://x.io", oci_provider="aws")["spec"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"source": "", "chart": "c"}, "chart source is required"),
    ({"source": "HelmRepository/r", "chart": ""}, "chart name or path is required"),
    ({"source": "oci/r", "chart": "c"},
     "source kind 'oci' is not supported, must be one of: HelmRepository|GitRepository|Bucket"),
    ({"source": "HelmRepository/r.other", "chart": "c"}, "a HelmChart reads a source of its own namespace"),
    ({"source": "HelmRepository/r", "chart": "c", "verify_provider": "notary"},
     "source OCI verify provider 'notary' is not supported, must be one of: cosign"),
    ({"source": "HelmRepository/r", "chart": "c", "verify_secret_ref": "keys"},
     "a verification provider must be specified when a secret is specified"),
    ({"source": "HelmRepository/r", "chart": "c", "verify_subject": "x"},
     "a verification provider must be specified when OIDC issuer/subject is specified"),
])
def test_helm_chart_refusals(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(GenerateError, match=message):
        helm_chart("podinfo", "flux-system", **kwargs)


# -- values ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("base", "overlay", "merged"), [
    ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ({"a": {"x": 1, "y": 1}}, {"a": {"y": 2}}, {"a": {"x": 1, "y": 2}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),  # lists are replaced, not merged
    ({"a": {"x": 1}}, {"a": "flat"}, {"a": "flat"}),
    ({"a": "flat"}, {"a": {"x": 1}}, {"a": {"x": 1}}),
    ({"a": {"x": 1}}, {"a": None}, {"a": None}),
])
def test_merge_maps_is_flux(base: dict[str, Any], overlay: dict[str, Any], merged: dict[str, Any]) -> None:
    assert merge_maps(base, overlay) == merged


@pytest.mark.parametrize(("value", "expected"), [
    (1, 1), (1.0, 1), (2.5, 2.5), (True, True), (None, None), ("1", "1"),
    (12345678901234567890, 12345678901234567000),  # float64's shortest digits, as Go's JSON round trip
    (2**53 + 1, 2**53),
    (1e21, 1e21),
    ({1: "a", False: "b", None: "c", 2.5: "d"}, {"1": "a", "false": "b", "null": "c", "2.5": "d"}),  # keys: strings
    ({"k": [1, {"n": 2.0}]}, {"k": [1, {"n": 2}]}),
])
def test_values_take_go_json_round_trip(value: Any, expected: Any) -> None:
    assert json_round_trip(value, "values.yaml") == expected


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(GenerateError, match="unsupported value"):
        json_round_trip({"x": float("inf")}, "values.yaml")


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n- b\n", "unmarshaling values from {path} failed"),
    ("a: [\n", "converting values to JSON from {path} failed"),
])
def test_bad_values_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(text)
    with pytest.raises(GenerateError, match=re.escape(message.format(path=path))):
        merge_values_files([str(path)])


def test_missing_and_empty_values_files(tmp_path: Path) -> None:
    with pytest.raises(GenerateError, match=r"reading values from .*nope\.yaml failed"):
        merge_values_files([str(tmp_path / "nope.yaml")])
    (tmp_path / "empty.yaml").write_text("")
    assert merge_values_files([str(tmp_path / "empty.yaml")]) == {}
    assert merge_values_files([]) is None


# -- go-yaml v2 printing -----------------------------------------------------------------------------


@pytest.mark.parametrize(("keys", "ordered"), [
    (["b", "a", "c"], ["a", "b", "c"]),
    (["item10", "item9", "item1"], ["item1", "item9", "item10"]),  # digit runs compare as numbers
    (["a", "_a", "Z", "9"], ["_a", "9", "Z", "a"]),  # non-letters first (a digit run by value); letters by rune
    (["x01", "x1"], ["x1", "x01"]),
    (["createNamespace", "crds"], ["crds", "createNamespace"]),
    (["valuesFrom", "values"], ["values", "valuesFrom"]),
])
def test_go_yaml_key_order(keys: list[str], ordered: list[str]) -> None:
    assert list(go_ordered(dict.fromkeys(keys, 0))) == ordered


@pytest.mark.parametrize(("value", "text"), [
    (0.5, "0.5"), (0.25, "0.25"), (123456.5, "123456.5"), (1234567.5, "1.2345675e+06"), (1e-7, "1e-07"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (1e21, "1e+21"), (-2.25, "-2.25"), (float("inf"), ".inf"),
])
def test_go_yaml_floats(value: float, text: str) -> None:
    assert go_float(value) == text


@pytest.mark.parametrize(("value", "line"), [
    ("hello", "v: hello"), ("y", 'v: "y"'), ("N", 'v: "N"'), ("yes", 'v: "yes"'), ("1e3", 'v: "1e3"'),
    ("0x1F", 'v: "0x1F"'), ("1_000", 'v: "1_000"'), ("6.6.0", "v: 6.6.0"), ("true", 'v: "true"'),
    ("null", 'v: "null"'), ("", 'v: ""'), (">4.0.0", "v: '>4.0.0'"), ("2024-01-01", 'v: "2024-01-01"'),
])
def test_go_yaml_quotes_strings_it_would_read_as_other_types(value: str, line: str) -> None:
    text = dump({"v": value})
    assert text == line + "\n"
    assert yaml.safe_load(text)["v"] == value
