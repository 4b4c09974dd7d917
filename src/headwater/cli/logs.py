"""`headwater logs`: the controllers' JSON logs, filtered and formatted like `flux logs`.

Flux finds the controller Pods (the Deployments labelled `app.kubernetes.io/part-of=flux` in
`--flux-namespace`), reads their logs through the pods/log API and prints each JSON line as
`<ts> <level> <Kind>/<name>.<namespace> - <msg> <error>`, keeping the lines of the `-n` namespace
(every namespace with `-A`), of `--kind`/`--name` and of `--level`.

headwater's controllers often run as local processes (`headwater controller … --log-file
<dir>/<controller>.log`), with no Pod to read from: given `--log-dir` (env `HEADWATER_LOG_DIR`), the
`*.log` files there are read instead of any Pod (a cluster may show placeholder controller Pods, as the
demo's kwok nodes do, while the real controllers run locally), with the same filters; lines of all
files are merged in time order, and `-f` follows the files as they grow (and new files).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import click

from headwater.cli.common import CliError, Options, cluster_options, fail, make_options, run
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient

PART_OF = "app.kubernetes.io/part-of=flux"
LEVELS = ("trace", "debug", "info", "warn", "error")
FOLLOW_POLL = 0.25


@dataclass(frozen=True)
class Filter:
    """Which log lines to print (flux's filterPrintLog)."""

    level: str | None
    kind: str | None
    name: str | None
    namespace: str | None  # None: every namespace (-A)
    since: datetime | None

    def keeps(self, entry: dict[str, Any]) -> bool:
        def differs(wanted: str | None, field: str) -> bool:
            return wanted is not None and wanted.lower() != str(entry.get(field) or "").lower()

        if differs(self.level, "level") or differs(self.kind, "controllerKind") or differs(self.name, "name"):
            return False
        if differs(self.namespace, "namespace"):
            return False
        if self.since is not None:
            moment = parse_ts(entry.get("ts"))
            return moment is None or moment >= self.since
        return True


def parse_ts(value: Any) -> datetime | None:
    if isinstance(value, int | float):  # zap's epoch encoder
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_line(line: str) -> dict[str, Any] | None:
    """One JSON log entry, or None for anything else (flux skips lines not starting with `{`)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def format_entry(entry: dict[str, Any]) -> str:
    """flux's line: `<ts> <level> <Kind>[/<name>.<namespace>] - <msg> <error>` (no trailing blank)."""
    kind = str(entry.get("controllerKind") or entry.get("reconciler kind") or "")
    name = entry.get("name")
    who = f"{kind}/{name}.{entry.get('namespace', '')}" if name else kind
    return f"{entry.get('ts', '')} {entry.get('level', '')} {who} - {entry.get('msg', '')} " \
           f"{entry.get('error') or ''}".rstrip()


def emit(lines: Iterable[str], keep: Filter) -> None:
    for line in lines:
        entry = parse_line(line)
        if entry is not None and keep.keeps(entry):
            click.echo(format_entry(entry))


# -- local files -----------------------------------------------------------------------------------


def log_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise CliError(f"--log-dir {directory}: no such directory")
    return sorted(directory.glob("*.log"))


def read_files(files: list[Path], tail: int | None) -> list[str]:
    """The lines of every file (the last `tail` of each), merged in timestamp order."""
    entries: list[tuple[str, int, str]] = []
    for path in files:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        if tail is not None:
            lines = lines[-tail:] if tail else []
        for index, line in enumerate(lines):
            entry = parse_line(line)
            entries.append((str(entry.get("ts", "")) if entry else "", index, line))
    entries.sort(key=lambda item: (item[0], item[1]))
    return [line for _, _, line in entries]


def follow_files(directory: Path, keep: Filter, offsets: dict[Path, int]) -> None:
    """Print lines appended to `directory/*.log` (new files too) until interrupted."""
    partial: dict[Path, str] = {}
    while True:
        for path in sorted(directory.glob("*.log")):
            try:
                size = path.stat().st_size
                start = offsets.get(path, 0)
                if size < start:  # truncated or rotated: start over
                    start = 0
                if size == start:
                    continue
                with path.open("rb") as handle:
                    handle.seek(start)
                    chunk = handle.read()
            except OSError:
                continue
            offsets[path] = start + len(chunk)
            text = partial.pop(path, "") + chunk.decode("utf-8", errors="replace")
            lines = text.split("\n")
            if lines[-1]:
                partial[path] = lines[-1]
            emit(lines[:-1], keep)
        time.sleep(FOLLOW_POLL)


def show_local(directory: Path, keep: Filter, tail: int | None, follow: bool) -> None:
    files = log_files(directory)
    if not files and not follow:
        raise CliError(f"no controller log files (*.log) in {directory}")
    emit(read_files(files, tail), keep)
    if follow:
        follow_files(directory, keep, {path: path.stat().st_size for path in files})


# -- controller pods -------------------------------------------------------------------------------


def _pod_rank(pod: dict[str, Any]) -> tuple[int, str]:
    running = (pod.get("status") or {}).get("phase") == "Running"
    return (0 if running else 1, str(pod["metadata"].get("name", "")))


async def controller_pods(client: KubeClient, flux_namespace: str) -> list[dict[str, Any]]:
    """One Pod per Flux controller Deployment (a running one first), as flux picks them."""
    deployments, _ = await client.list_all("apps/v1", "Deployment", flux_namespace, label_selector=PART_OF)
    pods: list[dict[str, Any]] = []
    for deployment in deployments:
        labels = (((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not labels:
            continue
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        candidates, _ = await client.list_all("v1", "Pod", flux_namespace, label_selector=selector)
        if candidates:
            pods.append(sorted(candidates, key=_pod_rank)[0])
    return pods


@dataclass(frozen=True)
class PodLogQuery:
    follow: bool
    tail: int | None
    since_seconds: int | None
    since_time: str | None

    def path(self, namespace: str, pod: str) -> str:
        params: dict[str, str | int] = {}
        if self.follow:
            params["follow"] = "true"
        if self.tail is not None:
            params["tailLines"] = self.tail
        if self.since_seconds is not None:
            params["sinceSeconds"] = self.since_seconds
        if self.since_time is not None:
            params["sinceTime"] = self.since_time
        query = f"?{urlencode(params)}" if params else ""
        return f"/api/v1/namespaces/{namespace}/pods/{pod}/log{query}"


async def show_pods(client: KubeClient, pods: list[dict[str, Any]], query: PodLogQuery, keep: Filter) -> None:
    from headwater.runtime.kube import ApiError

    async def one(pod: dict[str, Any]) -> None:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        path = query.path(namespace, name)
        try:
            if query.follow:
                async for line in client.stream_text_lines(path):
                    emit([line], keep)
            else:
                emit((await client.request_text(path)).splitlines(), keep)
        except ApiError as err:
            raise CliError(f"cannot read the logs of Pod '{namespace}/{name}': {err}") from err

    if query.follow:
        await asyncio.gather(*(one(pod) for pod in pods))
    else:
        for pod in pods:
            await one(pod)


# -- the command -----------------------------------------------------------------------------------


def since_of(since: str | None, since_time: str | None) -> tuple[datetime | None, int | None]:
    """(cut-off time, whole seconds for the pods/log API) from --since/--since-time."""
    from headwater.api.duration import DurationError, parse_positive

    if since and since_time:
        raise CliError("at most one of --since or --since-time may be given")
    if since_time:
        moment = parse_ts(since_time)
        if moment is None or moment.tzinfo is None:
            raise CliError(f"--since-time: {since_time} is not a valid (RFC3339) time")
        return moment, None
    if since:
        try:
            seconds = parse_positive(since).seconds
        except DurationError as err:
            raise CliError(f"--since: {err}") from err
        return datetime.now(UTC) - timedelta(seconds=seconds), max(1, round(seconds))
    return None, None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--level", type=click.Choice(LEVELS, case_sensitive=False), default=None,
              help="Only lines of this log level.")
@click.option("--kind", default=None, help="Only lines about this Flux kind, e.g. Kustomization.")
@click.option("--name", default=None, help="Only lines about objects of this name.")
@bool_flag("-f", "--follow", help="Stream the logs (Ctrl-C stops).")
@click.option("--tail", type=int, default=-1, show_default=True,
              help="Lines of recent log to read from each controller (-1: all).")
@click.option("--since", default=None, metavar="DURATION", help="Only lines newer than this, e.g. 5s, 2m, 3h.")
@click.option("--since-time", default=None, metavar="RFC3339", help="Only lines after this time.")
@click.option("--flux-namespace", default="flux-system", show_default=True,
              help="The namespace where the controllers run.")
@click.option("--log-dir", envvar="HEADWATER_LOG_DIR", default=None, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Read DIR/*.log (controllers run locally with --log-file) instead of the controller Pods "
                   "(env HEADWATER_LOG_DIR).")
@cluster_options(all_namespaces=True)
def logs(level: str | None, kind: str | None, name: str | None, follow: bool, tail: int, since: str | None,
         since_time: str | None, flux_namespace: str, log_dir: Path | None, kubeconfig: str | None,
         context: str | None, namespace: str | None, timeout: str | None, all_namespaces: bool) -> None:
    """Show the Flux controllers' logs, filtered by kind, name, namespace and level."""
    opts: Options = make_options(kubeconfig, context, namespace, timeout, all_namespaces)
    try:
        cutoff, since_seconds = since_of(since, since_time)
    except CliError as err:
        fail(str(err))
    if kind:
        from headwater.api.kinds import resolve

        resolved = resolve(kind)  # `ks`, `gitrepositories`: log lines carry the kind itself
        kind = resolved.kind if resolved is not None else kind
    keep = Filter(level.lower() if level else None, kind, name, None if all_namespaces else opts.namespace, cutoff)
    lines = None if tail < 0 else tail
    query = PodLogQuery(follow, lines, since_seconds, since_time)

    async def body(client: KubeClient) -> bool:
        pods = await controller_pods(client, flux_namespace)
        if not pods:
            return False
        await show_pods(client, pods, query, keep)
        return True

    try:
        if log_dir is None and run(opts, body):
            return
        if log_dir is None:
            fail(f"no Flux controller Pods in {flux_namespace} namespace (Deployments labelled {PART_OF}); "
                 "for controllers run locally with --log-file, give --log-dir DIR or set HEADWATER_LOG_DIR")
        try:
            show_local(log_dir, keep, lines, follow)
        except CliError as err:
            fail(str(err))
        except OSError as err:
            fail(f"--log-dir {log_dir}: {err}")
    except KeyboardInterrupt:
        sys.exit(0)
