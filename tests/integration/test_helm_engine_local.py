"""The Helm engine without a cluster: values composed as Flux composes them, digests as Flux writes them,
charts rendered as `helm template` renders them."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from headwater.devcluster.helmtools import HelmTools
from headwater.helm.engine import EngineError, HelmEngine
from tests.helm_charts import write_chart

pytestmark = pytest.mark.integration

EMPTY_DIGEST = "sha256:" + hashlib.sha256(b"").hexdigest()


def layer(data: str, target_path: str = "", literal: bool = False) -> dict[str, Any]:
    return {"data": data, "target_path": target_path, "literal": literal,
            "source": "ConfigMap chart values reference 'apps/values' with key 'values.yaml'"}


VALUES = [
    # (id, layers, inline values, expected)
    ("inline only", [], {"a": 1}, {"a": 1}),
    ("references merge in order, deeply", [layer("a: {b: 1, c: 1}\n"), layer("a: {c: 2}\nd: x\n")], None,
     {"a": {"b": 1, "c": 2}, "d": "x"}),
    ("inline values win over references", [layer("a: 1\nb: 1\n")], {"b": 2}, {"a": 1, "b": 2}),
    ("a map replaces a scalar and the other way round", [layer("a: 1\n"), layer("a: {b: 2}\n")], {"a": "s"},
     {"a": "s"}),
    ("a targetPath value wins over the references before it", [layer("replicas: 3\n"), layer("9", "replicas")],
     None, {"replicas": 9}),
    # Flux merges the inline values in again after all references, so they win even over a targetPath.
    ("inline values are merged last, over a targetPath too", [layer("9", "replicas")], {"replicas": 1},
     {"replicas": 1}),
    ("targetPath values are typed as --set types them", [layer("true", "a.b"), layer("7", "c"), layer("007", "d")],
     None, {"a": {"b": True}, "c": 7, "d": "007"}),
    ("a quoted targetPath value stays a string", [layer('"true"', "flag")], None, {"flag": "true"}),
    ("a literal targetPath value keeps commas and dots", [layer("a,b=c", "weird", literal=True)], None,
     {"weird": "a,b=c"}),
    ("list indexes in a targetPath", [layer("x", "list[1]")], None, {"list": [None, "x"]}),
]


@pytest.mark.parametrize(("layers", "inline", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in VALUES])
async def test_values_are_composed_as_flux_composes_them(
        engine: HelmEngine, layers: list[dict[str, Any]], inline: dict[str, Any] | None,
        expected: dict[str, Any]) -> None:
    result = await engine.call("values", {"layers": layers, "values": inline})
    assert result["values"] == expected


async def test_a_reference_that_is_not_yaml_names_itself(engine: HelmEngine) -> None:
    with pytest.raises(EngineError) as failed:
        await engine.call("values", {"layers": [layer("a: [1\n")]})
    assert failed.value.kind == "ValuesInvalid"
    assert failed.value.message.startswith(
        "could not resolve ConfigMap chart values reference 'apps/values' with key 'values.yaml': "
        "failed to read values data")


@pytest.mark.parametrize(("values", "digest"), [
    pytest.param({}, EMPTY_DIGEST, id="empty values digest the empty text"),
    # go-yaml v2 over the values with keys sorted at every level (and "y" quoted: a YAML 1.1 boolean)
    pytest.param({"b": {"d": [{"z": 1, "y": 2}], "c": "x"}, "a": 1},
                 "sha256:" + hashlib.sha256(b'a: 1\nb:\n  c: x\n  d:\n  - "y": 2\n    z: 1\n').hexdigest(),
                 id="keys sorted at every level, in lists too"),
])
async def test_the_config_digest_is_fluxs(engine: HelmEngine, values: dict[str, Any], digest: str) -> None:
    result = await engine.call("values", {"layers": [], "values": values})
    assert result["config_digest"] == digest


async def test_template_renders_as_helm_template_does(engine: HelmEngine, helm_tools: HelmTools,
                                                      tmp_path: Path) -> None:
    chart = write_chart(tmp_path)
    rendered = await engine.call("template", {"chart": str(chart), "release_name": "web", "namespace": "apps",
                                              "values": {"greeting": "hi"}})
    cli = subprocess.run([str(helm_tools.helm), "template", "web", str(chart), "-n", "apps", "--set",
                          "greeting=hi"], capture_output=True, text=True, check=True,
                         env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}).stdout
    assert rendered["manifest"].strip() == cli.strip()
    assert rendered["config"] == {"greeting": "hi"}


async def test_a_chart_that_is_not_there_or_does_not_render(engine: HelmEngine, tmp_path: Path) -> None:
    with pytest.raises(EngineError) as missing:
        await engine.call("template", {"chart": str(tmp_path / "nope"), "release_name": "x", "namespace": "x"})
    assert missing.value.kind == "ChartLoadFailed"
    chart = write_chart(tmp_path)
    (chart / "templates" / "bad.yaml").write_text("{{ fail \"no greeting configured\" }}\n")
    with pytest.raises(EngineError) as failed:
        await engine.call("template", {"chart": str(chart), "release_name": "x", "namespace": "x"})
    assert failed.value.kind == "RenderFailed"
    assert "no greeting configured" in failed.value.message


async def test_the_engine_survives_a_bad_request_and_restarts_after_a_crash(engine: HelmEngine) -> None:
    with pytest.raises(EngineError) as unknown:
        await engine.call("no-such-op")
    assert unknown.value.kind == "InvalidRequest"
    assert (await engine.call("version"))["helm"] == "v4.2.4"
    assert engine._process is not None
    engine._process.kill()
    await engine._process.wait()
    assert (await engine.call("version"))["helm"] == "v4.2.4"
