"""The CLI imports a command's module only when that command runs: `--help` stays fast."""

from __future__ import annotations

import subprocess
import sys

import pytest

from headwater.cli.common import rfc3339nano, truncate_hex
from headwater.cli.get import parse_status_selector

pytestmark = pytest.mark.unit

PROBE = """
import sys
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
