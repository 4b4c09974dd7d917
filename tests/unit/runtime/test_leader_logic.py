"""Unit tests for headwater.runtime.leader: the election decisions, the Lease wire form, and one attempt
of acquire-or-renew against an in-memory Lease store with a fake clock."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from headwater.runtime.kube import AlreadyExists, ClusterUnreachable, Conflict, KubeClient, NotFound
from headwater.runtime.leader import (
    LeaderElectionRecord,
    LeaderElector,
    LeadershipLost,
    default_identity,
    desired_record,
    format_micro_time,
    lease_expired,
    lease_spec,
    new_lease,
    parse_micro_time,
    record_from_lease,
    release_record,
    should_try_acquire,
)
from headwater.runtime.metrics import FluxMetrics
from headwater.runtime.options import ControllerOptions

pytestmark = pytest.mark.unit

T0 = datetime(2026, 8, 1, 12, 0, 0, 123456, tzinfo=UTC)
ME = "host-a_11111111-1111-1111-1111-111111111111"
OTHER = "host-b_22222222-2222-2222-2222-222222222222"


def rec(holder: str, duration: int = 35, transitions: int = 0, acquired: datetime = T0) -> LeaderElectionRecord:
    return LeaderElectionRecord(holder, duration, acquired, acquired, transitions)


# --------------------------------------------------------------------------- pure decisions


@pytest.mark.parametrize(
    ("observed_time", "duration", "now", "expired"),
    [
        (100.0, 35, 100.0, False),  # just observed
        (100.0, 35, 134.9, False),  # still inside the lease
        (100.0, 35, 135.0, True),  # exactly one lease duration later
        (100.0, 35, 500.0, True),
        (100.0, 1, 101.5, True),  # a released Lease expires after one second
        (100.0, 0, 100.0, True),  # a record without a duration is never valid
    ],
)
def test_lease_expired_is_measured_from_the_local_observation(
    observed_time: float, duration: int, now: float, expired: bool
) -> None:
    assert lease_expired(observed_time, duration, now) is expired


@pytest.mark.parametrize(
    ("observed", "observed_time", "now", "try_it"),
    [
        (rec(OTHER), 100.0, 110.0, False),  # someone else, not expired: wait
        (rec(OTHER), 100.0, 135.0, True),  # someone else, expired on our clock: take over
        (rec(ME), 100.0, 110.0, True),  # ours: renew
        (rec(ME), 100.0, 999.0, True),  # ours even if expired
        (rec(""), 100.0, 100.0, True),  # released: take at once
        (LeaderElectionRecord(), 100.0, 100.0, True),  # an empty spec
        (rec(OTHER, duration=1), 100.0, 100.5, False),
        (rec(OTHER, duration=1), 100.0, 101.0, True),
    ],
)
def test_should_try_acquire(observed: LeaderElectionRecord, observed_time: float, now: float, try_it: bool) -> None:
    assert should_try_acquire(observed, observed_time, now, ME) is try_it


def test_an_ancient_renew_time_does_not_count_only_the_observation_does() -> None:
    # renewTime a day ago (another node's clock may be off): a candidate still waits a full duration.
    stale = rec(OTHER, acquired=T0 - timedelta(days=1))
    assert not should_try_acquire(stale, observed_time=1000.0, now=1000.0, identity=ME)
    assert should_try_acquire(stale, observed_time=1000.0, now=1035.0, identity=ME)


T1 = T0 + timedelta(seconds=5)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (None, LeaderElectionRecord(ME, 35, T1, T1, 0)),  # create
        (rec(ME, transitions=3), LeaderElectionRecord(ME, 35, T0, T1, 3)),  # renew keeps acquire/transitions
        (rec(ME, duration=15, transitions=3), LeaderElectionRecord(ME, 35, T0, T1, 3)),  # our duration wins
        (rec(OTHER, transitions=3), LeaderElectionRecord(ME, 35, T1, T1, 4)),  # take over
        (rec("", duration=1, transitions=4), LeaderElectionRecord(ME, 35, T1, T1, 5)),  # after a release
    ],
)
def test_desired_record(current: LeaderElectionRecord | None, expected: LeaderElectionRecord) -> None:
    assert desired_record(ME, 35, T1, current) == expected


def test_release_record_empties_the_holder_and_keeps_transitions() -> None:
    assert release_record(rec(ME, transitions=7), T1) == LeaderElectionRecord("", 1, T1, T1, 7)


# --------------------------------------------------------------------------- wire form


@pytest.mark.parametrize(
    ("moment", "wire"),
    [
        (T0, "2026-08-01T12:00:00.123456Z"),
        (datetime(2026, 8, 1, 12, 0, tzinfo=UTC), "2026-08-01T12:00:00.000000Z"),
        (datetime(2026, 8, 1, 14, 0, 0, 5, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris")),
         "2026-08-01T14:00:00.000005Z"),
    ],
)
def test_micro_time_is_rfc3339_utc_with_microseconds(moment: datetime, wire: str) -> None:
    assert format_micro_time(moment) == wire
    assert parse_micro_time(wire) == moment


@pytest.mark.parametrize("bad", [None, "", "yesterday", 17])
def test_unparseable_micro_time_reads_as_absent(bad: object) -> None:
    assert parse_micro_time(bad) is None


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_micro_time(datetime(2026, 1, 1))


def test_lease_spec_and_back() -> None:
    record = rec(ME, duration=35, transitions=2)
    spec = lease_spec(record)
    assert spec == {
        "holderIdentity": ME,
        "leaseDurationSeconds": 35,
        "acquireTime": "2026-08-01T12:00:00.123456Z",
        "renewTime": "2026-08-01T12:00:00.123456Z",
        "leaseTransitions": 2,
    }
    assert record_from_lease({"spec": spec}) == record
    lease = new_lease("flux-system", "kustomize-controller-leader-election", record)
    assert lease["apiVersion"] == "coordination.k8s.io/v1"
    assert lease["kind"] == "Lease"
    assert lease["metadata"] == {"name": "kustomize-controller-leader-election", "namespace": "flux-system"}


def test_released_spec_keeps_an_empty_holder_on_the_wire() -> None:
    spec = lease_spec(release_record(rec(ME, transitions=1), T1))
    assert spec["holderIdentity"] == ""
    assert spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 1


@pytest.mark.parametrize(
    ("lease", "expected"),
    [
        ({}, LeaderElectionRecord()),
        ({"spec": None}, LeaderElectionRecord()),
        ({"spec": {"holderIdentity": None, "leaseDurationSeconds": 15}}, LeaderElectionRecord("", 15)),
        ({"spec": {"holderIdentity": OTHER, "preferredHolder": ME, "strategy": "OldestEmulationVersion"}},
         LeaderElectionRecord(OTHER, strategy="OldestEmulationVersion", preferred_holder=ME)),
    ],
)
def test_record_from_partial_leases(lease: dict[str, Any], expected: LeaderElectionRecord) -> None:
    assert record_from_lease(lease) == expected


def test_identity_is_hostname_underscore_uuid() -> None:
    import socket
    import uuid

    identity = default_identity()
    host, _, rest = identity.rpartition("_")
    assert host == socket.gethostname()
    assert uuid.UUID(rest).version == 4
    assert default_identity() != identity


@pytest.mark.parametrize(
    ("lease", "renew", "retry", "message"),
    [
        (30.0, 30.0, 5.0, "greater than the renew deadline"),
        (0.5, 0.2, 0.1, "at least one second"),
        (35.0, 30.0, 0.0, "positive"),
        (35.0, 6.0, 5.0, "retry period"),
    ],
)
def test_inconsistent_timings_are_refused(lease: float, renew: float, retry: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LeaderElector(cast(KubeClient, FakeKube()), "ns", "x", ME,
                      lease_duration=lease, renew_deadline=renew, retry_period=retry)


def test_from_options_uses_flux_names_and_defaults() -> None:
    elector = LeaderElector.from_options(cast(KubeClient, FakeKube()), ControllerOptions(),
                                         "kustomize-controller", "flux-system", ME)
    assert elector.name == "kustomize-controller-leader-election"
    assert (elector.lease_duration, elector.renew_deadline, elector.retry_period) == (35.0, 30.0, 5.0)
    assert elector.lease_duration_seconds == 35
    assert elector.release_on_cancel


# --------------------------------------------------------------------------- one attempt, in memory


class FakeKube:
    """Lease storage with the apiserver's optimistic concurrency (resourceVersion)."""

    def __init__(self) -> None:
        self.leases: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 0
        self.writes = 0
        self.before_write: list[Any] = []  # callbacks run just before the next write lands

    def _stamp(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.leases[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
        return copy.deepcopy(obj)

    def _interfere(self) -> None:
        while self.before_write:
            self.before_write.pop(0)()

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        assert (api_version, kind) == ("coordination.k8s.io/v1", "Lease")
        try:
            return copy.deepcopy(self.leases[(namespace or "", name)])
        except KeyError:
            raise NotFound(404, "NotFound", f"leases {name!r} not found") from None

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._interfere()
        meta = obj["metadata"]
        if (meta["namespace"], meta["name"]) in self.leases:
            raise AlreadyExists(409, "AlreadyExists", "already exists")
        self.writes += 1
        return self._stamp(obj)

    async def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._interfere()
        meta = obj["metadata"]
        stored = self.leases[(meta["namespace"], meta["name"])]
        if meta.get("resourceVersion") != stored["metadata"]["resourceVersion"]:
            raise Conflict(409, "Conflict", "the object has been modified")
        self.writes += 1
        return self._stamp(obj)

    def put(self, namespace: str, name: str, record: LeaderElectionRecord) -> None:
        """Someone else writes the Lease."""
        self._stamp(new_lease(namespace, name, record))

    def record(self, namespace: str = "ns", name: str = "lease") -> LeaderElectionRecord:
        return record_from_lease(self.leases[(namespace, name)])


class Clocks:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = T0

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)


def elector(kube: FakeKube, clocks: Clocks, identity: str = ME) -> LeaderElector:
    return LeaderElector(
        cast(KubeClient, kube), "ns", "lease", identity,
        lease_duration=15, renew_deadline=10, retry_period=2,
        metrics=FluxMetrics(CollectorRegistry(), process_metrics=False),
        clock=lambda: clocks.mono, wall_clock=lambda: clocks.wall,
    )


async def test_creates_an_absent_lease() -> None:
    kube, clocks = FakeKube(), Clocks()
    me = elector(kube, clocks)
    assert await me.try_acquire_or_renew()
    assert kube.record() == LeaderElectionRecord(ME, 15, T0, T0, 0)


async def test_renewing_keeps_acquire_time_and_only_moves_renew_time() -> None:
    kube, clocks = FakeKube(), Clocks()
    me = elector(kube, clocks)
    assert await me.try_acquire_or_renew()
    clocks.advance(2)
    assert await me.try_acquire_or_renew()
    assert kube.record() == LeaderElectionRecord(ME, 15, T0, T0 + timedelta(seconds=2), 0)
    assert kube.writes == 2


async def test_a_fresh_candidate_waits_a_full_lease_duration_even_for_a_stale_looking_lease() -> None:
    kube, clocks = FakeKube(), Clocks()
    kube.put("ns", "lease", rec(OTHER, duration=15, transitions=2, acquired=T0 - timedelta(hours=3)))
    me = elector(kube, clocks)
    assert not await me.try_acquire_or_renew()
    clocks.advance(14.9)
    assert not await me.try_acquire_or_renew()
    clocks.advance(0.1)
    assert await me.try_acquire_or_renew()
    assert kube.record() == LeaderElectionRecord(ME, 15, clocks.wall, clocks.wall, 3)


async def test_each_change_of_the_record_restarts_the_wait() -> None:
    kube, clocks = FakeKube(), Clocks()
    kube.put("ns", "lease", rec(OTHER, duration=15))
    me = elector(kube, clocks)
    assert not await me.try_acquire_or_renew()
    clocks.advance(10)
    kube.put("ns", "lease", LeaderElectionRecord(OTHER, 15, T0, clocks.wall, 0))  # the holder renews
    assert not await me.try_acquire_or_renew()
    clocks.advance(10)  # 20s after the first look, but only 10s after the last change
    assert not await me.try_acquire_or_renew()
    assert me.leader == OTHER
    clocks.advance(5)
    assert await me.try_acquire_or_renew()


async def test_a_released_lease_is_taken_at_once() -> None:
    kube, clocks = FakeKube(), Clocks()
    kube.put("ns", "lease", release_record(rec(OTHER, transitions=4), T0))
    me = elector(kube, clocks)
    assert await me.try_acquire_or_renew()
    assert kube.record().leader_transitions == 5


async def test_a_conflict_between_read_and_write_does_not_make_us_leader() -> None:
    kube, clocks = FakeKube(), Clocks()
    kube.put("ns", "lease", release_record(rec(OTHER), T0))
    kube.before_write.append(lambda: kube.put("ns", "lease", rec(OTHER, duration=15, transitions=1)))
    me = elector(kube, clocks)
    assert not await me.try_acquire_or_renew()
    assert kube.record().holder_identity == OTHER
    assert not me.is_leader


async def test_losing_the_create_race_does_not_make_us_leader() -> None:
    kube, clocks = FakeKube(), Clocks()
    kube.before_write.append(lambda: kube.put("ns", "lease", rec(OTHER, duration=15)))
    me = elector(kube, clocks)
    assert not await me.try_acquire_or_renew()
    assert not await me.try_acquire_or_renew()  # now it sees OTHER's fresh record
    assert me.leader == OTHER


async def test_fast_path_conflict_falls_back_to_reading_and_sees_the_new_holder() -> None:
    kube, clocks = FakeKube(), Clocks()
    me = elector(kube, clocks)
    assert await me.try_acquire_or_renew()
    kube.put("ns", "lease", rec(OTHER, duration=15, transitions=1))  # taken behind our back
    clocks.advance(2)
    assert not await me.try_acquire_or_renew()
    assert me.leader == OTHER
    assert kube.record().holder_identity == OTHER


async def test_a_leader_that_did_not_renew_for_a_lease_duration_rereads_before_writing() -> None:
    kube, clocks = FakeKube(), Clocks()
    me = elector(kube, clocks)
    assert await me.try_acquire_or_renew()
    clocks.advance(16)
    reads: list[str] = []
    real_get = kube.get

    async def counting_get(api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        reads.append(name)
        return await real_get(api_version, kind, name, namespace)

    kube.get = counting_get  # type: ignore[method-assign]
    assert await me.try_acquire_or_renew()
    assert reads == ["lease"]  # no optimistic write over a version that may be stale
    assert kube.record().acquire_time == T0


async def test_release_hands_the_lease_back_only_when_we_hold_it() -> None:
    kube, clocks = FakeKube(), Clocks()
    me = elector(kube, clocks)
    other = elector(kube, clocks, OTHER)
    assert await me.try_acquire_or_renew()
    assert not await other.try_acquire_or_renew()
    assert await other.release()  # not the holder: nothing written
    assert kube.record().holder_identity == ME
    clocks.advance(1)
    assert await me.release()
    assert kube.record() == LeaderElectionRecord("", 1, clocks.wall, clocks.wall, 0)
    writes = kube.writes
    assert await me.release()  # idempotent
    assert kube.writes == writes


# --------------------------------------------------------------------------- the loops, in memory


class FlakyKube(FakeKube):
    """A store whose apiserver can become unreachable."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        if self.down:
            raise ClusterUnreachable("connection refused")
        return await super().get(api_version, kind, name, namespace)

    async def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        if self.down:
            raise ClusterUnreachable("connection refused")
        return await super().replace(obj)


def quick(kube: FakeKube, identity: str = ME) -> LeaderElector:
    return LeaderElector(cast(KubeClient, kube), "ns", "lease", identity,
                         lease_duration=1, renew_deadline=0.5, retry_period=0.05,
                         metrics=FluxMetrics(CollectorRegistry(), process_metrics=False))


def gauge(elector: LeaderElector) -> float | None:
    return elector.metrics.registry.get_sample_value("leader_election_master_status", {"name": "lease"})


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Poll a plain attribute of the elector (it has no event to await)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_failing_to_renew_for_the_deadline_loses_leadership() -> None:
    kube = FlakyKube()
    me = quick(kube)
    work_cancelled = asyncio.Event()
    stopped: list[bool] = []

    async def lead() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            work_cancelled.set()
            raise

    task = asyncio.create_task(me.run(lead, lambda: stopped.append(me.is_leader)))
    await until(lambda: me.is_leader)
    assert gauge(me) == 1.0
    kube.down = True
    loop = asyncio.get_running_loop()
    went_down = loop.time()
    with pytest.raises(LeadershipLost):
        await asyncio.wait_for(task, 2)
    assert 0.5 <= loop.time() - went_down < 1.0  # after the renew deadline, before the lease expires
    assert work_cancelled.is_set()
    assert stopped == [False]  # the callback runs once the leader no longer claims to lead
    assert gauge(me) == 0.0


async def test_renewal_that_recovers_within_the_deadline_keeps_leadership() -> None:
    kube = FlakyKube()
    me = quick(kube)
    task = asyncio.create_task(me.run(asyncio.Event().wait))
    await until(lambda: me.is_leader)
    kube.down = True
    await asyncio.sleep(0.3)
    kube.down = False
    renewed = kube.record().renew_time
    await until(lambda: kube.record().renew_time != renewed)
    assert me.is_leader
    assert not task.done()
    assert await me.release()
    await asyncio.wait_for(task, 1)
    assert kube.record().holder_identity == ""


async def test_a_failing_leading_task_steps_down_releases_and_reraises() -> None:
    kube = FakeKube()
    me = quick(kube)

    async def lead() -> None:
        raise RuntimeError("reconciler crashed")

    with pytest.raises(RuntimeError, match="reconciler crashed"):
        await asyncio.wait_for(me.run(lead), 2)
    assert kube.record().holder_identity == ""
    assert kube.record().lease_duration_seconds == 1


async def test_a_leading_task_that_returns_does_not_end_leadership() -> None:
    kube = FakeKube()
    me = quick(kube)
    returned = asyncio.Event()

    async def lead() -> None:
        returned.set()

    task = asyncio.create_task(me.run(lead))
    await asyncio.wait_for(returned.wait(), 2)
    renewed = kube.record().renew_time
    await until(lambda: kube.record().renew_time != renewed)
    assert me.is_leader
    assert await me.release()
    await asyncio.wait_for(task, 1)


async def test_release_while_campaigning_ends_run_without_leading() -> None:
    kube = FakeKube()
    kube.put("ns", "lease", rec(OTHER, duration=30))
    me = quick(kube)
    new_leaders: list[str] = []
    task = asyncio.create_task(me.run(asyncio.Event().wait, on_new_leader=new_leaders.append))
    await until(lambda: me.leader == OTHER)
    assert await me.release()
    await asyncio.wait_for(task, 1)
    assert new_leaders == [OTHER]
    assert kube.record().holder_identity == OTHER
    with pytest.raises(RuntimeError, match="once"):
        await me.run(asyncio.Event().wait)


async def test_release_after_a_renewal_that_landed_unseen_rereads_and_still_releases() -> None:
    kube, clocks = FakeKube(), Clocks()
    me = elector(kube, clocks)
    assert await me.try_acquire_or_renew()
    # Our renewal reached the apiserver but its answer was lost (cancelled in flight): a newer version names us.
    kube.put("ns", "lease", LeaderElectionRecord(ME, 15, T0, T0 + timedelta(seconds=2), 0))
    clocks.advance(3)
    assert await me.release()
    assert kube.record() == LeaderElectionRecord("", 1, clocks.wall, clocks.wall, 0)


async def test_release_leaves_a_lease_someone_else_took_alone() -> None:
    kube, clocks = FakeKube(), Clocks()
    me = elector(kube, clocks)
    assert await me.try_acquire_or_renew()
    kube.put("ns", "lease", rec(OTHER, duration=15, transitions=1))
    assert await me.release()
    assert kube.record() == rec(OTHER, duration=15, transitions=1)
    assert me.leader == OTHER
