"""Every test here is marked `fuzz`; a timed run (`HEADWATER_FUZZ_MINUTES`) gets a per-test timeout to match."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.harness import MINUTES

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.fuzz)
            if MINUTES:
                item.add_marker(pytest.mark.timeout(int(MINUTES * 60 + 600)))
