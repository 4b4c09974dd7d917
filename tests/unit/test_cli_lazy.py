"""The CLI imports a command's module only when that command runs: `--help` stays fast."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner

from headwater.cli.common import rfc3339nano, truncate_hex
from headwater.cli.get import parse_status_selector

pytestmark = pytest.mark.unit

PROBE = """
import sys
from typing import Any
from headwater.cli.main import cli
try:
    cli.main(["--help"], prog_name="headwater", standalone_mode=False)
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.startswith(("headwater.runtime", "aiohttp", "rich",
                                                        "headwater.cli.get", "headwater.cli.reconcile")))
print("LOADED=" + ",".join(heavy))
"""


def test_help_does_not_import_the_runtime_or_aiohttp() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert "Commands:" in out.stdout
    loaded = out.stdout.strip().splitlines()[-1].removeprefix("LOADED=")
    assert loaded == "", f"--help imported {loaded}"


@pytest.mark.parametrize("args", [["get", "--help"], ["reconcile", "kustomization", "--help"],
                                  ["suspend", "source", "git", "--help"], ["version", "--help"]])
def test_command_help_does_not_import_the_runtime(args: list[str]) -> None:
    probe = (f"import sys\nfrom headwater.cli.main import cli\ntry:\n    cli.main({args!r}, standalone_mode=False)\n"
             "except SystemExit:\n    pass\n"
             "print([m for m in sys.modules if m.startswith(('headwater.runtime', 'aiohttp'))])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_rfc3339nano_trims_trailing_zeros() -> None:
    assert rfc3339nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert rfc3339nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert rfc3339nano(1_700_000_000_000_000_001) == "2023-11-14T22:13:20.000000001Z"


def test_truncate_hex() -> None:
    assert truncate_hex("main@sha1:696f056df2b8b4b3f0a3e7c5d1e2f3a4b5c6d7e8") == "main@sha1:696f056d"
    assert truncate_hex("v1.0@sha256:" + "ab" * 32) == "v1.0@sha256:abababab"
    assert truncate_hex("") == ""


def test_status_selector() -> None:
    assert parse_status_selector("Ready=False") == ("ready", "false")
    assert parse_status_selector(None) is None
    with pytest.raises(Exception, match="expected"):
        parse_status_selector("ready")


class _FakeClient:
    """Stands in for KubeClient: serves no Flux kinds, or one Kustomization."""

    timeout = 30.0

    def __init__(self, items: list[dict[str, Any]] | None) -> None:
        self.items = items

    async def list_all(self, api_version: str, kind: str, namespace: str | None = None,
                       **_: Any) -> tuple[list[dict[str, Any]], str]:
        from headwater.runtime.kube import UnknownKind

        if self.items is None or kind != "Kustomization":
            raise UnknownKind(f"the cluster serves no kind {kind!r} in {api_version!r}")
        return self.items, "1"

    async def close(self) -> None:
        pass


def _invoke(monkeypatch: pytest.MonkeyPatch, client: _FakeClient, args: list[str]) -> Any:
    import headwater.runtime.kube as kube
    from headwater.cli.main import cli

    monkeypatch.setattr(kube, "connect", lambda *a, **k: client)
    return CliRunner().invoke(cli, args)


def test_missing_crds_are_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _invoke(monkeypatch, _FakeClient(None), ["get", "ks"])
    assert result.exit_code == 1
    assert result.output.strip() == ("✗ the cluster does not serve Kustomization (kustomize.toolkit.fluxcd.io/v1): "
                                     "are the Flux CRDs installed?")
    everything = _invoke(monkeypatch, _FakeClient(None), ["get", "all"])
    assert everything.exit_code == 1
    assert "are the Flux CRDs installed?" in everything.output


def test_rich_table_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from headwater.cli import get

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    get.render(["NAME", "READY"], [["apps", "True"]], no_header=False)
    out = capsys.readouterr().out
    assert "NAME" in out
    assert "apps" in out


def test_plain_table_and_all_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    ks = {"metadata": {"name": "apps", "namespace": "team"}, "spec": {"suspend": True},
          "status": {"lastAppliedRevision": "main@sha1:" + "a" * 40,
                     "conditions": [{"type": "Ready", "status": "False", "message": "boom\nagain"}]}}
    result = _invoke(monkeypatch, _FakeClient([ks]), ["get", "ks", "-A"])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()
    assert header.split() == ["NAMESPACE", "NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]
    assert row.split() == ["team", "apps", "main@sha1:aaaaaaaa", "True", "False", "boom", "again"]
    assert "\t" in row
    none = _invoke(monkeypatch, _FakeClient([ks]), ["get", "ks", "--status-selector", "ready=true"])
    assert none.exit_code == 0
    assert "✗ no Kustomization objects found in flux-system namespace" in none.output
