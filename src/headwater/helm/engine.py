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

Callbacks: while a release waits, the engine may ask for the status of an object a HelmRelease's
`spec.healthCheckExprs` covers (`{"callback": {"id", "request", "object"}}` on stdout). The call that
passed `health=` answers it here with headwater's CEL health checks (`{"callback_reply": {"id",
"status", "message"}}` on stdin), so Helm's own wait judges custom kinds as Kustomizations do.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.apply.health import UNKNOWN, CustomStatusReader

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
    fresh: bool = False  # spec.persistentClient: false — the action's own client, discovery read anew

    def as_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"kubeconfig": self.kubeconfig, "context": self.context,
                                  "impersonate": self.impersonate, "qps": self.qps, "burst": self.burst}
        if self.impersonate_groups:
            params["impersonate_groups"] = list(self.impersonate_groups)
        if self.fresh:
            params["fresh"] = True
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
        self._health: dict[int, CustomStatusReader] = {}

    async def call(self, op: str, params: dict[str, Any] | None = None, *,
                   health: CustomStatusReader | None = None) -> Any:
        """Run one request; its result, or EngineError. `health` answers the request's health callbacks."""
        process = await self._ensure_started()
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        params = dict(params or {})
        if health is not None:
            self._health[request_id] = health
            params["callback_id"] = request_id
        line = json.dumps({"id": request_id, "op": op, "params": params}, separators=(",", ":")) + "\n"
        assert process.stdin is not None
        try:
            process.stdin.write(line.encode())
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as err:
            self._pending.pop(request_id, None)
            self._health.pop(request_id, None)
            raise EngineCrashed(f"the Helm engine is not running: {err}") from err
        try:
            return await future
        finally:
            self._pending.pop(request_id, None)
            self._health.pop(request_id, None)

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
                callback = self._deliver(line)
                if callback is not None:
                    await self._answer(process, callback)
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

    def _deliver(self, line: bytes) -> dict[str, Any] | None:
        """Settle the request a response line answers; a callback line is returned to be answered."""
        try:
            response = json.loads(line)
        except json.JSONDecodeError:
            log.error("the Helm engine wrote a line that is not JSON; ignored")
            return None
        if not isinstance(response, dict):
            return None
        if isinstance(response.get("callback"), dict):
            return response["callback"]  # type: ignore[no-any-return]
        future = self._pending.get(int(response.get("id") or 0))
        if future is None or future.done():
            return None
        error = response.get("error")
        if error:
            future.set_exception(EngineError(str(error.get("kind") or "Failed"), str(error.get("message") or ""),
                                             error.get("release")))
        else:
            future.set_result(response.get("result"))
        return None

    def health_reply(self, callback: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to one health callback: the status the request's health checks give the object."""
        request, obj = callback.get("request"), callback.get("object")
        reader = self._health.get(request) if isinstance(request, int) else None
        try:
            status = reader.read(obj) if reader is not None and isinstance(obj, Mapping) else None
        except Exception as err:  # an object's content must never stop the engine's reader
            log.warning("a health check could not judge an object (%s)", type(err).__name__)
            return {"id": callback.get("id"), "status": UNKNOWN,
                    "message": f"the health checks failed on the object: {type(err).__name__}"}
        if status is None:
            return {"id": callback.get("id"), "status": UNKNOWN, "message": "no health check covers the object"}
        return {"id": callback.get("id"), "status": status.status, "message": status.error or status.message}

    async def _answer(self, process: asyncio.subprocess.Process, callback: Mapping[str, Any]) -> None:
        reply = json.dumps({"callback_reply": self.health_reply(callback)}, separators=(",", ":")) + "\n"
        if process.stdin is None:
            return
        try:
            process.stdin.write(reply.encode())
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            log.error("the Helm engine stopped reading while a health check was answered")

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
