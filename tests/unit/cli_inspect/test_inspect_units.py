"""Pure pieces of events, logs, tree, trace and completion: formats flux users read every day."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from headwater.cli.common import CliError
from headwater.cli.events import human_duration, last_seen, parse_types, sort_events
from headwater.cli.logs import Filter, format_entry, read_files, since_of
from headwater.cli.nouns import flux_kind
from headwater.cli.trace import field, go_time
from headwater.cli.tree import Node, render_tree
from tests.unit.test_cli_lazy import (
    test_command_help_does_not_import_the_runtime as command_help_does_not_import_the_runtime,
)

pytestmark = pytest.mark.unit

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (45, "45s"), (119, "119s"), (125, "2m5s"), (600, "10m"),
    (3 * 3600 + 5, "3h"), (5 * 3600 + 120, "5h2m"), (20 * 3600, "20h"), (3 * 86400 + 4 * 3600, "3d4h"),
    (40 * 86400, "40d"), (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration_is_kubernetes(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_last_seen_counts_repeats() -> None:
    once = {"firstTimestamp": ago(30), "lastTimestamp": ago(30), "count": 1}
    assert last_seen(once, NOW) == "30s"
    repeated = {"firstTimestamp": ago(600), "lastTimestamp": ago(60), "count": 4}
    assert last_seen(repeated, NOW) == "60s (x4 over 10m)"
    series = {"eventTime": ago(300) .replace("Z", ".000000Z"), "series": {"count": 2, "lastObservedTime": ago(5)}}
    assert last_seen(series, NOW) == "5s (x2 over 5m)"
    assert last_seen({}, NOW) == "<unknown>"


def test_events_sort_oldest_first() -> None:
    events = [{"lastTimestamp": ago(5), "n": "b"}, {"lastTimestamp": ago(50), "n": "a"}, {"n": "unknown"}]
    assert [e["n"] for e in sort_events(events)] == ["unknown", "a", "b"]


def test_flux_kinds_and_types() -> None:
    assert flux_kind("kustomization").kind == "Kustomization"
    assert flux_kind("KS").kind == "Kustomization"
    with pytest.raises(CliError, match="'Deployment' is not a recognized Flux kind"):
        flux_kind("Deployment")
    assert parse_types(["normal", "Warning"]) == ("Normal", "Warning")
    assert parse_types([]) == ()
    with pytest.raises(CliError, match="type 'Info' not supported"):
        parse_types(["Info"])


def test_log_line_format_and_filter() -> None:
    entry = {"ts": "2024-05-01T12:00:00.000Z", "level": "error", "msg": "reconcile failed",
             "controllerKind": "Kustomization", "name": "apps", "namespace": "team", "error": "boom"}
    assert format_entry(entry) == "2024-05-01T12:00:00.000Z error Kustomization/apps.team - reconcile failed boom"
    startup = {"ts": "t", "level": "info", "msg": "started"}
    assert format_entry(startup) == "t info  - started"
    keep = Filter(level="error", kind="kustomization", name="APPS", namespace="team", since=None)
    assert keep.keeps(entry)
    assert not keep.keeps({**entry, "level": "info"})
    assert not keep.keeps({**entry, "namespace": "other"})
    assert not keep.keeps(startup)
    assert Filter(None, None, None, None, None).keeps(startup), "-A keeps lines about no object"
    cut = Filter(None, None, None, None, since=datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC))
    assert not cut.keeps(entry)


def test_local_files_merge_in_time_order(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text('{"ts": "2024-05-01T12:00:02Z", "msg": "a2"}\n{"ts": "2024-05-01T12:00:04Z"}\n')
    (tmp_path / "b.log").write_text('not json\n{"ts": "2024-05-01T12:00:03Z", "msg": "b3"}\n')
    lines = read_files(sorted(tmp_path.glob("*.log")), tail=None)
    assert [line for line in lines if "msg" in line] == ['{"ts": "2024-05-01T12:00:02Z", "msg": "a2"}',
                                                         '{"ts": "2024-05-01T12:00:03Z", "msg": "b3"}']
    assert len(read_files(sorted(tmp_path.glob("*.log")), tail=1)) == 2


def test_since_options() -> None:
    cutoff, seconds = since_of("2m", None)
    assert seconds == 120
    assert cutoff is not None
    assert since_of(None, "2024-05-01T12:00:00Z") == (NOW, None)
    with pytest.raises(CliError, match="at most one"):
        since_of("1m", "2024-05-01T12:00:00Z")
    with pytest.raises(CliError, match="not a valid"):
        since_of(None, "yesterday")


def test_tree_renders_flux_branches() -> None:
    root = Node("flux-system", "flux-system", "kustomize.toolkit.fluxcd.io", "Kustomization", [
        Node("", "apps", "", "Namespace"),
        Node("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization", [
            Node("apps", "web", "apps", "Deployment"), Node("apps", "web", "", "Service")]),
        Node("flux-system", "infra", "kustomize.toolkit.fluxcd.io", "Kustomization", [
            Node("infra", "cfg", "", "ConfigMap")]),
    ])
    assert render_tree(root) == (
        "Kustomization/flux-system/flux-system\n"
        "├── Namespace/apps\n"
        "├── Kustomization/flux-system/apps\n"
        "│   ├── Deployment/apps/web\n"
        "│   └── Service/apps/web\n"
        "└── Kustomization/flux-system/infra\n"
        "    └── ConfigMap/infra/cfg\n"
    )
    assert root.to_data()["resources"][0] == {
        "resource": {"Namespace": "", "Name": "apps", "GroupKind": {"Group": "", "Kind": "Namespace"}}}


def test_trace_fields_and_times() -> None:
    assert field("Kustomization", "apps") == "Kustomization:   apps"
    assert field("URL", "https://x") == "URL:             https://x"
    assert go_time("2024-05-01T12:00:00Z") == "2024-05-01 12:00:00 +0000 UTC"
    assert go_time("garbage") == "garbage"


@pytest.mark.parametrize(("shell", "marker"), [
    ("bash", "complete -o nosort -F"), ("zsh", "#compdef headwater"), ("fish", "complete --no-files"),
    ("powershell", "Register-ArgumentCompleter -Native -CommandName 'headwater'"),
])
def test_completion_scripts(shell: str, marker: str) -> None:
    entry_point = Path(sys.executable).parent / "headwater"
    out = subprocess.run([str(entry_point), "completion", shell], capture_output=True, text=True, check=True)
    assert marker in out.stdout
    assert "_HEADWATER_COMPLETE" in out.stdout


@pytest.mark.parametrize("args", [["events", "--help"], ["logs", "--help"], ["tree", "ks", "--help"],
                                  ["trace", "--help"], ["completion", "bash", "--help"], ["get", "ks", "--help"]])
def test_help_does_not_import_the_runtime(args: list[str]) -> None:
    command_help_does_not_import_the_runtime(args)
