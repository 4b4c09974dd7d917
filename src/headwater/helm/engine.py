"""The Python side of the Helm engine: one long-lived `hw-helm-engine` process per controller.

Why a process and not a Python Helm: releases must be exactly what Helm makes (storage Secrets
`sh.helm.release.v1.<name>.v<N>`, hooks, tests, rollbacks, waiting), so the real Helm v4 SDK does the
work, and the `helm` CLI reads what headwater stored. Why one long-lived process: discovery caches stay
warm across releases, and a request costs a line of JSON instead of a process start.

The protocol (see `engine-go/main.go`): one JSON request per line on stdin, one response per line on
stdout, matched by `id`; requests run concurrently. A dead engine fails every pending call with
`EngineCrashed` and is started again by the next call. Values and manifests travel in requests and
responses but never into logs: the engine logs warnings only, and this module forwards them without
payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 256 * 1024 * 1024


class EngineError(Exception):
    """A request the engine refused or failed; `kind` maps to a condition reason."""

    def __init__(self, kind: str, message: str, release: dict[str, Any] | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.release = release


class EngineCrashed(EngineError):
    """The engine process exited while the request was pending."""

    def __init__(self, message: str) -> None:
        super().__init__("EngineCrashed", message)


@dataclass
class KubeTarget:
    """Which cluster and identity an action uses (kubeconfig content, not a path; empty: in-cluster)."""

    kubeconfig: str = ""
    context: str = ""
    impersonate: str = ""
    impersonate_groups: list[str] = field(default_factory=list)
    qps: float = 0.0
    burst: int = 0

    def as_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"kubeconfig": self.kubeconfig, "context": self.context,
                                  "impersonate": self.impersonate, "qps": self.qps, "burst": self.burst}
        if self.impersonate_groups:
            params["impersonate_groups"] = list(self.impersonate_groups)
        return params


class HelmEngine:
    """A client of one engine process, started on first use."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self._process: asyncio.subprocess.Process | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._start_lock = asyncio.Lock()
        self._readers: list[asyncio.Task[None]] = []

    async def call(self, op: str, params: dict[str, Any] | None = None) -> Any:
        """Run one request; its result, or EngineError."""
        process = await self._ensure_started()
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        line = json.dumps({"id": request_id, "op": op, "params": params or {}}, separators=(",", ":")) + "\n"
        assert process.stdin is not None
        try:
            process.stdin.write(line.encode())
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as err:
            self._pending.pop(request_id, None)
            raise EngineCrashed(f"the Helm engine is not running: {err}") from err
        try:
            return await future
        finally:
            self._pending.pop(request_id, None)

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        for task in self._readers:
            task.cancel()
        self._readers.clear()

    async def _ensure_started(self) -> asyncio.subprocess.Process:
        async with self._start_lock:
            if self._process is not None and self._process.returncode is None:
                return self._process
            if not self.binary.is_file():
                raise EngineError("EngineMissing", f"the Helm engine {self.binary} is not built (put hw-helm-engine "
                                                   "on PATH, set HEADWATER_HELM_ENGINE, or run `headwater dev build`)")
            self._process = await asyncio.create_subprocess_exec(
                str(self.binary), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, limit=MAX_RESPONSE_BYTES, env={"HOME": "/nonexistent"})
            self._readers = [asyncio.create_task(self._read_responses(self._process)),
                             asyncio.create_task(self._read_logs(self._process))]
            return self._process

    async def _read_responses(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        try:
            while line := await process.stdout.readline():
                self._deliver(line)
        except (ValueError, asyncio.LimitOverrunError) as err:
            log.error("the Helm engine sent a response over %d bytes; restarting it (%s)", MAX_RESPONSE_BYTES,
                      type(err).__name__)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        code = await process.wait()
        crashed = EngineCrashed(f"the Helm engine exited (code {code}) while the request was running")
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(crashed)

    def _deliver(self, line: bytes) -> None:
        try:
            response = json.loads(line)
        except json.JSONDecodeError:
            log.error("the Helm engine wrote a line that is not JSON; ignored")
            return
        future = self._pending.get(int(response.get("id") or 0))
        if future is None or future.done():
            return
        error = response.get("error")
        if error:
            future.set_exception(EngineError(str(error.get("kind") or "Failed"), str(error.get("message") or ""),
                                             error.get("release")))
        else:
            future.set_result(response.get("result"))

    async def _read_logs(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            try:
                entry = json.loads(line)
                message = str(entry.get("msg") or "")
            except (json.JSONDecodeError, AttributeError):
                message = line.decode(errors="replace").strip()[:500]
            if message:
                log.warning("helm engine: %s", message)
