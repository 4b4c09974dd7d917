"""The command-line flags every Flux controller shares, with Flux's names and defaults.

Flux's deployment manifests pass flags such as ``--watch-all-namespaces``,
``--log-level=info``, ``--log-encoding=json``, ``--enable-leader-election`` and
``--events-addr=http://...``. To be a drop-in replacement each headwater controller command must
accept the same flags with the same spelling, defaults and value syntax: Go durations
(``750ms``, ``15m``, ``1h30m``) and Go booleans (``--flag``, ``--flag=false``).

:class:`ControllerOptions` holds the values (durations in seconds);
:func:`add_controller_options` attaches them to a click command (controller specs say which ones each
controller has) and
:meth:`ControllerOptions.from_params` collects them from the command's keyword arguments.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any, Final, TypeVar

import click

from headwater.api.duration import format_seconds, parse_seconds

__all__ = [
    "ControllerOptions",
    "GoBool",
    "GoDuration",
    "add_controller_options",
    "format_duration",
    "go_option",
    "parse_addr",
    "parse_duration",
    "parse_feature_gates",
]

LOG_LEVELS: Final = ("trace", "debug", "info", "error")
LOG_ENCODINGS: Final = ("json", "console")
DEFAULT_WATCH_CONFIGS_LABEL_SELECTOR: Final = "reconcile.fluxcd.io/watch=Enabled"
RUNTIME_NAMESPACE_ENV: Final = "RUNTIME_NAMESPACE"

# --------------------------------------------------------------------------- Go durations

# One parser for the whole project: headwater.api.duration (exact Go semantics).


def parse_duration(text: str) -> float:
    """Parse a Go duration string (``"750ms"``, ``"1h30m"``, ``"-1.5s"``, ``"0"``) into seconds."""
    return parse_seconds(text)


def format_duration(seconds: float) -> str:
    """Format seconds the way Go prints a time.Duration (``15m0s``, ``750ms``, ``0s``)."""
    return format_seconds(seconds)


# --------------------------------------------------------------------------- other parsers


def parse_addr(addr: str) -> tuple[str, int]:
    """``":8080"`` -> ``("0.0.0.0", 8080)``; ``"127.0.0.1:9440"``; ``"[::1]:80"``."""
    host, sep, port_text = addr.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"invalid address {addr!r}, expected [host]:port")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"invalid port in {addr!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return (host or "0.0.0.0", port)


_GO_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _parse_go_bool(text: str) -> bool:
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise ValueError(f"invalid boolean {text!r}")


def parse_feature_gates(text: str) -> dict[str, bool]:
    """``"A=true,B=false"`` -> ``{"A": True, "B": False}`` (the ``--feature-gates`` syntax)."""
    gates: dict[str, bool] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"missing bool value for feature gate {item!r}")
        gates[name] = _parse_go_bool(value.strip())
    return gates


class GoDuration(click.ParamType[float, Any]):
    """A click type for Go duration strings; converts to float seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class GoBool(click.ParamType[bool, Any]):
    """A click type accepting Go's boolean spellings (``true``, ``false``, ``1``, ``F``, ...)."""

    name = "bool"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bool:
        if isinstance(value, bool):
            return value
        try:
            return _parse_go_bool(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class _FeatureGates(click.ParamType[dict[str, bool], Any]):
    name = "gates"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dict[str, bool]:
        if isinstance(value, dict):
            return {str(k): bool(v) for k, v in value.items()}
        try:
            return parse_feature_gates(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


GO_DURATION: Final = GoDuration()
GO_BOOL: Final = GoBool()
FEATURE_GATES: Final = _FeatureGates()

# --------------------------------------------------------------------------- the options


@dataclass(slots=True)
class ControllerOptions:
    """Values of the shared controller flags; durations are in seconds."""

    concurrent: int = 4
    requeue_dependency: float = 30.0
    min_retry_delay: float = 0.75
    max_retry_delay: float = 900.0
    interval_jitter_percentage: int = 5
    metrics_addr: str = ":8080"
    health_addr: str = ":9440"
    enable_leader_election: bool = False
    leader_election_lease_duration: float = 35.0
    leader_election_renew_deadline: float = 30.0
    leader_election_retry_period: float = 5.0
    leader_election_release_on_cancel: bool = True
    log_level: str = "info"
    log_encoding: str = "json"
    events_addr: str = ""
    watch_all_namespaces: bool = True
    watch_label_selector: str = ""
    watch_configs_label_selector: str = DEFAULT_WATCH_CONFIGS_LABEL_SELECTOR
    default_service_account: str = ""
    no_cross_namespace_refs: bool = False
    kube_api_qps: float = 50.0
    kube_api_burst: int = 300
    feature_gates: dict[str, bool] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ValueError for values a controller cannot run with."""
        problems: list[str] = []
        if self.concurrent < 1:
            problems.append("--concurrent must be at least 1")
        for name in ("requeue_dependency", "min_retry_delay", "max_retry_delay"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                problems.append(f"--{name.replace('_', '-')} must not be negative")
        if self.max_retry_delay < self.min_retry_delay:
            problems.append("--max-retry-delay must not be smaller than --min-retry-delay")
        if not 0 <= self.interval_jitter_percentage < 100:
            problems.append("--interval-jitter-percentage must be a non-negative value below 100")
        if self.log_level not in LOG_LEVELS:
            problems.append(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
        if self.log_encoding not in LOG_ENCODINGS:
            problems.append(f"--log-encoding must be one of {', '.join(LOG_ENCODINGS)}")
        if self.enable_leader_election:
            if self.leader_election_renew_deadline >= self.leader_election_lease_duration:
                problems.append("--leader-election-renew-deadline must be shorter than the lease duration")
            if self.leader_election_retry_period <= 0:
                problems.append("--leader-election-retry-period must be positive")
        if self.kube_api_qps <= 0 or self.kube_api_burst <= 0:
            problems.append("--kube-api-qps and --kube-api-burst must be positive")
        for addr_name in ("metrics_addr", "health_addr"):
            addr = getattr(self, addr_name)
            if addr and addr != "0":
                try:
                    parse_addr(addr)
                except ValueError as exc:
                    problems.append(f"--{addr_name.replace('_', '-')}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))

    def watch_namespace(self, environ: Mapping[str, str] | None = None) -> str:
        """Namespace to watch: ``""`` for all, else ``$RUNTIME_NAMESPACE``."""
        if self.watch_all_namespaces:
            return ""
        env = os.environ if environ is None else environ
        namespace = env.get(RUNTIME_NAMESPACE_ENV, "")
        if not namespace:
            raise ValueError(f"--watch-all-namespaces=false requires ${RUNTIME_NAMESPACE_ENV}")
        return namespace

    def leader_election_id(self, controller: str) -> str:
        """Lease name ``<controller>-leader-election``, suffixed per label selector (shards)."""
        lease = f"{controller}-leader-election"
        if self.watch_label_selector:
            digest = hashlib.sha256(self.watch_label_selector.encode("utf-8")).hexdigest()[:8]
            lease = f"{lease}-{digest}"
        return lease

    def feature_enabled(self, gate: str, default: bool = False) -> bool:
        return self.feature_gates.get(gate, default)

    @classmethod
    def from_params(cls, params: MutableMapping[str, Any], *, pop: bool = True) -> ControllerOptions:
        """Build from a click callback's keyword arguments (removing them if ``pop``)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in params:
                values[f.name] = params.pop(f.name) if pop else params[f.name]
        return cls(**values)


# --------------------------------------------------------------------------- click wiring

_HELP: Final = {
    "concurrent": "The number of concurrent reconciles per controller.",
    "requeue_dependency": "The interval at which failing dependencies are reevaluated.",
    "min_retry_delay": "The minimum time an object being reconciled waits before a retry.",
    "max_retry_delay": "The maximum time an object being reconciled waits before a retry.",
    "interval_jitter_percentage": "Percentage of jitter applied to interval durations (+/-); below 100.",
    "metrics_addr": "The address the Prometheus metric endpoint binds to.",
    "health_addr": "The address the health endpoint binds to.",
    "enable_leader_election": "Enable leader election so that only one instance is active.",
    "leader_election_lease_duration": "How long non-leaders wait before forcing a takeover of leadership.",
    "leader_election_renew_deadline": "How long the leader retries refreshing leadership before giving up.",
    "leader_election_retry_period": "How long candidates wait between attempts.",
    "leader_election_release_on_cancel": "Whether the leader steps down voluntarily on shutdown.",
    "log_level": "Log verbosity: trace, debug, info or error.",
    "log_encoding": "Log encoding: json or console.",
    "events_addr": "The address of the events receiver (notification-controller).",
    "watch_all_namespaces": "Watch all namespaces; false watches only $RUNTIME_NAMESPACE.",
    "watch_label_selector": "Only reconcile objects matching this label selector (sharding).",
    "watch_configs_label_selector": "Watch Secrets and ConfigMaps matching this selector for changes.",
    "default_service_account": "Service account used when an object does not name one.",
    "no_cross_namespace_refs": "Deny references to sources and other objects in other namespaces.",
    "kube_api_qps": "Maximum queries per second to the Kubernetes API.",
    "kube_api_burst": "Maximum burst of queries to the Kubernetes API.",
    "feature_gates": "Feature gates as comma-separated Name=true|false pairs.",
}

C = TypeVar("C", bound=click.Command)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def go_option(name: str, type_: click.ParamType[Any, Any] | type, default: Any, help_text: str) -> click.Option:
    """One flag with Go's syntax: ``name`` ``storage_path`` is ``--storage-path``.

    A :data:`GO_BOOL` flag is pflag's boolean: ``--flag`` means true, ``--flag=false`` sets it; a
    :data:`GO_DURATION` default (seconds) is shown as Go prints it (``1m0s``).
    """
    if isinstance(type_, GoBool):
        return click.Option([_flag(name), name], type=GO_BOOL, is_flag=False, flag_value="true",
                            default="true" if default else "false", show_default=str(bool(default)).lower(),
                            help=help_text)
    shown = format_duration(default) if isinstance(type_, GoDuration) else default
    return click.Option([_flag(name), name], type=type_, default=default,
                        show_default=str(shown) if shown != "" else False, help=help_text)


def _build_params(
    *,
    concurrent: int,
    requeue_dependency: float | None,
    interval_jitter: bool,
    events_addr: bool,
    no_cross_namespace_refs: bool,
    default_service_account: bool,
    watch_configs: bool,
) -> list[click.Parameter]:
    d = ControllerOptions()
    params: list[click.Parameter] = []

    def value(name: str, type_: click.ParamType[Any, Any] | type, default: Any) -> None:
        params.append(go_option(name, type_, default, _HELP[name]))

    def boolean(name: str, default: bool) -> None:
        params.append(go_option(name, GO_BOOL, default, _HELP[name]))

    value("concurrent", click.IntRange(min=1), concurrent)
    if requeue_dependency is not None:
        value("requeue_dependency", GO_DURATION, requeue_dependency)
    value("min_retry_delay", GO_DURATION, d.min_retry_delay)
    value("max_retry_delay", GO_DURATION, d.max_retry_delay)
    if interval_jitter:
        value("interval_jitter_percentage", click.IntRange(min=0, max=99), d.interval_jitter_percentage)
    value("metrics_addr", str, d.metrics_addr)
    value("health_addr", str, d.health_addr)
    boolean("enable_leader_election", d.enable_leader_election)
    value("leader_election_lease_duration", GO_DURATION, d.leader_election_lease_duration)
    value("leader_election_renew_deadline", GO_DURATION, d.leader_election_renew_deadline)
    value("leader_election_retry_period", GO_DURATION, d.leader_election_retry_period)
    boolean("leader_election_release_on_cancel", d.leader_election_release_on_cancel)
    value("log_level", click.Choice(LOG_LEVELS), d.log_level)
    value("log_encoding", click.Choice(LOG_ENCODINGS), d.log_encoding)
    if events_addr:
        value("events_addr", str, d.events_addr)
    boolean("watch_all_namespaces", d.watch_all_namespaces)
    value("watch_label_selector", str, d.watch_label_selector)
    if watch_configs:
        value("watch_configs_label_selector", str, d.watch_configs_label_selector)
    if default_service_account:
        value("default_service_account", str, d.default_service_account)
    if no_cross_namespace_refs:
        boolean("no_cross_namespace_refs", d.no_cross_namespace_refs)
    value("kube_api_qps", click.FloatRange(min=0, min_open=True), d.kube_api_qps)
    value("kube_api_burst", click.IntRange(min=1), d.kube_api_burst)
    params.append(
        click.Option(
            ["--feature-gates", "feature_gates"],
            type=FEATURE_GATES,
            default="",
            help=_HELP["feature_gates"],
        )
    )
    return params


def add_controller_options(
    command: C,
    *,
    concurrent: int = 4,
    requeue_dependency: float | None = 30.0,
    interval_jitter: bool = True,
    events_addr: bool = True,
    no_cross_namespace_refs: bool = True,
    default_service_account: bool = True,
    watch_configs: bool = True,
) -> C:
    """Append the shared controller flags to ``command`` and return it.

    Per-controller differences are keyword arguments: ``concurrent`` default (source-controller
    2, source-watcher 10, others 4); ``requeue_dependency=None`` drops ``--requeue-dependency``;
    the booleans drop flags a controller does not have (e.g. notification-controller uses
    ``--events-addr`` for its own server and defines it itself). Flags the command already
    defines are left alone.
    """
    existing = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for param in _build_params(
        concurrent=concurrent,
        requeue_dependency=requeue_dependency,
        interval_jitter=interval_jitter,
        events_addr=events_addr,
        no_cross_namespace_refs=no_cross_namespace_refs,
        default_service_account=default_service_account,
        watch_configs=watch_configs,
    ):
        if not existing.intersection(getattr(param, "opts", [])):
            command.params.append(param)
    return command
