"""The inspection commands (events, logs, tree, trace, get --watch, completion) against the cluster.

Everything is real: the controllers reconcile a real Git repository, the CLI runs as a subprocess
(awaited, so the in-process controllers keep working), streaming commands are stopped with SIGINT as
a user's Ctrl-C, and completion runs click's protocol against the venv's `headwater` entry point.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.runtime.kube import KubeClient
from tests.cluster import test_cli
from tests.cluster.test_cli import CONFIGMAP, KS_API, SRC_API, Setup, headwater, ks_ready, kustomization
from tests.kubeconfigs import unreachable_kubeconfig
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster
flux_objects = test_cli.flux_objects  # the fixture (GitRepository `repo`, Kustomization `apps`, both Ready)

ENTRY_POINT = Path(sys.executable).parent / "headwater"


class Streaming:
    """A long-running CLI (`-w`, `-f`) whose stdout lines are collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode().rstrip("\n"))

    async def wait_line(self, needle: str, what: str) -> str:
        async def probe() -> str:
            return next((line for line in self.lines if needle in line), "")

        return await wait_for(probe, what)

    async def interrupt(self) -> tuple[int, str]:
        """Ctrl-C: the exit code and stderr."""
        self.proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(self.proc.wait(), 30)
        await self.reader
        assert self.proc.stderr is not None
        err = (await self.proc.stderr.read()).decode()
        assert "Traceback" not in err, err
        assert self.proc.returncode is not None
        return self.proc.returncode, err


async def streaming(kubeconfig: Path, *args: str, env: dict[str, str] | None = None) -> Streaming:
    base = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "FLUX_SYSTEM_NAMESPACE")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "headwater.cli.main", *args, "--kubeconfig", str(kubeconfig),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**base, **(env or {})},
    )
    return Streaming(proc)


async def complete(kubeconfig: Path, words: str) -> list[str]:
    """Run click's bash completion protocol against the installed entry point; the values offered.

    The cluster is named by KUBECONFIG, as in a user's shell; `words` end where the cursor is."""
    typed = f"headwater {words}"
    parts = typed.split()
    cword = len(parts) if typed.endswith(" ") else len(parts) - 1
    env = {**os.environ, "_HEADWATER_COMPLETE": "bash_complete", "COMP_WORDS": typed, "COMP_CWORD": str(cword),
           "KUBECONFIG": str(kubeconfig)}
    env.pop("FLUX_SYSTEM_NAMESPACE", None)
    proc = await asyncio.create_subprocess_exec(str(ENTRY_POINT), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert err.decode() == "", err.decode()
    return [line.partition(",")[2] for line in out.decode().splitlines() if line]


def table(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("\t")] for line in text.splitlines() if line.strip()]


# -- events ----------------------------------------------------------------------------------------


