"""Bring a local control plane up and down: etcd, apiserver, controller-manager, scheduler, kwok.

Order matters: etcd, then the apiserver (wait for `/readyz`), then the controller-manager, the scheduler
and kwok, then the fake Node objects, then wait until the Nodes are Ready. Everything binds 127.0.0.1 on
ports chosen free at start, so clusters run side by side. A cluster's whole state (certificates, etcd
data, the kubeconfig and the list of processes it started) lives in one directory, so `down` from any
process stops exactly what `up` started and removes the state. Component logs are kept apart
(`~/.cache/headwater/logs/<cluster>/`) so that they outlive a failed start and can be read after it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from headwater.devcluster import build, pki, process
from headwater.devcluster.paths import clusters_root, logs_root
from headwater.devcluster.ports import PortAllocator
from headwater.devcluster.process import ProcessRecord

Reporter = Callable[[str], None]

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.0.0.0/24"
DEFAULT_NODES = 2
READY_TIMEOUT = 60.0
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
# Stop order: the apiserver's clients, then the apiserver (it hangs for long if etcd vanishes under it),
# then etcd.
STOP_TIERS = (("kwok", "kube-scheduler", "kube-controller-manager"), ("kube-apiserver",), ("etcd",))


class ClusterError(RuntimeError):
    """`up` failed; the message names the component and its log file."""

    def __init__(self, message: str, component: str = "", log: str = "") -> None:
        super().__init__(message)
        self.component = component
        self.log = log


@dataclass
class ClusterInfo:
    """Everything a client needs to use a running cluster."""

    name: str
    server: str
    kubeconfig: Path
    state_dir: Path
    ports: dict[str, int]
    processes: list[ProcessRecord] = field(default_factory=list)
    started_at: str = ""
    up_seconds: float = 0.0

    @property
    def ca_cert(self) -> Path:
        return self.state_dir / "pki" / "ca.crt"

    @property
    def admin_cert(self) -> Path:
        return self.state_dir / "pki" / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.state_dir / "pki" / "admin.key"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "ports": self.ports,
            "processes": [p.to_dict() for p in self.processes],
            "started_at": self.started_at,
            "up_seconds": self.up_seconds,
        }

    @classmethod
    def from_dict(cls, state_dir: Path, data: dict[str, Any]) -> ClusterInfo:
        return cls(
            name=data["name"],
            server=data["server"],
            kubeconfig=Path(data["kubeconfig"]),
            state_dir=state_dir,
            ports={k: int(v) for k, v in data["ports"].items()},
            processes=[ProcessRecord.from_dict(p) for p in data["processes"]],
            started_at=data.get("started_at", ""),
            up_seconds=float(data.get("up_seconds", 0.0)),
        )


class Cluster:
    """One named local cluster. `up` is idempotent; `down` stops what `up` started."""

    def __init__(
        self,
        name: str = "default",
        nodes: int = DEFAULT_NODES,
        api_port: int | None = None,
        extra_args: dict[str, list[str]] | None = None,
    ) -> None:
        if not name.replace("-", "").isalnum():
            raise ValueError(f"cluster name {name!r} must be alphanumeric with dashes")
        self.name = name
        self.nodes = nodes
        self.api_port = api_port
        self.extra_args = extra_args or {}
        self.state_dir = clusters_root() / name

    @property
    def logs_dir(self) -> Path:
        return logs_root() / self.name

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def info(self) -> ClusterInfo | None:
        """The recorded state, or None when the cluster was never started (or was stopped)."""
        try:
            return ClusterInfo.from_dict(self.state_dir, json.loads(self.state_file.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return None

    def status(self) -> dict[str, Any]:
        info = self.info()
        if info is None:
            return {"name": self.name, "running": False, "components": {}}
        components = {p.component: process.is_alive(p) for p in info.processes}
        healthy = all(components.values()) and self._ready(info)
        return {
            "name": self.name,
            "running": healthy,
            "server": info.server,
            "kubeconfig": str(info.kubeconfig),
            "components": components,
            "ports": info.ports,
            "started_at": info.started_at,
        }

    def up(self, report: Reporter = print) -> ClusterInfo:
        existing = self.info()
        if existing is not None:
            if all(process.is_alive(p) for p in existing.processes) and self._ready(existing):
                report(f"cluster {self.name} is already running at {existing.server}")
                return existing
            report(f"cluster {self.name}: stale state found, cleaning it up first")
            self.down(report=lambda _msg: None)

        binaries = build.ensure_built(report)
        started = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        records: list[ProcessRecord] = []
        try:
            info = self._start(binaries, records, report)
        except BaseException:
            stop_in_order(records)
            shutil.rmtree(self.state_dir, ignore_errors=True)
            raise
        info.up_seconds = round(time.monotonic() - started, 2)
        self._save(info)
        report(f"cluster {self.name} is up at {info.server} in {info.up_seconds:.1f}s")
        return info

    def down(self, report: Reporter = print) -> bool:
        """Stop every recorded process and remove the state. False when there was nothing to stop."""
        info = self.info()
        if info is None:
            if self.state_dir.exists():
                shutil.rmtree(self.state_dir, ignore_errors=True)
            report(f"cluster {self.name} is not running")
            return False
        stop_in_order(info.processes)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        report(f"cluster {self.name} stopped and its state removed")
        return True

    def restart(self, component: str, kill_signal: int = signal.SIGKILL) -> ClusterInfo:
        """Kill one component (SIGKILL by default, as a crash would) and start it again as before.

        For fault tests: e.g. the apiserver dies and comes back on the same port with the same etcd.
        """
        info = self.info()
        if info is None:
            raise ClusterError(f"cluster {self.name} is not running")
        index = next((i for i, p in enumerate(info.processes) if p.component == component), None)
        if index is None:
            raise ClusterError(f"cluster {self.name} has no component {component!r}")
        old = info.processes[index]
        handle = process.handle(old)
        if handle is not None:
            handle.send_signal(kill_signal)
            handle.wait(timeout=30)
        process.stop([old])
        info.processes[index] = process.start(component, list(old.argv), Path(old.log))
        self._save(info)
        if component == "kube-apiserver":
            self._wait(info.processes[index], component, lambda: self._ready(info))
        elif process.exited_early(info.processes[index], 0.3):
            self._fail(info.processes[index])
        return info

    # -- start-up --------------------------------------------------------------------------------

    def _start(self, bins: build.Binaries, records: list[ProcessRecord], report: Reporter) -> ClusterInfo:
        ports_alloc = PortAllocator()
        api_port = ports_alloc.allocate(self.api_port)
        if self.api_port and api_port != self.api_port:
            report(f"port {self.api_port} is taken; the apiserver uses {api_port} instead")
        ports = {
            "apiserver": api_port,
            "etcd": ports_alloc.allocate(),
            "etcd-peer": ports_alloc.allocate(),
            "controller-manager": ports_alloc.allocate(),
            "scheduler": ports_alloc.allocate(),
            "kwok": ports_alloc.allocate(),
        }
        logs = self.logs_dir
        shutil.rmtree(logs, ignore_errors=True)  # each start gets fresh logs
        creds = pki.generate(self.state_dir / "pki")
        server = f"https://127.0.0.1:{api_port}"
        kubeconfig_path = self.state_dir / "kubeconfig"
        kubeconfig_path.write_text(pki.kubeconfig(creds, server, self.name))
        kubeconfig_path.chmod(0o600)
        info = ClusterInfo(
            name=self.name,
            server=server,
            kubeconfig=kubeconfig_path,
            state_dir=self.state_dir,
            ports=ports,
            processes=records,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

        etcd_url = f"http://127.0.0.1:{ports['etcd']}"
        self._launch(records, "etcd", [
            str(bins.etcd),
            f"--name={self.name}",
            f"--data-dir={self.state_dir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{ports['etcd-peer']}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{ports['etcd-peer']}",
            f"--initial-cluster={self.name}=http://127.0.0.1:{ports['etcd-peer']}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ], logs)
        self._save(info)  # from here on, `down` can clean up even if this process dies
        self._wait(records[-1], "etcd", lambda: _http_ok(f"{etcd_url}/health"))

        self._launch(records, "kube-apiserver", [
            str(bins.kube_apiserver),
            f"--etcd-servers={etcd_url}",
            f"--secure-port={api_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--tls-cert-file={creds.serving_cert}",
            f"--tls-private-key-file={creds.serving_key}",
            f"--client-ca-file={creds.ca_cert}",
            "--authorization-mode=Node,RBAC",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=true",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={creds.sa_pub}",
            f"--service-account-signing-key-file={creds.sa_key}",
            f"--cert-dir={self.state_dir / 'apiserver-certs'}",
            "--profiling=false",
        ], logs)
        self._save(info)
        self._wait(records[-1], "kube-apiserver", lambda: self._ready(info))

        admin_kubeconfig = str(kubeconfig_path)
        self._launch(records, "kube-controller-manager", [
            str(bins.kube_controller_manager),
            f"--kubeconfig={admin_kubeconfig}",
            "--leader-elect=false",
            "--controllers=*",
            f"--service-account-private-key-file={creds.sa_key}",
            f"--root-ca-file={creds.ca_cert}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports['controller-manager']}",
            "--use-service-account-credentials=false",
            "--profiling=false",
        ], logs)
        scheduler_config = self.state_dir / "scheduler.yaml"
        scheduler_config.write_text(yaml.safe_dump({
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "clientConnection": {"kubeconfig": admin_kubeconfig},
            "leaderElection": {"leaderElect": False},
        }))
        self._launch(records, "kube-scheduler", [
            str(bins.kube_scheduler),
            f"--config={scheduler_config}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports['scheduler']}",
        ], logs)
        self._launch(records, "kwok", [
            str(bins.kwok),
            f"--kubeconfig={admin_kubeconfig}",
            f"--config={bins.kwok_stages}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
            "--manage-nodes-with-label-selector=",
            "--manage-single-node=",
            f"--cidr={POD_CIDR}",
            "--node-ip=10.0.0.1",
            "--node-lease-duration-seconds=40",
            f"--node-port={ports['kwok']}",
        ], logs)
        self._save(info)
        for record in records[-3:]:
            if process.exited_early(record, 0.3):
                self._fail(record)

        api = _Api(info)
        for index in range(self.nodes):
            api.create_if_absent("/api/v1/nodes", fake_node(f"kwok-node-{index}"))
        self._wait(records[-1], "kwok", lambda: api.ready_nodes() >= self.nodes, check_all=records)
        self._wait(records[2], "kube-controller-manager",
                   lambda: api.exists("/api/v1/namespaces/default/serviceaccounts/default"), check_all=records)
        return info

    def _launch(self, records: list[ProcessRecord], component: str, argv: list[str], logs: Path) -> None:
        if not Path(argv[0]).is_file():
            raise ClusterError(f"{component}: binary {argv[0]} is missing; the build cache is incomplete",
                               component)
        argv = argv + self.extra_args.get(component, [])
        records.append(process.start(component, argv, logs / f"{component}.log"))

    def _wait(
        self, record: ProcessRecord, component: str, ready: Callable[[], bool],
        check_all: list[ProcessRecord] | None = None, timeout: float = READY_TIMEOUT,
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for watched in check_all or [record]:
                if not process.is_alive(watched):
                    self._fail(watched)
            if ready():
                return
            time.sleep(0.1)
        raise ClusterError(
            f"{component} did not become ready within {timeout:.0f}s; see its log: {record.log}",
            component, record.log,
        )

    def _fail(self, record: ProcessRecord) -> None:
        tail = ""
        with contextlib.suppress(OSError):
            tail = "\n".join(Path(record.log).read_text(errors="replace").strip().splitlines()[-5:])
        raise ClusterError(
            f"{record.component} exited during start-up; see its log: {record.log}\n{tail}",
            record.component, record.log,
        )

    def _ready(self, info: ClusterInfo) -> bool:
        try:
            return _Api(info).get_text("/readyz") == "ok"
        except (OSError, urllib.error.URLError, ssl.SSLError):
            return False

    def _save(self, info: ClusterInfo) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(info.to_dict(), indent=2) + "\n")
        tmp.replace(self.state_file)


def stop_in_order(records: list[ProcessRecord]) -> None:
    for tier in STOP_TIERS:
        process.stop([r for r in records if r.component in tier])
    process.stop([r for r in records if not any(r.component in tier for tier in STOP_TIERS)])


def fake_node(name: str) -> dict[str, Any]:
    """A Node kwok manages: no taints (ordinary Pods schedule), a realistic capacity."""
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def list_clusters() -> list[str]:
    root = clusters_root()
    return sorted(p.name for p in root.iterdir() if (p / "state.json").is_file()) if root.is_dir() else []


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


class _Api:
    """The few admin calls start-up needs, over plain HTTPS (no client library)."""

    def __init__(self, info: ClusterInfo) -> None:
        self.server = info.server
        self.context = ssl.create_default_context(cafile=str(info.ca_cert))
        self.context.load_cert_chain(str(info.admin_cert), str(info.admin_key))

    def _request(self, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=5, context=self.context) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as err:
            return int(err.code), bytes(err.read())

    def get_text(self, path: str) -> str:
        return self._request(path)[1].decode()

    def exists(self, path: str) -> bool:
        try:
            return self._request(path)[0] == 200
        except (OSError, urllib.error.URLError):
            return False

    def create_if_absent(self, collection: str, obj: dict[str, Any]) -> None:
        code, body = self._request(collection, "POST", obj)
        if code not in (201, 409):
            raise ClusterError(f"creating {obj['kind']} {obj['metadata']['name']} failed: {code} {body[:300]!r}")

    def ready_nodes(self) -> int:
        try:
            code, body = self._request("/api/v1/nodes?labelSelector=type%3Dkwok")
        except (OSError, urllib.error.URLError):
            return 0
        if code != 200:
            return 0
        ready = 0
        for node in json.loads(body).get("items", []):
            conditions = node.get("status", {}).get("conditions") or []
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
                ready += 1
        return ready
