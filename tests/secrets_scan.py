"""The secrets scan: planted secret values must never show up where users and log pipelines can read them.

Tests that create a Secret (a Git password or token, a substitution value, a kubeconfig token, a CLI
`create secret … --password`) take its value from :func:`plant_secret`: a canary `hw-canary-<random>`,
fresh in every run. Wherever this run's output goes, the canaries are looked for:

* every log record of the in-process controllers (a handler on the `headwater` logger, at `info`, the
  level the controllers run at by default; Flux's own default is info too);
* the output of every CLI run the test helpers make (`record_cli_output`);
* every `*.log` file under this run's pytest temporary directory (controllers run as subprocesses
  write their `--log-file` / stderr there);
* the events and the `status` of every Flux object in each test namespace before it is deleted, and in
  the whole cluster at the end of the session (canaries are unique to this run, so scanning a reused
  cluster whole — `HEADWATER_TEST_CLUSTER` — cannot find another run's values).

Secrets (whose data legitimately holds the values) and ConfigMaps (which tests fill on purpose) are not
scanned. A canary found fails the session, naming where it was found; canaries are fake, so printing
them is fine. The check per text is one substring search for the common prefix, so the scan costs
nothing noticeable unless a canary is actually there.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.runtime.logging import JSONFormatter

PREFIX = "hw-canary-"
MAX_LOG_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    where: str
    canary: str
    label: str

    def __str__(self) -> str:
        return f"{self.where}: planted secret {self.label or '(unlabelled)'} ({self.canary})"


@dataclass
class SecretsScan:
    """The canaries of one run and where they were found."""

    canaries: dict[str, str] = field(default_factory=dict)  # value → label
    findings: list[Finding] = field(default_factory=list)

    def plant(self, label: str = "") -> str:
        """A fresh canary value to use as Secret data (`label`: what it stands for, for the report)."""
        value = f"{PREFIX}{secrets.token_hex(8)}"
        self.canaries[value] = label
        return value

    def scan_text(self, where: str, text: str) -> list[Finding]:
        """Record (and return) every canary in `text`."""
        if PREFIX not in text:
            return []
        found = [Finding(where, value, label) for value, label in self.canaries.items() if value in text]
        known = set(self.findings)
        self.findings.extend(f for f in found if f not in known)
        return found

    def scan_file(self, path: Path) -> list[Finding]:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_LOG_FILE_BYTES)
        except OSError:
            return []
        return self.scan_text(f"log file {path}", data.decode("utf-8", errors="replace"))

    def scan_files(self, root: Path, pattern: str = "*.log") -> int:
        """Scan every file matching `pattern` below `root`; return how many were read."""
        count = 0
        for path in sorted(root.rglob(pattern)) if root.is_dir() else []:
            if path.is_file() and not path.is_symlink():
                self.scan_file(path)
                count += 1
        return count

    def scan_events(self, events: Iterable[Mapping[str, Any]]) -> None:
        for event in events:
            involved = event.get("involvedObject") or event.get("regarding") or {}
            where = (f"event {event.get('reason', '')} about {involved.get('kind', '?')}/"
                     f"{involved.get('namespace', '')}/{involved.get('name', '?')}")
            self.scan_text(where, json.dumps(event, default=str))

    def scan_statuses(self, objects: Iterable[Mapping[str, Any]]) -> None:
        for obj in objects:
            if "status" not in obj:
                continue
            meta = obj.get("metadata") or {}
            where = f"status of {obj.get('kind', '?')} {meta.get('namespace', '')}/{meta.get('name', '?')}"
            self.scan_text(where, json.dumps(obj["status"], default=str))

    def report(self) -> str:
        if not self.findings:
            return f"secrets scan: clean ({len(self.canaries)} planted secrets)"
        lines = [f"secrets scan: {len(self.findings)} leak(s) of planted secrets:"]
        lines += [f"  {finding}" for finding in self.findings]
        return "\n".join(lines)


class LeakHandler(logging.Handler):
    """Scans each log record as the controllers' JSON formatter would write it."""

    def __init__(self, scan: SecretsScan) -> None:
        super().__init__(logging.NOTSET)
        self.scan = scan
        self.formatter_ = JSONFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        if not self.scan.canaries:
            return
        try:
            line = self.formatter_.format(record)
        except Exception:  # a record that cannot be formatted: scan what we can
            line = f"{record.msg!r} {record.args!r}"
        self.scan.scan_text(f"log record of {record.name} ({record.levelname})", line)


PlantSecret = Callable[[str], str]

#: The run's scan (one per pytest process).
SCAN = SecretsScan()


def plant_secret(label: str = "") -> str:
    """A canary secret value for this run (see the module docstring)."""
    return SCAN.plant(label)


def record_cli_output(args: Iterable[str], *outputs: str) -> None:
    """Scan what one CLI run printed."""
    SCAN.scan_text("CLI output of `headwater " + " ".join(args) + "`", "\n".join(outputs))


def install_log_handler(logger_name: str = "headwater", level: int = logging.INFO) -> LeakHandler:
    logger = logging.getLogger(logger_name)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    handler = LeakHandler(SCAN)
    logger.addHandler(handler)
    return handler


@functools.cache
def reconciled_kinds() -> list[tuple[str, str]]:
    """The kinds whose status our controllers write (the per-namespace scan reads only those: fast)."""
    from headwater.controllers import discover

    return sorted({kind for spec in discover().values() for kind in spec.reconciles})


async def scan_cluster(kube: Any, namespace: str | None) -> None:
    """Events and Flux objects' statuses in `namespace` (the kinds our controllers reconcile), or with
    None in all namespaces (every Flux kind)."""
    import asyncio

    from headwater.api.kinds import ALL_KINDS
    from headwater.runtime.kube.errors import KubeError

    if not SCAN.canaries:
        return
    kinds = reconciled_kinds() if namespace else [(k.api_version, k.kind) for k in ALL_KINDS]

    async def items(api_version: str, kind: str) -> list[dict[str, Any]]:
        try:
            return list((await kube.list(api_version, kind, namespace))["items"])
        except (KubeError, LookupError):
            return []  # a kind whose CRD is not installed

    lists = await asyncio.gather(items("v1", "Event"),
                                 *(items(api_version, kind) for api_version, kind in kinds))
    SCAN.scan_events(lists[0])
    for found in lists[1:]:
        SCAN.scan_statuses(found)