async def core_event(kube: KubeClient, namespace: str, kind: str, name: str, reason: str, event_type: str,
                     message: str) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    await kube.create({"apiVersion": "v1", "kind": "Event",
                       "metadata": {"generateName": f"{name}.", "namespace": namespace},
                       "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
                       "reason": reason, "type": event_type, "message": message, "count": 1,
                       "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "test"}})


async def test_events_merge_the_source_and_filter(kube: KubeClient, flux_objects: Setup) -> None:
    kc, ns = flux_objects.kubeconfig, flux_objects.namespace
    await core_event(kube, ns, "Kustomization", "apps", "HealthCheckFailed", "Warning", "web not ready")
    await core_event(kube, ns, "ConfigMap", "settings", "Noise", "Normal", "not a Flux kind")

    every = await headwater(kc, "events", "-n", ns)
    assert every.rc == 0, every.err
    rows = table(every.out)
    assert rows[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    objects = {row[3] for row in rows[1:]}
    assert {"Kustomization/apps", "GitRepository/repo"} <= objects
    assert "ConfigMap/settings" not in objects, "only events of Flux kinds"
    assert ["Warning", "HealthCheckFailed", "Kustomization/apps", "web not ready"] in [r[1:] for r in rows[1:]]

    merged = await headwater(kc, "events", "-n", ns, "--for", "Kustomization/apps")
    assert merged.rc == 0, merged.err
    assert {row[3] for row in table(merged.out)[1:]} == {"Kustomization/apps", "GitRepository/repo"}
    source_only = await headwater(kc, "events", "-n", ns, "--for", "gitrepository/repo")
    assert {row[3] for row in table(source_only.out)[1:]} == {"GitRepository/repo"}

    warnings = await headwater(kc, "events", "-n", ns, "--types", "warning")
    assert [row[1] for row in table(warnings.out)[1:]] == ["Warning"]
    everywhere = await headwater(kc, "events", "-A", "--for", "Kustomization")
    assert table(everywhere.out)[0][0] == "NAMESPACE"
    assert [ns, "Warning", "HealthCheckFailed", "Kustomization/apps"] in [r[:1] + r[2:5] for r in
                                                                          table(everywhere.out)]

    unknown = await headwater(kc, "events", "-n", ns, "--for", "Widget/x")
    assert unknown.rc == 1
    assert unknown.err.startswith("✗ 'Widget' is not a recognized Flux kind"), unknown.err
    missing = await headwater(kc, "events", "-n", ns, "--for", "Kustomization/nope")
    assert missing.rc == 1
    assert missing.err.strip() == f"✗ Kustomization '{ns}/nope' not found"
    bad_type = await headwater(kc, "events", "-n", ns, "--types", "Error")
    assert bad_type.rc == 1
    assert bad_type.err.strip() == "✗ --types: type 'Error' not supported. Supported types are Normal, Warning"
    empty = await headwater(kc, "events", "-n", "default", "--for", "Bucket")
    assert empty.rc == 0
    assert empty.err.strip() == "✗ No events found in default namespace."


async def test_events_watch_prints_new_events(kube: KubeClient, flux_objects: Setup) -> None:
    kc, ns = flux_objects.kubeconfig, flux_objects.namespace
    watch = await streaming(kc, "events", "-n", ns, "-w", "--for", "Kustomization/apps")
    await watch.wait_line("LAST SEEN", "the events table header")
    await watch.wait_line("GitRepository/repo", "the source's events")
    await core_event(kube, ns, "Kustomization", "apps", "Progressing", "Normal", "watched event")
    await core_event(kube, ns, "Kustomization", "other", "Progressing", "Normal", "someone else's event")
    line = await watch.wait_line("watched event", "the new event to be printed")
    assert "Kustomization/apps" in line
    rc, err = await watch.interrupt()
    assert rc == 0, err
    assert not any("someone else" in each for each in watch.lines)
    assert sum("LAST SEEN" in each for each in watch.lines) == 1


# -- get --watch -----------------------------------------------------------------------------------


async def test_get_watch_prints_a_row_per_change(kube: KubeClient, flux_objects: Setup) -> None:
    kc, ns = flux_objects.kubeconfig, flux_objects.namespace
    watch = await streaming(kc, "get", "ks", "-n", ns, "--watch")
    await watch.wait_line("apps", "the first table")
    assert watch.lines[0].split()[:3] == ["NAME", "REVISION", "SUSPENDED"]
    await kube.patch(KS_API, "Kustomization", "apps", {"spec": {"suspend": True}}, namespace=ns)

    async def suspended_row() -> bool:
        return any(line.split()[:1] == ["apps"] and line.split()[2] == "True" for line in watch.lines)

    await wait_for(suspended_row, "a row showing apps suspended")
    rc, err = await watch.interrupt()
    assert rc == 0, err
    assert sum(line.startswith("NAME") for line in watch.lines) == 1, watch.lines

    quiet = await streaming(kc, "get", "kustomizations", "-n", ns, "-w", "--no-header",
                            "--status-selector", "ready=true")
    first = await quiet.wait_line("apps", "the ready Kustomization")
    assert first == quiet.lines[0]
    await kube.create(kustomization("broken", ns, "./does-not-exist", ns))
    named = await streaming(kc, "get", "ks", "broken", "-A", "-w")
    await named.wait_line("broken", "the named Kustomization across namespaces")
    rc, _ = await named.interrupt()
    assert rc == 0
    assert named.lines[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert all("apps" not in line for line in named.lines)
    await asyncio.sleep(1.0)  # time for broken's Ready=False to reach the watch (it must not be printed)
    rc, _ = await quiet.interrupt()
    assert rc == 0
    assert all("broken" not in line for line in quiet.lines)

    single = await headwater(kc, "get", "ks", "apps", "-n", ns)
    assert table(single.out)[1][0] == "apps"
    missing = await headwater(kc, "get", "ks", "nope", "-n", ns, "-w")
    assert missing.rc == 1
    assert missing.err.strip() == f"✗ Kustomization '{ns}/nope' not found"
    refused = await headwater(kc, "get", "all", "-n", ns, "--watch")
    assert refused.rc == 1
    assert refused.err.startswith("✗ expected a single resource type, but found all")


# -- tree and trace --------------------------------------------------------------------------------


CHILD = """apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: child}}
spec: {{interval: 10m, path: ./apps, prune: true, targetNamespace: {namespace},
        sourceRef: {{kind: GitRepository, name: nested}}}}
"""


@pytest.fixture
async def nested(kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer,
                 repo_name: str, kustomize_controller: object) -> str:
    """Kustomization `root` applying Kustomization `child`, which applies ConfigMap `settings`."""
    repo = repo_builder.create(repo_name, {"root/child.yaml": CHILD.format(namespace=namespace),
                                           "apps/settings.yaml": CONFIGMAP.format(value="1")})
    revision = f"main@sha1:{repo.head('main')}"
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "nested", "namespace": namespace},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"}}})
    root = kustomization("root", namespace, "./root", namespace)
    root["spec"]["sourceRef"]["name"] = "nested"
    await kube.create(root)
    await ks_ready(kube, namespace, "root", revision)
    await ks_ready(kube, namespace, "child", revision)
    return namespace


async def test_tree_expands_nested_kustomizations(cluster_info: ClusterInfo, nested: str) -> None:
    kc, ns = cluster_info.kubeconfig, nested
    printed = await headwater(kc, "tree", "kustomization", "root", "-n", ns)
    assert printed.rc == 0, printed.err
    assert printed.out == (f"Kustomization/{ns}/root\n"
                           f"└── Kustomization/{ns}/child\n"
                           f"    └── ConfigMap/{ns}/settings\n")
    compact = await headwater(kc, "tree", "ks", "root", "-n", ns, "--compact")
    assert compact.out == f"Kustomization/{ns}/root\n└── Kustomization/{ns}/child\n"
    data = json.loads((await headwater(kc, "tree", "ks", "root", "-n", ns, "-o", "json")).out)
    child = data["resources"][0]
    assert child["resource"] == {"Namespace": ns, "Name": "child",
                                 "GroupKind": {"Group": "kustomize.toolkit.fluxcd.io", "Kind": "Kustomization"}}
    assert child["resources"][0]["resource"]["GroupKind"] == {"Group": "", "Kind": "ConfigMap"}
    as_yaml = await headwater(kc, "tree", "ks", "root", "-n", ns, "-o", "yaml")
    assert as_yaml.out.startswith("resource:\n  Namespace: ")

    missing = await headwater(kc, "tree", "ks", "nope", "-n", ns)
    assert missing.rc == 1
    assert missing.err.strip() == f"✗ Kustomization '{ns}/nope' not found"
    no_name = await headwater(kc, "tree", "ks", "-n", ns)
    assert no_name.rc == 1
    assert no_name.err.strip() == "✗ kustomization name is required"


async def test_trace_walks_to_the_kustomization_and_source(kube: KubeClient, flux_objects: Setup,
                                                           git_http: GitHttpServer, repo_name: str) -> None:
    kc, ns, revision = flux_objects.kubeconfig, flux_objects.namespace, flux_objects.revision
    traced = await headwater(kc, "trace", "configmap/settings", "-n", ns)
    assert traced.rc == 0, traced.err
    lines = traced.out.splitlines()
    assert lines[:4] == ["", "Object:          ConfigMap/settings", f"Namespace:       {ns}",
                         "Status:          Managed by Flux"]
    ks_at = lines.index("Kustomization:   apps")
    assert lines[ks_at - 1] == "---"
    assert lines[ks_at + 1:ks_at + 5] == [f"Namespace:       {ns}", f"Target:          {ns}",
                                          "Path:            ./apps", f"Revision:        {revision}"]
    assert lines[ks_at + 5].startswith("Status:          Last reconciled at ")
    assert lines[ks_at + 5].endswith(" +0000 UTC")
    assert lines[ks_at + 6] == f"Message:         Applied revision: {revision}"
    git_at = lines.index("GitRepository:   repo")
    assert lines[git_at + 1:git_at + 5] == [f"Namespace:       {ns}", f"URL:             {git_http.url(repo_name)}",
                                            "Branch:          main", f"Revision:        {revision}"]
    assert lines[git_at + 5].startswith("Status:          Last reconciled at ")

    static = await headwater(kc, "trace", "settings", "--kind", "ConfigMap", "--api-version", "v1", "-n", ns)
    assert static.out == traced.out
    spaced = await headwater(kc, "trace", "cm", "settings", "-n", ns)
    assert spaced.out == traced.out

    await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain", "namespace": ns}})
    unmanaged = await headwater(kc, "trace", "cm/plain", "-n", ns)
    assert unmanaged.rc == 1
    assert unmanaged.err.strip() == (f"✗ ConfigMap '{ns}/plain' is not managed by Flux "
                                     "(no kustomize.toolkit.fluxcd.io/name or helm.toolkit.fluxcd.io/name label)")
    missing = await headwater(kc, "trace", "deployment/nope", "-n", ns)
    assert missing.rc == 1
    assert missing.err.strip() == f"✗ Deployment '{ns}/nope' not found"
    unknown = await headwater(kc, "trace", "nosuchkinds/x", "-n", ns)
    assert unknown.rc == 1
    assert unknown.err.strip() == '✗ the server doesn\'t have a resource type "nosuchkinds"'
    half = await headwater(kc, "trace", "settings", "--kind", "ConfigMap", "-n", ns)
    assert half.rc == 1
    assert "--kind and --api-version go together" in half.err


# -- logs ------------------------------------------------------------------------------------------


@pytest.fixture
async def local_controller(cluster_info: ClusterInfo, namespace: str,
                           tmp_path: Path) -> AsyncIterator[tuple[Path, str]]:
    """`headwater controller kustomize --log-file` as a process, for Kustomizations labelled for it."""
    log_dir = tmp_path / "logs"
    proc = await asyncio.create_subprocess_exec(
        str(ENTRY_POINT), "controller", "kustomize", "--kubeconfig", str(cluster_info.kubeconfig),
        "--log-file", str(log_dir / "kustomize-controller.log"), "--metrics-addr", "0", "--health-addr", "0",
        f"--watch-label-selector=headwater.dev/isolated={namespace}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    yield log_dir, namespace
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.wait(), 30)


async def test_logs_read_local_controller_files(kube: KubeClient, flux_objects: Setup, git_http: GitHttpServer,
                                                repo_name: str, local_controller: tuple[Path, str]) -> None:
    kc, ns = flux_objects.kubeconfig, flux_objects.namespace
    log_dir, label = local_controller
    isolated = {"headwater.dev/isolated": label}  # what the local controller watches, sources included
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "local-src", "namespace": ns, "labels": isolated},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"}}})
    mine = kustomization("local", ns, "./missing", ns)  # a failing reconcile is logged at info level
    mine["metadata"]["labels"] = isolated
    mine["spec"]["sourceRef"]["name"] = "local-src"
    await kube.create(mine)

    async def logged() -> bool:
        files = list(log_dir.glob("*.log")) if log_dir.is_dir() else []
        return any("missing" in path.read_text() for path in files)

    await wait_for(logged, "the local controller to log about its Kustomization")
    shown = await headwater(kc, "logs", "-n", ns, "--kind", "kustomization", "--name", "local",
                            "--log-dir", str(log_dir))
    assert shown.rc == 0, shown.err
    lines = shown.out.splitlines()
    assert lines, shown.err
    for line in lines:
        ts, level, who, dash, _ = line.split(" ", 4)
        assert ts.endswith("Z")
        assert level == "info"
        assert (who, dash) == (f"Kustomization/local.{ns}", "-")
    assert any("missing" in line for line in lines), lines
    everything = await headwater(kc, "logs", "-A", "--log-dir", str(log_dir))
    assert any(" info  - " in line for line in everything.out.splitlines()), "-A keeps lines about no object"
    assert " info  - " not in shown.out
    other = await headwater(kc, "logs", "-n", "default", "--log-dir", str(log_dir))
    assert other.out == "", "lines of other namespaces are left out"
    errors = await headwater(kc, "logs", "-n", ns, "--name", "local", "--level", "error", "--log-dir", str(log_dir))
    assert errors.rc == 0
    assert errors.out == ""
    recent = await headwater(kc, "logs", "-n", ns, "--name", "local", "--tail", "1", "--log-dir", str(log_dir))
    assert len(recent.out.splitlines()) == 1

    follow = await streaming(kc, "logs", "-n", ns, "--name", "local", "-f", env={"HEADWATER_LOG_DIR": str(log_dir)})
    await follow.wait_line(f"Kustomization/local.{ns}", "the logged lines, read through HEADWATER_LOG_DIR")
    await kube.patch(KS_API, "Kustomization", "local", {"spec": {"path": "./elsewhere"}}, namespace=ns)
    line = await follow.wait_line("elsewhere", "a new log line while following")
    assert line.split(" ", 4)[2] == f"Kustomization/local.{ns}"
    rc, err = await follow.interrupt()
    assert rc == 0, err


async def test_logs_without_pods_or_files(cluster_info: ClusterInfo, namespace: str, tmp_path: Path) -> None:
    kc = cluster_info.kubeconfig
    nothing = await headwater(kc, "logs", "--flux-namespace", namespace)
    assert nothing.rc == 1
    assert nothing.err.strip().startswith(f"✗ no Flux controller Pods in {namespace} namespace")
    assert "HEADWATER_LOG_DIR" in nothing.err
    empty = await headwater(kc, "logs", "--flux-namespace", namespace, "--log-dir", str(tmp_path))
    assert empty.rc == 1
    assert empty.err.strip() == f"✗ no controller log files (*.log) in {tmp_path}"
    bad = await headwater(kc, "logs", "--flux-namespace", namespace, "--since", "soon")
    assert bad.rc == 1
    assert bad.err.startswith("✗ --since:")


async def test_logs_read_controller_pods(kube: KubeClient, cluster_info: ClusterInfo, namespace: str) -> None:
    """The pod path: the controller Pod is found; this cluster's kwok nodes serve no logs, so the
    pods/log call fails, and says which Pod it could not read."""
    labels = {"app": "kustomize-controller"}
    await kube.create({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "kustomize-controller", "namespace": namespace,
                                    "labels": {"app.kubernetes.io/part-of": "flux"}},
                       "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                                "template": {"metadata": {"labels": labels},
                                             "spec": {"containers": [{"name": "manager", "image": "x"}],
                                                      "tolerations": [{"operator": "Exists"}]}}}})

    async def pod() -> str | None:
        items = (await kube.list("v1", "Pod", namespace))["items"]
        return str(items[0]["metadata"]["name"]) if items else None

    name = await wait_for(pod, "the Deployment's Pod")
    read = await headwater(cluster_info.kubeconfig, "logs", "--flux-namespace", namespace)
    assert read.rc == 1
    assert read.err.startswith(f"✗ cannot read the logs of Pod '{namespace}/{name}': "), read.err
    assert read.err.count("\n") == 1


