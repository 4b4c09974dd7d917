"""Leader election against the real apiserver: one leader at a time, hand-over on release and on kill -9,
and optimistic concurrency (a Conflict never makes a candidate leader)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from headwater.devcluster.cluster import ClusterInfo
from headwater.runtime.kube import Conflict, KubeClient
from headwater.runtime.leader import (
    JITTER_FACTOR,
    LEASE_API_VERSION,
    LEASE_KIND,
    LeaderElectionRecord,
    LeaderElector,
    LeadershipLost,
    lease_spec,
    new_lease,
    release_record,
)
from headwater.runtime.metrics import FluxMetrics
from tests.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

LEASE, RENEW, RETRY = 4.0, 3.0, 0.5
#: The longest a candidate waits between two attempts (client-go jitters the retry period up by 120%).
MAX_RETRY_WAIT = RETRY * (1 + JITTER_FACTOR)
#: Slack for requests and scheduling on a busy machine.
SLACK = 1.0
NAME = "kustomize-controller-leader-election"
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
WORKER = Path(__file__).with_name("leader_worker.py")


def make_elector(kube: KubeClient, namespace: str, identity: str | None = None) -> LeaderElector:
    return LeaderElector(kube, namespace, NAME, identity, lease_duration=LEASE, renew_deadline=RENEW,
                         retry_period=RETRY, metrics=FluxMetrics(CollectorRegistry(), process_metrics=False))


def master_status(elector: LeaderElector) -> float | None:
    registry = elector.metrics.registry
    return registry.get_sample_value("leader_election_master_status", {"name": elector.name})


async def lease_of(kube: KubeClient, namespace: str, name: str = NAME) -> dict[str, Any]:
    spec: dict[str, Any] = (await kube.get(LEASE_API_VERSION, LEASE_KIND, name, namespace))["spec"]
    return spec


async def stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_two_electors_one_leads_and_the_other_takes_over_after_release(kube: KubeClient, namespace: str) -> None:
    a, b = make_elector(kube, namespace), make_elector(kube, namespace)
    started: list[str] = []
    stopped: list[str] = []

    def callbacks(e: LeaderElector) -> tuple[Callable[[], Awaitable[None]], Callable[[], None]]:
        async def lead() -> None:
            started.append(e.identity)
            await asyncio.Event().wait()  # leading work runs until it is cancelled

        return lead, lambda: stopped.append(e.identity)

    tasks = [asyncio.create_task(e.run(*callbacks(e))) for e in (a, b)]
    try:
        async def sole_leader() -> LeaderElector | None:
            leaders = [e for e in (a, b) if e.is_leader]
            return leaders[0] if len(leaders) == 1 else None

        leader = await wait_for(sole_leader, "one of two electors to lead", timeout=10)
        assert leader is not None
        follower = b if leader is a else a
        spec = await lease_of(kube, namespace)
        assert spec["holderIdentity"] == leader.identity
        assert spec["leaseDurationSeconds"] == int(LEASE)
        assert spec["leaseTransitions"] == 0
        assert MICRO_TIME.match(spec["acquireTime"])
        assert MICRO_TIME.match(spec["renewTime"])
        assert started == [leader.identity]
        assert master_status(leader) == 1.0
        assert master_status(follower) == 0.0

        # For longer than a lease duration the leader keeps renewing and the follower keeps off.
        first_renew, acquired = spec["renewTime"], spec["acquireTime"]
        watch_until = time.monotonic() + LEASE + RETRY
        while time.monotonic() < watch_until:
            assert leader.is_leader
            assert not follower.is_leader
            await asyncio.sleep(0.05)
        spec = await lease_of(kube, namespace)
        assert spec["holderIdentity"] == leader.identity
        assert spec["renewTime"] > first_renew
        assert spec["acquireTime"] == acquired
        assert started == [leader.identity]

        # Graceful hand-over: released, the Lease is taken at the follower's next attempt.
        assert await leader.release()
        released_at = time.monotonic()
        assert tasks[(a, b).index(leader)].done()  # run() returned on its own
        assert not leader.is_leader
        await wait_for(lambda: _true_if(follower.is_leader), "the follower to take over", timeout=10, interval=0.02)
        took = time.monotonic() - released_at
        assert took <= MAX_RETRY_WAIT + SLACK, f"take-over after release took {took:.2f}s"
        spec = await lease_of(kube, namespace)
        assert spec["holderIdentity"] == follower.identity
        assert spec["leaseDurationSeconds"] == int(LEASE)
        assert spec["leaseTransitions"] == 1
        assert started == [leader.identity, follower.identity]
        assert stopped == [leader.identity]
        assert master_status(leader) == 0.0
        assert master_status(follower) == 1.0
    finally:
        await stop(*tasks)
    # Cancelling run() is a graceful shutdown too: the follower-turned-leader released the Lease.
    spec = await lease_of(kube, namespace)
    assert spec["holderIdentity"] == ""
    assert spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 1


async def _true_if(value: bool) -> bool:
    return value


def timeline(*outs: Path) -> list[tuple[float, str, str]]:
    """All worker lines as (time, identity, event), in time order."""
    lines: list[tuple[float, str, str]] = []
    for out in outs:
        if out.exists():
            for line in out.read_text(encoding="utf-8").splitlines():
                identity, event, at = line.split(" ")
                lines.append((float(at), identity, event))
    return sorted(lines)


async def test_kill_9_of_the_leader_process_hands_over_after_the_lease_expires(
    kube: KubeClient, namespace: str, cluster_info: ClusterInfo, tmp_path: Path
) -> None:
    outs = [tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
    procs: list[asyncio.subprocess.Process] = []
    try:
        for i, out in enumerate(outs):
            with (tmp_path / f"worker-{i}.stderr").open("wb") as stderr:
                procs.append(await asyncio.create_subprocess_exec(
                    sys.executable, str(WORKER), "--kubeconfig", str(cluster_info.kubeconfig),
                    "--namespace", namespace, "--name", NAME, "--out", str(out),
                    "--lease", str(LEASE), "--renew", str(RENEW), "--retry", str(RETRY),
                    stdout=asyncio.subprocess.DEVNULL, stderr=stderr, cwd=tmp_path,
                ))

        def identity_of(i: int) -> str | None:
            events = timeline(outs[i])
            return events[0][1] if events else None

        async def both_started_one_leading() -> list[tuple[float, str, str]] | None:
            for i, proc in enumerate(procs):
                assert proc.returncode is None, f"worker {i} exited: {(tmp_path / f'worker-{i}.stderr').read_text()}"
            events = timeline(*outs)
            starts = [e for e in events if e[2] == "started"]
            leads = [e for e in events if e[2] == "leading"]
            return events if len(starts) == 2 and len(leads) == 1 else None

        events = await wait_for(both_started_one_leading, "both workers up and one leading", timeout=20)
        assert events is not None
        leader_id = next(e[1] for e in events if e[2] == "leading")
        leader_index = 0 if identity_of(0) == leader_id else 1
        follower_index = 1 - leader_index
        follower_id = identity_of(follower_index)
        assert follower_id is not None
        assert follower_id != leader_id
        assert (await lease_of(kube, namespace))["holderIdentity"] == leader_id

        # While the leader renews, the follower does not take over even after a full lease duration.
        follower_start = next(e[0] for e in events if e[1] == follower_id)

        async def follower_waited_out_a_lease() -> bool:
            return time.time() > follower_start + LEASE + RETRY

        await wait_for(follower_waited_out_a_lease, "the follower to have campaigned for a lease duration",
                       timeout=LEASE + 10)
        assert [e[1] for e in timeline(*outs) if e[2] == "leading"] == [leader_id]
        assert (await lease_of(kube, namespace))["holderIdentity"] == leader_id

        os.kill(procs[leader_index].pid, signal.SIGKILL)
        killed_at = time.time()
        await asyncio.wait_for(procs[leader_index].wait(), 10)

        async def follower_leading() -> float | None:
            return next((e[0] for e in timeline(outs[follower_index]) if e[2] == "leading"), None)

        bound = LEASE + 2 * MAX_RETRY_WAIT + SLACK
        led_at = await wait_for(follower_leading, "the follower to lead after kill -9", timeout=bound + 5,
                                interval=0.05)
        assert led_at is not None
        took = led_at - killed_at
        # It must wait for the lease to expire (no earlier than a lease duration after the leader's last
        # renewal, which was at most one retry period before the kill), and not much longer.
        assert LEASE - RETRY - 0.5 <= took <= bound, f"take-over {took:.2f}s after kill -9"
        spec = await lease_of(kube, namespace)
        assert spec["holderIdentity"] == follower_id
        assert spec["leaseTransitions"] == 1

        # The timeline: never two leaders at once (the killed one led until the kill, the other after it).
        final = timeline(*outs)
        leads = [(at, who) for at, who, event in final if event == "leading"]
        assert [who for _, who in leads] == [leader_id, follower_id]
        assert leads[0][0] < killed_at < leads[1][0]
        assert not any(event == "stopped" for _, who, event in final if who == leader_id)  # kill -9: no goodbye
    finally:
        for proc in procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await asyncio.wait_for(proc.wait(), 10)


async def test_a_conflict_between_read_and_write_does_not_make_us_leader(
    kube: KubeClient, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    # A released Lease: any candidate would take it at its first attempt ...
    await kube.create(new_lease(namespace, NAME, release_record(LeaderElectionRecord("old", 4, now, now, 3), now)))
    intruder = LeaderElectionRecord("intruder", 30, now, now, 4)
    client = kube.impersonating(None)  # same connection pool; its `get` is patched below
    real_get = client.get

    async def get_then_intrude(api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        seen = await real_get(api_version, kind, name, namespace)
        # ... but someone else writes between our read and our write.
        await kube.replace({**seen, "spec": lease_spec(intruder)})
        return seen

    monkeypatch.setattr(client, "get", get_then_intrude)
    elector = make_elector(client, namespace)
    assert not await elector.try_acquire_or_renew()  # the apiserver answered 409 Conflict to our update
    assert not elector.is_leader
    spec = await lease_of(kube, namespace)
    assert spec["holderIdentity"] == "intruder"
    assert spec["leaseTransitions"] == 4

    # Campaigning on, it sees the intruder's unexpired Lease and keeps off.
    monkeypatch.setattr(client, "get", real_get)
    led: list[str] = []

    async def lead() -> None:
        led.append(elector.identity)

    task = asyncio.create_task(elector.run(lead))
    try:
        await wait_for(lambda: _true_if(elector.leader == "intruder"), "the elector to see the intruder", timeout=5)
        watch_until = time.monotonic() + 3 * MAX_RETRY_WAIT
        while time.monotonic() < watch_until:
            assert not elector.is_leader
            await asyncio.sleep(0.05)
        assert led == []
        assert await elector.release()
        await asyncio.wait_for(task, 5)
    finally:
        await stop(task)
    spec = await lease_of(kube, namespace)
    assert spec["holderIdentity"] == "intruder"  # releasing touched nothing it did not hold
    assert spec["leaseTransitions"] == 4


async def test_a_leader_whose_lease_is_taken_behind_its_back_steps_down(kube: KubeClient, namespace: str) -> None:
    elector = make_elector(kube, namespace)
    lead_cancelled = asyncio.Event()
    stopped: list[bool] = []

    async def lead() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            lead_cancelled.set()
            raise

    task = asyncio.create_task(elector.run(lead, lambda: stopped.append(True)))
    try:
        await wait_for(lambda: _true_if(elector.is_leader), "the elector to lead", timeout=10)

        async def take_it() -> bool:
            lease = await kube.get(LEASE_API_VERSION, LEASE_KIND, NAME, namespace)
            now = datetime.now(UTC)
            try:
                await kube.replace({**lease, "spec": lease_spec(LeaderElectionRecord("intruder", 30, now, now, 1))})
            except Conflict:  # the leader renewed between our read and write: read again
                return False
            return True

        await wait_for(take_it, "another writer to take the Lease", timeout=5, interval=0)
        taken_at = time.monotonic()
        with pytest.raises(LeadershipLost):
            await asyncio.wait_for(task, RENEW + SLACK)
        assert time.monotonic() - taken_at <= RETRY + SLACK  # at its next renewal, not at the deadline
    finally:
        await stop(task)
    assert lead_cancelled.is_set()
    assert stopped == [True]
    assert not elector.is_leader
    assert master_status(elector) == 0.0
    assert (await lease_of(kube, namespace))["holderIdentity"] == "intruder"
