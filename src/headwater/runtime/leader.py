"""Leader election over a ``coordination.k8s.io/v1`` Lease, with client-go's ``leaderelection`` semantics.

Flux controllers run with ``--enable-leader-election`` so that, with several replicas, exactly one
reconciles. They share the Lease ``<controller>-leader-election`` in the controller's namespace with any
other implementation of the same protocol, so headwater must behave exactly like client-go on the wire and
in time, or a headwater replica and a Flux replica (or two headwater replicas on skewed clocks) could both
lead during an upgrade:

* A candidate takes the Lease when it is absent, held by nobody (released), held by itself, or expired.
  Expiry is judged by the *local* time at which this process last saw the Lease record change plus the
  record's ``leaseDurationSeconds`` - never by comparing ``renewTime`` with the local wall clock, so clock
  skew between nodes cannot cause two leaders. A fresh candidate therefore always waits one full lease
  duration before taking over a Lease that looks stale.
* Writes are optimistic: updates carry the ``resourceVersion`` last read, so when two candidates race,
  the apiserver answers ``409 Conflict`` to all but one, and a conflict never makes us leader.
* The leader renews every retry period; if it cannot renew for the renew deadline it has lost
  leadership: its leading work is cancelled, ``on_stopped_leading`` runs and :meth:`LeaderElector.run`
  raises :class:`LeadershipLost`, after which the process is expected to exit (as controller-runtime's
  manager does), because it can no longer be sure that nobody else reconciles.
* On graceful shutdown the leader hands the Lease back (``ReleaseOnCancel``): empty ``holderIdentity``,
  ``leaseDurationSeconds: 1``, so a standby replica takes over at its next retry instead of after a full
  lease duration.

The decision logic is plain functions over :class:`LeaderElectionRecord` (the Lease spec) with explicit
times, so it is unit-testable with any clock; :class:`LeaderElector` adds the I/O and the loops.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from headwater.runtime.kube.client import KubeClient
from headwater.runtime.kube.errors import Conflict, KubeError, NotFound
from headwater.runtime.metrics import DEFAULT as DEFAULT_METRICS
from headwater.runtime.metrics import FluxMetrics

if TYPE_CHECKING:
    from headwater.runtime.options import ControllerOptions

__all__ = [
    "JITTER_FACTOR",
    "LEASE_API_VERSION",
    "LEASE_KIND",
    "LeaderElectionRecord",
    "LeaderElector",
    "LeadershipLost",
    "default_identity",
    "desired_record",
    "format_micro_time",
    "lease_expired",
    "lease_spec",
    "new_lease",
    "parse_micro_time",
    "record_from_lease",
    "release_record",
    "should_try_acquire",
]

_log = logging.getLogger(__name__)

LEASE_API_VERSION: Final = "coordination.k8s.io/v1"
LEASE_KIND: Final = "Lease"
#: client-go's ``JitterFactor``: a candidate waits between ``retry`` and ``retry * (1 + 1.2)`` between tries.
JITTER_FACTOR: Final = 1.2
#: ``leaseDurationSeconds`` of a released Lease (client-go's ``release()``).
RELEASED_LEASE_SECONDS: Final = 1


class LeadershipLost(Exception):
    """The leader could not renew its Lease within the renew deadline (or saw another holder take it)."""


def default_identity() -> str:
    """``<hostname>_<random UUID>``, the identity controller-runtime gives each manager process."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


# --------------------------------------------------------------------------- the record and its wire form


