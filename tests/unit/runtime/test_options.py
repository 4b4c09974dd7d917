"""Unit tests for headwater.runtime.options (shared controller flags)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import click
import pytest
from click.testing import CliRunner

from headwater.runtime.options import (
    ControllerOptions,
    add_controller_options,
    format_duration,
    parse_addr,
    parse_duration,
    parse_feature_gates,
)

pytestmark = pytest.mark.unit

# Reference §4.1/§4.2: flag -> default.
REFERENCE_DEFAULTS: dict[str, Any] = {
    "concurrent": 4,
    "requeue_dependency": 30.0,
    "min_retry_delay": 0.75,
    "max_retry_delay": 900.0,
    "interval_jitter_percentage": 5,
    "metrics_addr": ":8080",
    "health_addr": ":9440",
    "enable_leader_election": False,
    "leader_election_lease_duration": 35.0,
    "leader_election_renew_deadline": 30.0,
    "leader_election_retry_period": 5.0,
    "leader_election_release_on_cancel": True,
    "log_level": "info",
    "log_encoding": "json",
    "events_addr": "",
    "watch_all_namespaces": True,
    "watch_label_selector": "",
    "watch_configs_label_selector": "reconcile.fluxcd.io/watch=Enabled",
    "default_service_account": "",
    "no_cross_namespace_refs": False,
    "kube_api_qps": 50.0,
    "kube_api_burst": 300,
    "feature_gates": {},
}


@pytest.mark.parametrize(("name", "default"), list(REFERENCE_DEFAULTS.items()))
def test_dataclass_defaults_match_reference(name: str, default: Any) -> None:
    assert getattr(ControllerOptions(), name) == default


def test_every_field_is_covered_by_reference_table() -> None:
    assert {f.name for f in fields(ControllerOptions)} == set(REFERENCE_DEFAULTS)


def make_command(**kwargs: Any) -> tuple[click.Command, list[ControllerOptions]]:
    seen: list[ControllerOptions] = []

    def callback(**params: Any) -> None:
        opts = ControllerOptions.from_params(params)
        assert params == {}, "every option is consumed"
        seen.append(opts)

    command = click.Command("controller", callback=callback)
    add_controller_options(command, **kwargs)
    return command, seen


def invoke(args: list[str], **kwargs: Any) -> ControllerOptions:
    command, seen = make_command(**kwargs)
    result = CliRunner().invoke(command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seen[0]


@pytest.mark.parametrize(("name", "default"), list(REFERENCE_DEFAULTS.items()))
def test_click_defaults_match_reference(name: str, default: Any) -> None:
    assert getattr(invoke([]), name) == default


def test_flux_manifest_arguments() -> None:
    # The args Flux's install manifests pass to every controller.
    opts = invoke(
        [
            "--events-addr=http://notification-controller.flux-system.svc.cluster.local./",
            "--watch-all-namespaces",
            "--log-level=info",
            "--log-encoding=json",
            "--enable-leader-election",
        ]
    )
    assert opts.events_addr == "http://notification-controller.flux-system.svc.cluster.local./"
    assert opts.watch_all_namespaces is True
    assert opts.enable_leader_election is True
    opts.validate()


@pytest.mark.parametrize(
    ("args", "field", "expected"),
    [
        (["--watch-all-namespaces=false"], "watch_all_namespaces", False),
        (["--watch-all-namespaces=0"], "watch_all_namespaces", False),
        (["--watch-all-namespaces=T"], "watch_all_namespaces", True),
        (["--enable-leader-election=true"], "enable_leader_election", True),
        (["--leader-election-release-on-cancel=false"], "leader_election_release_on_cancel", False),
        (["--no-cross-namespace-refs=true"], "no_cross_namespace_refs", True),
        (["--no-cross-namespace-refs"], "no_cross_namespace_refs", True),
        (["--concurrent=10"], "concurrent", 10),
        (["--concurrent", "6"], "concurrent", 6),
        (["--min-retry-delay=2s"], "min_retry_delay", 2.0),
        (["--max-retry-delay=1h"], "max_retry_delay", 3600.0),
        (["--requeue-dependency=5s"], "requeue_dependency", 5.0),
        (["--leader-election-lease-duration=1m30s"], "leader_election_lease_duration", 90.0),
        (["--interval-jitter-percentage=10"], "interval_jitter_percentage", 10),
        (["--log-level=debug"], "log_level", "debug"),
        (["--log-level=trace"], "log_level", "trace"),
        (["--log-encoding=console"], "log_encoding", "console"),
        (
            ["--watch-label-selector=sharding.fluxcd.io/key in (shard1)"],
            "watch_label_selector",
            "sharding.fluxcd.io/key in (shard1)",
        ),
        (["--watch-configs-label-selector=owner!=helm"], "watch_configs_label_selector", "owner!=helm"),
        (["--default-service-account=flux-apply"], "default_service_account", "flux-apply"),
        (["--kube-api-qps=100", "--kube-api-burst=500"], "kube_api_burst", 500),
        (
            ["--feature-gates=CacheSecretsAndConfigMaps=true,DisableConfigWatchers=false"],
            "feature_gates",
            {"CacheSecretsAndConfigMaps": True, "DisableConfigWatchers": False},
        ),
        (["--metrics-addr=127.0.0.1:18080"], "metrics_addr", "127.0.0.1:18080"),
    ],
)
def test_flag_values(args: list[str], field: str, expected: Any) -> None:
    assert getattr(invoke(args), field) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["--min-retry-delay=soon"],
        ["--watch-all-namespaces=maybe"],
        ["--log-level=warn"],
        ["--log-encoding=xml"],
        ["--concurrent=0"],
        ["--interval-jitter-percentage=100"],
        ["--feature-gates=Broken"],
        ["--no-such-flag"],
    ],
)
def test_invalid_flag_values_are_usage_errors(args: list[str]) -> None:
    command, _ = make_command()
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 2, result.output


def test_per_controller_variations() -> None:
    assert invoke([], concurrent=2).concurrent == 2
    command, _ = make_command(requeue_dependency=None, interval_jitter=False, events_addr=False)
    names = {opt for p in command.params for opt in getattr(p, "opts", [])}
    assert "--requeue-dependency" not in names
    assert "--interval-jitter-percentage" not in names
    assert "--events-addr" not in names
    assert "--concurrent" in names
    result = CliRunner().invoke(command, ["--requeue-dependency=5s"])
    assert result.exit_code == 2


def test_existing_flags_are_not_duplicated() -> None:
    command = click.Command(
        "notification-controller",
        params=[click.Option(["--events-addr"], default=":9090")],
        callback=lambda **kw: None,
    )
    add_controller_options(command)
    assert sum("--events-addr" in getattr(p, "opts", []) for p in command.params) == 1


def test_from_params_without_pop() -> None:
    params: dict[str, Any] = {"concurrent": 7, "other": 1}
    opts = ControllerOptions.from_params(params, pop=False)
    assert opts.concurrent == 7
    assert params == {"concurrent": 7, "other": 1}


# --------------------------------------------------------------------------- validation & helpers


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"concurrent": 0}, "--concurrent"),
        ({"min_retry_delay": 10.0, "max_retry_delay": 1.0}, "--max-retry-delay"),
        ({"requeue_dependency": -1.0}, "--requeue-dependency"),
        ({"interval_jitter_percentage": 100}, "jitter"),
        ({"log_level": "warn"}, "--log-level"),
        ({"log_encoding": "text"}, "--log-encoding"),
        ({"enable_leader_election": True, "leader_election_renew_deadline": 40.0}, "renew-deadline"),
        ({"kube_api_qps": 0.0}, "qps"),
        ({"metrics_addr": "nonsense"}, "--metrics-addr"),
    ],
)
def test_validate(changes: dict[str, Any], fragment: str) -> None:
    opts = ControllerOptions(**changes)
    with pytest.raises(ValueError, match=fragment):
        opts.validate()


def test_validate_accepts_defaults() -> None:
    ControllerOptions().validate()
    ControllerOptions(metrics_addr="0").validate()  # "0" disables the server in controller-runtime


def test_watch_namespace() -> None:
    assert ControllerOptions().watch_namespace({}) == ""
    opts = ControllerOptions(watch_all_namespaces=False)
    assert opts.watch_namespace({"RUNTIME_NAMESPACE": "flux-system"}) == "flux-system"
    with pytest.raises(ValueError, match="RUNTIME_NAMESPACE"):
        opts.watch_namespace({})


def test_leader_election_id() -> None:
    assert (
        ControllerOptions().leader_election_id("kustomize-controller")
        == "kustomize-controller-leader-election"
    )
    shard1 = ControllerOptions(watch_label_selector="sharding.fluxcd.io/key in (shard1)")
    shard2 = ControllerOptions(watch_label_selector="sharding.fluxcd.io/key in (shard2)")
    id1 = shard1.leader_election_id("kustomize-controller")
    assert id1.startswith("kustomize-controller-leader-election-")
    assert id1 != shard2.leader_election_id("kustomize-controller")
    assert id1 == shard1.leader_election_id("kustomize-controller")


def test_feature_enabled() -> None:
    opts = ControllerOptions(feature_gates={"A": True, "B": False})
    assert opts.feature_enabled("A")
    assert not opts.feature_enabled("B", default=True)
    assert opts.feature_enabled("C", default=True)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("750ms", 0.75),
        ("15m", 900.0),
        ("1h30m", 5400.0),
        ("1h0m0s", 3600.0),
        ("30s", 30.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("2h45m30.5s", 9930.5),
        ("100us", 1e-4),
        ("100µs", 1e-4),
        ("10ns", 1e-8),
        ("-1m", -60.0),
        ("+5s", 5.0),
        (" 5s ", 5.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "s", "1d", "1h 30m", "abc", "-", "5sec", "1.2.3s"])
def test_parse_duration_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.75, "750ms"),
        (900, "15m0s"),
        (30, "30s"),
        (35, "35s"),
        (3600, "1h0m0s"),
        (5400, "1h30m0s"),
        (1.5, "1.5s"),
        (90.25, "1m30.25s"),
        (1e-6, "1µs"),
        (5e-9, "5ns"),
        (-2, "-2s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text", ["750ms", "15m0s", "1h30m0s", "2.5s", "1m30.25s"])
def test_duration_round_trip(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("addr", "parsed"),
    [
        (":8080", ("0.0.0.0", 8080)),
        ("127.0.0.1:9440", ("127.0.0.1", 9440)),
        ("[::1]:80", ("::1", 80)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_parse_addr(addr: str, parsed: tuple[str, int]) -> None:
    assert parse_addr(addr) == parsed


@pytest.mark.parametrize("addr", ["8080", "host:", "host:port", ":99999", ""])
def test_parse_addr_invalid(addr: str) -> None:
    with pytest.raises(ValueError, match=r"address|port"):
        parse_addr(addr)


@pytest.mark.parametrize(
    ("text", "gates"),
    [
        ("", {}),
        ("A=true", {"A": True}),
        ("A=true,B=false", {"A": True, "B": False}),
        (" A = 1 , B=F ,", {"A": True, "B": False}),
    ],
)
def test_parse_feature_gates(text: str, gates: dict[str, bool]) -> None:
    assert parse_feature_gates(text) == gates


@pytest.mark.parametrize("text", ["A", "=true", "A=yes"])
def test_parse_feature_gates_invalid(text: str) -> None:
    with pytest.raises(ValueError, match=r"feature gate|boolean"):
        parse_feature_gates(text)