# -- completion ------------------------------------------------------------------------------------


async def test_completion_offers_cluster_names(flux_objects: Setup) -> None:
    kc, ns = flux_objects.kubeconfig, flux_objects.namespace
    assert await complete(kc, f"reconcile ks -n {ns} ") == ["apps"]
    assert await complete(kc, f"reconcile source git -n {ns} r") == ["repo"]
    assert await complete(kc, f"suspend kustomization -n {ns} ") == ["apps"]
    assert await complete(kc, f"resume ks apps -n {ns} ") == [], "a name already typed is not offered again"
    assert await complete(kc, f"tree ks -n {ns} a") == ["apps"]
    assert await complete(kc, f"get ks -n {ns} ") == ["apps"]
    assert await complete(kc, f"trace -n {ns} configmap/se") == ["configmap/settings"]
    assert await complete(kc, f"trace -n {ns} --kind Kustomization --api-version {KS_API} ") == ["apps"]
    assert await complete(kc, f"-n {ns} reconcile ks ") == ["apps"], "flags before the subcommand count"
    assert await complete(kc, f"--kubeconfig {kc} reconcile ks -n {ns} ") == ["apps"]
    assert await complete(kc, "reconcile ks -n no-such-namespace ") == []


async def test_completion_is_silent_when_the_cluster_is_unreachable(tmp_path: Path) -> None:
    assert await complete(unreachable_kubeconfig(tmp_path), "reconcile ks ") == []
    assert await complete(tmp_path / "absent", "suspend ks ") == []


# -- unreachable cluster ---------------------------------------------------------------------------


async def test_unreachable_cluster_is_one_clear_line(tmp_path: Path) -> None:
    kubeconfig = unreachable_kubeconfig(tmp_path)
    for args in (["events"], ["events", "-w", "--for", "Kustomization/x"], ["logs", "-A"], ["tree", "ks", "x"],
                 ["trace", "cm/x"], ["trace", "x", "--kind", "ConfigMap", "--api-version", "v1"],
                 ["get", "ks", "-w"]):
        result = await headwater(kubeconfig, *args, timeout=30)
        assert result.rc == 1, args
        assert result.err.count("\n") == 1, result.err
        assert result.err.startswith("✗ cannot reach the Kubernetes API at https://127.0.0.1:1"), result.err