@dataclass(frozen=True)
class LeaderElectionRecord:
    """client-go's ``LeaderElectionRecord``: what a Lease spec says about who leads."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    leader_transitions: int = 0
    # Set only by coordinated leader election; never written by us, kept so that a change counts as one.
    strategy: str = ""
    preferred_holder: str = ""


def format_micro_time(moment: datetime) -> str:
    """A ``metav1.MicroTime`` on the wire: RFC 3339 in UTC with exactly six fractional digits and ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("MicroTime needs an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(value: object) -> datetime | None:
    """A ``MicroTime`` (or ``Time``) from the wire; None when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def record_from_lease(lease: Mapping[str, Any]) -> LeaderElectionRecord:
    """The record in a Lease object (absent fields read as zero values, like client-go)."""
    spec = lease.get("spec") or {}
    return LeaderElectionRecord(
        holder_identity=_str(spec.get("holderIdentity")),
        lease_duration_seconds=_int(spec.get("leaseDurationSeconds")),
        acquire_time=parse_micro_time(spec.get("acquireTime")),
        renew_time=parse_micro_time(spec.get("renewTime")),
        leader_transitions=_int(spec.get("leaseTransitions")),
        strategy=_str(spec.get("strategy")),
        preferred_holder=_str(spec.get("preferredHolder")),
    )


def lease_spec(record: LeaderElectionRecord) -> dict[str, Any]:
    """The Lease spec for a record (client-go's ``LeaderElectionRecordToLeaseSpec``)."""
    spec: dict[str, Any] = {
        "holderIdentity": record.holder_identity,
        "leaseDurationSeconds": record.lease_duration_seconds,
        "acquireTime": format_micro_time(record.acquire_time) if record.acquire_time else None,
        "renewTime": format_micro_time(record.renew_time) if record.renew_time else None,
        "leaseTransitions": record.leader_transitions,
    }
    if record.strategy:
        spec["strategy"] = record.strategy
    if record.preferred_holder:
        spec["preferredHolder"] = record.preferred_holder
    return spec


def new_lease(namespace: str, name: str, record: LeaderElectionRecord) -> dict[str, Any]:
    """A whole Lease object to create."""
    return {
        "apiVersion": LEASE_API_VERSION,
        "kind": LEASE_KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": lease_spec(record),
    }


# --------------------------------------------------------------------------- the decisions


def lease_expired(observed_time: float, lease_duration_seconds: int, now: float) -> bool:
    """Has the record gone unchanged for its lease duration, as measured on *our* clock?

    ``observed_time`` is when this process last saw the record change (not the record's ``renewTime``).
    """
    return observed_time + lease_duration_seconds <= now


def should_try_acquire(
    observed: LeaderElectionRecord, observed_time: float, now: float, identity: str
) -> bool:
    """May we write the Lease? Yes unless someone else holds it and it has not expired."""
    held_by_other = bool(observed.holder_identity) and observed.holder_identity != identity
    return not (held_by_other and not lease_expired(observed_time, observed.lease_duration_seconds, now))


def desired_record(
    identity: str, lease_duration_seconds: int, now: datetime, current: LeaderElectionRecord | None
) -> LeaderElectionRecord:
    """What we write to take or renew the Lease whose record is ``current`` (None: it does not exist).

    Renewing keeps ``acquireTime`` and ``leaseTransitions``; taking it from anyone else (or from nobody,
    after a release) is a transition.
    """
    if current is None:
        return LeaderElectionRecord(identity, lease_duration_seconds, now, now, 0)
    if current.holder_identity == identity:
        return LeaderElectionRecord(identity, lease_duration_seconds, current.acquire_time, now,
                                    current.leader_transitions)
    return LeaderElectionRecord(identity, lease_duration_seconds, now, now, current.leader_transitions + 1)


def release_record(current: LeaderElectionRecord, now: datetime) -> LeaderElectionRecord:
    """What a leader writes to hand the Lease back: nobody holds it, and it expires after one second."""
    return LeaderElectionRecord("", RELEASED_LEASE_SECONDS, now, now, current.leader_transitions)


# --------------------------------------------------------------------------- the elector

_Outcome = Literal["stopped", "lost"]


class LeaderElector:
    """One candidate for the Lease ``namespace/name``.

    :meth:`run` campaigns until it leads, starts ``on_started_leading()`` as a task, and renews until
    :meth:`release` is called, the task running :meth:`run` is cancelled, or renewing fails for the
    renew deadline (then it raises :class:`LeadershipLost`). An elector runs once.
    """

    def __init__(
        self,
        kube: KubeClient,
        namespace: str,
        name: str,
        identity: str | None = None,
        *,
        lease_duration: float = 35.0,
        renew_deadline: float = 30.0,
        retry_period: float = 5.0,
        release_on_cancel: bool = True,
        metrics: FluxMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if int(lease_duration) < 1:
            raise ValueError("the lease duration must be at least one second")
        if lease_duration <= renew_deadline:
            raise ValueError("the lease duration must be greater than the renew deadline")
        if retry_period <= 0:
            raise ValueError("the retry period must be positive")
        if renew_deadline <= JITTER_FACTOR * retry_period:
            raise ValueError(f"the renew deadline must be greater than retry period * {JITTER_FACTOR}")
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self.metrics = metrics or DEFAULT_METRICS
        self._clock = clock
        self._wall_clock = wall_clock
        self._lease: dict[str, Any] | None = None  # the object last read or written (its resourceVersion)
        self._observed: LeaderElectionRecord | None = None
        self._observed_time = 0.0
        self._reported_leader: str | None = None
        self._leading = False
        self._started = False
        self._stop = asyncio.Event()
        self._done = asyncio.Event()

    @classmethod
    def from_options(
        cls,
        kube: KubeClient,
        options: ControllerOptions,
        controller: str,
        namespace: str,
        identity: str | None = None,
        *,
        metrics: FluxMetrics | None = None,
    ) -> LeaderElector:
        """The elector a controller gets from its ``--leader-election-*`` flags."""
        return cls(
            kube, namespace, options.leader_election_id(controller), identity,
            lease_duration=options.leader_election_lease_duration,
            renew_deadline=options.leader_election_renew_deadline,
            retry_period=options.leader_election_retry_period,
            release_on_cancel=options.leader_election_release_on_cancel,
            metrics=metrics,
        )

    # -- state -----------------------------------------------------------------------------------------

    @property
    def lease_duration_seconds(self) -> int:
        return int(self.lease_duration)

    @property
    def is_leader(self) -> bool:
        """True while we lead: we acquired the Lease, are renewing it and last saw ourselves hold it."""
        return self._leading and self._holds_observed()

    @property
    def observed_record(self) -> LeaderElectionRecord | None:
        """The Lease record as last read or written by this elector."""
        return self._observed

    @property
    def leader(self) -> str:
        """Identity of the holder in the last observed record ("" when nobody holds it, or not yet seen)."""
        return self._observed.holder_identity if self._observed else ""

    def _holds_observed(self) -> bool:
        return self._observed is not None and self._observed.holder_identity == self.identity

    def _observe(self, record: LeaderElectionRecord) -> None:
        self._observed = record
        self._observed_time = self._clock()

    # -- one attempt -----------------------------------------------------------------------------------

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to take or renew the Lease (client-go's ``tryAcquireOrRenew``); True if we hold it."""
        now = self._clock()
        wall = self._wall_clock()
        # Fast path: we hold it and nobody can have taken it, so write over the version we last saw.
        if self._lease is not None and self._holds_observed() and self._observed is not None \
                and not lease_expired(self._observed_time, self._observed.lease_duration_seconds, now):
            record = desired_record(self.identity, self.lease_duration_seconds, wall, self._observed)
            try:
                await self._update(record)
                return True
            except KubeError as err:
                _log.info("failed to update lease %s optimistically, falling back to slow path: %s",
                          self._describe(), err)
        # Slow path: read the Lease (or create it).
        try:
            lease = await self.kube.get(LEASE_API_VERSION, LEASE_KIND, self.name, self.namespace)
        except NotFound:
            record = desired_record(self.identity, self.lease_duration_seconds, wall, None)
            try:
                self._lease = await self.kube.create(new_lease(self.namespace, self.name, record))
            except KubeError as err:
                _log.info("error initially creating lease %s: %s", self._describe(), err)
                return False
            self._observe(record)
            return True
        except KubeError as err:
            _log.info("error retrieving lease %s: %s", self._describe(), err)
            return False
        self._lease = lease
        current = record_from_lease(lease)
        if current != self._observed:
            self._observe(current)
        if not should_try_acquire(current, self._observed_time, now, self.identity):
            _log.debug("lease %s is held by %s and has not yet expired", self._describe(), current.holder_identity)
            return False
        record = desired_record(self.identity, self.lease_duration_seconds, wall, current)
        try:
            await self._update(record)
        except KubeError as err:  # a Conflict: someone else wrote first
            _log.info("failed to update lease %s: %s", self._describe(), err)
            return False
        return True

    async def _update(self, record: LeaderElectionRecord) -> None:
        assert self._lease is not None
        self._lease = await self.kube.replace({**self._lease, "spec": lease_spec(record)})
        self._observe(record)

    async def _release_lease(self) -> bool:
        """client-go's ``release()``: if we hold the Lease, hand it back; True unless that write failed.

        Unlike client-go, a Conflict is retried once after a re-read if the Lease still names us: a renewal
        cancelled in flight may have landed after all and moved the resourceVersion, and a Lease that names
        us cannot have been taken by anyone else.
        """
        if not self._holds_observed() or self._observed is None or self._lease is None:
            return True
        try:
            async with asyncio.timeout(self.renew_deadline):
                try:
                    await self._update(release_record(self._observed, self._wall_clock()))
                except Conflict:
                    self._lease = await self.kube.get(LEASE_API_VERSION, LEASE_KIND, self.name, self.namespace)
                    current = record_from_lease(self._lease)
                    if current.holder_identity != self.identity:
                        self._observe(current)
                        return True
                    await self._update(release_record(current, self._wall_clock()))
        except (KubeError, TimeoutError) as err:
            _log.error("failed to release lease %s: %s", self._describe(), err)
            return False
        _log.info("released lease %s", self._describe())
        return True

    # -- the loops -------------------------------------------------------------------------------------

    async def run(
        self,
        on_started_leading: Callable[[], Awaitable[object]],
        on_stopped_leading: Callable[[], None] | None = None,
        *,
        on_new_leader: Callable[[str], None] | None = None,
    ) -> None:
        """Campaign, lead, renew; return after :meth:`release`, raise :class:`LeadershipLost` when lost.

        ``on_started_leading()`` runs as a task once we lead and is cancelled when we stop leading; if it
        raises, we step down (releasing the Lease) and ``run`` raises that error. ``on_stopped_leading()``
        is called after leading ends for any reason (not if we never led). ``on_new_leader(identity)`` is
        called whenever the observed holder changes ("" when the Lease was released).
        """
        if self._started:
            raise RuntimeError("a LeaderElector runs only once")
        self._started = True
        leading: asyncio.Task[None] | None = None
        outcome: _Outcome = "stopped"
        failure: BaseException | None = None
        self.metrics.set_leader(self.name, False)
        try:
            if not await self._acquire(on_new_leader):
                return
            self._leading = True
            self.metrics.set_leader(self.name, True)
            _log.info("successfully acquired lease %s as %s", self._describe(), self.identity)
            leading = asyncio.create_task(_call(on_started_leading), name=f"leading {self.name}")
            leading.add_done_callback(self._leading_finished)
            outcome = await self._renew(on_new_leader)
        finally:
            self._leading = False
            self.metrics.set_leader(self.name, False)
            try:
                if leading is not None:  # stop the leading work before handing the Lease to anyone else
                    leading.cancel()
                    await asyncio.wait([leading])
                    if not leading.cancelled():
                        failure = leading.exception()
                if self.release_on_cancel:
                    await self._release_lease()
            finally:
                self._done.set()
            if leading is not None and on_stopped_leading is not None:
                on_stopped_leading()
        if failure is not None:
            raise failure
        if outcome == "lost":
            raise LeadershipLost(f"lost leadership of lease {self._describe()}")

    async def release(self) -> bool:
        """Stop campaigning or leading and hand the Lease back if we hold it; True unless that write failed.

        A running :meth:`run` winds down first (its leading task is cancelled and ``on_stopped_leading``
        called) and returns normally. Do not await this from inside the leading task.
        """
        self._stop.set()
        if self._started:
            await self._done.wait()
        return await self._release_lease()

    def _leading_finished(self, task: asyncio.Task[None]) -> None:
        """The leading work may return (it started what it runs); if it failed, we step down."""
        if not task.cancelled() and task.exception() is not None:
            self._stop.set()

    async def _acquire(self, on_new_leader: Callable[[str], None] | None) -> bool:
        """Try every retry period (jittered) until we hold the Lease (True) or are stopped (False)."""
        _log.info("attempting to acquire leader lease %s...", self._describe())
        while not self._stop.is_set():
            acquired = await self.try_acquire_or_renew()
            self._report_transition(on_new_leader)
            if acquired:
                return True
            if await self._stopped_within(self.retry_period * (1 + random.random() * JITTER_FACTOR)):
                return False
        return False

    async def _renew(self, on_new_leader: Callable[[str], None] | None) -> _Outcome:
        """Renew every retry period while we lead; "lost" once a renewal cannot succeed in the deadline."""
        while not self._stop.is_set():
            try:
                async with asyncio.timeout(self.renew_deadline):
                    outcome = await self._renew_once(on_new_leader)
            except TimeoutError:
                outcome = "lost"
            if outcome is not None:
                if outcome == "lost":
                    _log.error("failed to renew lease %s within %ss", self._describe(), self.renew_deadline)
                return outcome
            if await self._stopped_within(self.retry_period):
                return "stopped"
        return "stopped"

    async def _renew_once(self, on_new_leader: Callable[[str], None] | None) -> _Outcome | None:
        """Retry until renewed (None), stopped, or someone else is seen holding the Lease ("lost")."""
        while True:
            renewed = await self.try_acquire_or_renew()
            self._report_transition(on_new_leader)
            if renewed:
                return None
            if self.leader and self.leader != self.identity:
                return "lost"
            if await self._stopped_within(self.retry_period):
                return "stopped"

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._stop.wait()
        except TimeoutError:
            return False
        return True

    def _report_transition(self, on_new_leader: Callable[[str], None] | None) -> None:
        if self._observed is None or self._observed.holder_identity == self._reported_leader:
            return
        self._reported_leader = self._observed.holder_identity
        _log.info("new leader of lease %s: %r", self._describe(), self._reported_leader)
        if on_new_leader is not None:
            on_new_leader(self._reported_leader)

    def _describe(self) -> str:
        return f"{self.namespace}/{self.name}"


async def _call(callback: Callable[[], Awaitable[object]]) -> None:
    await callback()
