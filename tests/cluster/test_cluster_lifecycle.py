"""`up`/`down` of extra clusters next to the session's: ports, idempotence, clean stop, failures."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path

import psutil
import pytest

from headwater.devcluster import process
from headwater.devcluster.cluster import Cluster, ClusterError, ClusterInfo
from headwater.devcluster.ports import is_free
from headwater.runtime.kube import ConfigError, connect
from headwater.runtime.kube.remote import RemoteClients

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


async def test_second_cluster_runs_beside_the_first_and_down_frees_everything(
    cluster_info: ClusterInfo,
) -> None:
    with socket.socket() as squatter:  # a port somebody else holds
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]

        second = Cluster(f"pytest-second-{os.getpid()}", nodes=1, api_port=taken)
        messages: list[str] = []
        info = second.up(messages.append)
        try:
            assert info.ports["apiserver"] != taken
            assert any(f"port {taken} is taken" in m for m in messages)
            assert info.server != cluster_info.server
            assert set(info.ports.values()).isdisjoint(cluster_info.ports.values())

            for each in (cluster_info, info):
                async with connect(each.kubeconfig) as kube:
                    assert (await kube.version())["gitVersion"].startswith("v1.36.")
            async with connect(info.kubeconfig) as kube:
                nodes = (await kube.list("v1", "Node"))["items"]
                assert [n["metadata"]["name"] for n in nodes] == ["kwok-node-0"]

            await _remote_client_reaches_the_second_cluster(cluster_info, info)

            again = second.up(messages.append)  # idempotent: same processes, same server
            assert again.server == info.server
            assert [p.pid for p in again.processes] == [p.pid for p in info.processes]
        finally:
            assert second.down(lambda _m: None)

    pids = [p.pid for p in info.processes]
    assert len(pids) == 5
    for record in info.processes:
        assert not process.is_alive(record), f"{record.component} (pid {record.pid}) still runs after down"
        assert not psutil.pid_exists(record.pid) or psutil.Process(record.pid).create_time() != record.create_time
    busy = [f"{name}:{port}" for name, port in info.ports.items() if not is_free(port)]
    assert busy == [], f"ports still bound after down: {busy}"
    listening = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert listening.isdisjoint(info.ports.values())
    assert not second.state_dir.exists()
    assert second.info() is None
    assert not second.down(lambda _m: None)  # a second down is a harmless no-op

    async with connect(cluster_info.kubeconfig) as kube:  # the session's cluster is untouched
        assert (await kube.version())["gitVersion"].startswith("v1.36.")


async def _remote_client_reaches_the_second_cluster(first: ClusterInfo, second: ClusterInfo) -> None:
    """A kubeconfig Secret in the first cluster gives a client of the second (Flux's `kubeConfig`)."""
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "second-kubeconfig", "namespace": "default"},
              "data": {"value.yaml": base64.b64encode(second.kubeconfig.read_bytes()).decode()}}
    async with connect(first.kubeconfig) as kube:
        await kube.apply(secret, field_manager="tests", force=True)
        stored = await kube.get("v1", "Secret", "second-kubeconfig", "default")
        remote = RemoteClients()
        try:
            client = await remote.for_secret(stored)
            assert client is await remote.for_secret(stored)  # cached per content
            nodes = (await client.list("v1", "Node"))["items"]
            assert [n["metadata"]["name"] for n in nodes] == ["kwok-node-0"]  # the second cluster has one node
            with pytest.raises(ConfigError, match="no kubeconfig under key 'other'"):
                await remote.for_secret(stored, key="other")
        finally:
            await remote.close()
            await kube.delete("v1", "Secret", "second-kubeconfig", "default")


def test_component_dying_on_start_fails_up_naming_it_and_cleans_up() -> None:
    broken = Cluster(f"pytest-broken-{os.getpid()}", nodes=1,
                     extra_args={"kube-scheduler": ["--no-such-flag=1"]})

    with pytest.raises(ClusterError) as failure:
        broken.up(lambda _m: None)
    err = failure.value
    assert err.component == "kube-scheduler"
    assert err.log == str(broken.logs_dir / "kube-scheduler.log")
    assert f"kube-scheduler exited during start-up; see its log: {err.log}" in str(err)
    assert "no-such-flag" in Path(err.log).read_text(), "the log that the error names must hold the cause"
    assert not broken.state_dir.exists(), "state of a failed up must be removed"
    leftovers = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"])
                 if any(str(broken.state_dir) in arg or str(broken.logs_dir) in arg for arg in p.info["cmdline"] or [])]
    assert leftovers == [], f"processes of the failed cluster still run: {leftovers}"
