"""`--help` of install, uninstall, check and bootstrap git stays light (no runtime, aiohttp, rich, dulwich)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("args", [["install", "--help"], ["uninstall", "--help"], ["check", "--help"],
                                  ["bootstrap", "git", "--help"]])
def test_help_does_not_import_heavy_modules(args: list[str]) -> None:
    probe = (f"import sys\nfrom headwater.cli.main import cli\ntry:\n    cli.main({args!r}, standalone_mode=False)\n"
             "except SystemExit:\n    pass\n"
             "print([m for m in sys.modules if m.startswith(('headwater.runtime', 'aiohttp', 'rich', 'dulwich'))])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "Usage: " in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
