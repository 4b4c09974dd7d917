"""The secrets scan finds a planted value wherever it leaks, and nothing where it does not."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.secrets_scan import PREFIX, LeakHandler, SecretsScan

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("log_text", "leaks"),
    [
        ('{"level":"info","msg":"cloned","url":"https://git.example/repo"}\n', 0),
        ('{"level":"error","msg":"auth failed","error":"password {canary} rejected"}\n', 1),
        ("{prefix}00000000 is not this run's canary\n", 0),
        ("", 0),
    ],
)
def test_a_log_file_with_the_canary_is_reported(tmp_path: Path, log_text: str, leaks: int) -> None:
    scan = SecretsScan()
    canary = scan.plant("git password")
    (tmp_path / "run" / "controllers").mkdir(parents=True)
    log = tmp_path / "run" / "controllers" / "source-controller.log"
    log.write_text(log_text.replace("{canary}", canary).replace("{prefix}", PREFIX))
    (tmp_path / "notes.txt").write_text(canary)  # not a log file: not read
    assert scan.scan_files(tmp_path) == 1
    assert len(scan.findings) == leaks
    if leaks:
        assert str(log) in scan.findings[0].where
        assert canary in scan.report()
        assert "git password" in scan.report()
    else:
        assert scan.report().startswith("secrets scan: clean")


def test_events_statuses_and_log_records_are_scanned() -> None:
    scan = SecretsScan()
    token = scan.plant("bearer token")
    other = scan.plant("unused")
    scan.scan_events([{"reason": "AuthFailed", "message": f"token {token} invalid",
                       "involvedObject": {"kind": "GitRepository", "namespace": "t", "name": "repo"}},
                      {"reason": "Fine", "message": "cloned", "involvedObject": {"kind": "GitRepository"}}])
    scan.scan_statuses([{"kind": "Kustomization", "metadata": {"namespace": "t", "name": "app"},
                         "status": {"conditions": [{"message": f"substituted {token}"}]}},
                        {"kind": "Kustomization", "metadata": {"name": "no-status"}, "spec": {"x": token}}])
    logger = logging.getLogger("headwater.test-secrets-scan")
    handler = LeakHandler(scan)
    logger.addHandler(handler)
    try:
        logger.warning("fetch failed for %s", "user:" + token)
    finally:
        logger.removeHandler(handler)
    wheres = [f.where for f in scan.findings]
    assert wheres == ["event AuthFailed about GitRepository/t/repo", "status of Kustomization t/app",
                      "log record of headwater.test-secrets-scan (WARNING)"]
    assert all(f.canary == token for f in scan.findings)
    assert other not in scan.report()


def test_the_same_leak_is_reported_once() -> None:
    scan = SecretsScan()
    canary = scan.plant()
    scan.scan_text("CLI output", canary)
    scan.scan_text("CLI output", canary)
    assert len(scan.findings) == 1
