"""Golden cases: `headwater create … --export` prints what `flux create … --export` prints.

Each case is `golden/<case>.args` (the command line, shell-quoted, run from the golden folder so that
file flags such as `--ca-crt-file=ca.crt` resolve) and `golden/<case>.yaml` (the expected stdout,
written from flux's field rules: sorted keys, Go durations, omitted empty fields, `---` and a blank
line per object). Set HEADWATER_UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from headwater.cli.main import cli

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(path.stem for path in GOLDEN.glob("*.args"))


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 20
    assert all((GOLDEN / f"{case}.yaml").exists() for case in CASES)


@pytest.mark.parametrize("case", CASES)
def test_export(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    monkeypatch.delenv("FLUX_SYSTEM_NAMESPACE", raising=False)
    args = shlex.split((GOLDEN / f"{case}.args").read_text())
    assert args[-1] == "--export", "golden cases never touch a cluster"
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    expected = GOLDEN / f"{case}.yaml"
    if os.environ.get("HEADWATER_UPDATE_GOLDEN"):
        expected.write_text(result.stdout)
    assert result.stdout == expected.read_text()
