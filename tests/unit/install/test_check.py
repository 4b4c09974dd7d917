"""`check`'s Kubernetes version line and flux's comma-separated list flags."""

from __future__ import annotations

import pytest

from headwater.cli.check import kubernetes_line, parse_version

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("git_version", "ok", "line"), [
    ("v1.36.4", True, "kubernetes 1.36.4>=1.33.0-0"),
    ("v1.33.0", True, "kubernetes 1.33.0>=1.33.0-0"),
    ("v1.33.0-rc.1", True, "kubernetes 1.33.0-rc.1>=1.33.0-0"),
    ("v1.34.2+k3s1", True, "kubernetes 1.34.2+k3s1>=1.33.0-0"),
    ("v1.32.9", False, "kubernetes 1.32.9>=1.33.0-0"),
    ("garbage", False, "error parsing kubernetes version 'garbage'"),
])
def test_kubernetes_constraint(git_version: str, ok: bool, line: str) -> None:
    assert kubernetes_line(git_version) == (ok, line)


def test_parse_version() -> None:
    assert parse_version("v2.10.3") == (2, 10, 3)
    assert parse_version("1.2") is None

