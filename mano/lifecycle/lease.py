"""Instance leases: exactly one activation runs an instance's steps at a time (DESIGN decision 10).

A service or VNF instance is a virtual actor: its identity (``service:<uuid>``, ``vnf:<uuid>``)
is stable, its state is in the store, and any process may host an activation of it (its own
Ray actor, the SLM or FLM under a burst, a test). What makes that safe is a lease in the store
(:class:`~mano.records.LeaseRecord`): to run an instance's steps an activation must hold the
instance's lease, which it renews while it works and gives back when it is done.

A lease that is not renewed expires (its holder crashed, paused, or lost its node) and may be
taken over. Taking it over raises the fencing token: every record the new holder writes carries
the token, the store refuses writes with an older one (:meth:`mano.store.repository.Repository.fenced`),
and the new holder first raises the token on the instance's records, so a former holder that
wakes up can no longer write anything: it gets :class:`~mano.errors.FencedOutError`.

A lease given back is kept a moment (``linger_s``) before it is released in the store: the next
call on the same instance from the same host (a VNF's start right after its deploy, the next
operation of a service) takes it again without a store round trip. Another host waits at most
that long longer; a crash leaves it to expire like any held lease.

While a keeper holds a lease without a break (taken once, then reused while it lingers), no
other activation can have written the instance's records: it may keep the last record it read
or wrote (:meth:`InstanceLeases.remember`, :meth:`InstanceLeases.known`) and act on it without
reading it again, as a virtual actor's activation owns its state. The copy is dropped whenever
the lease is taken anew from the store, given back in the store, or lost.

A holder is an identity plus an incarnation. A Ray actor restarted after a crash keeps its
identity (its actor id) in a new process: it may take its own unreleased lease over at once,
instead of waiting for it to expire (Ray runs one incarnation of an actor at a time; the
token still shuts out the old one should it be alive somewhere).

:class:`InstanceLeases` is plain Python over the lease repository, with an injectable clock.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from typing import Callable, Iterator

from mano.errors import LeaseHeldError, StaleRecordError
from mano.records import LeaseRecord

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 10.0
DEFAULT_LINGER_S = 0.25


def service_key(service_id: str) -> str:
    return f"service:{service_id}"


def vnf_key(vnf_instance_id: str) -> str:
    return f"vnf:{vnf_instance_id}"


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a lease: a stable ``identity`` and the ``incarnation`` (process) acting for it."""

    identity: str
    incarnation: str

    @classmethod
    def this_process(cls, identity: str | None = None) -> Holder:
        """A holder for this process; ``identity``: a stable one (a Ray actor id), else the process."""
        incarnation = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        return cls(identity or incarnation, incarnation)


@dataclasses.dataclass(frozen=True)
class Grant:
    """A lease taken: its fencing token, and whether it was taken over from a holder that had not
    given it back (then the instance's records must be fenced before anything is read)."""

    key: str
    token: int
    took_over: bool


class InstanceLeases:
    """Takes, renews and gives back instance leases for one holder.

    ``leases`` is the lease repository (``store.leases``). Held leases are renewed every third
    of ``ttl_s`` by one background thread, which runs while any is held. A host keeps one
    keeper for all the instances it runs.
    """

    def __init__(self, leases: object, holder: Holder, *, ttl_s: float = DEFAULT_TTL_S,
                 clock: Callable[[], float] = time.time, poll_s: float = 0.02,
                 linger_s: float = DEFAULT_LINGER_S):
        self._repo = leases
        self.holder = holder
        self.ttl_s = ttl_s
        self.linger_s = linger_s
        self._clock = clock
        self._poll_s = poll_s
        self._held: dict[str, LeaseRecord] = {}  # taken in the store: in use, or lingering
        self._lingering: dict[str, float] = {}   # given back by its call: release due (monotonic)
        self._known: dict[str, object] = {}      # the holder's copy of the instance's record
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()

    @classmethod
    def private(cls, leases: object) -> InstanceLeases:
        """A keeper of its own for one controller made without the host's: this process's
        identity, and no lingering (no later call of this keeper would reuse the lease)."""
        return cls(leases, Holder.this_process(), linger_s=0)

    # --- one lease ---------------------------------------------------------------------
    def acquire(self, key: str) -> Grant:
        """Take the lease on ``key`` now.

        Raises:
            LeaseHeldError: another activation (or another call in this one) holds it.
        """
        with self._lock:
            held = self._held.get(key)
            if held is not None and key in self._lingering:
                del self._lingering[key]
                if held.expires_at > self._clock():
                    return Grant(key, held.token, False)  # still ours in the store: no round trip
                del self._held[key]  # it expired while it lingered (renewals failed): take it anew
            elif held is not None:
                raise LeaseHeldError(f"{key} is run by another call of this activation")
            self._known.pop(key, None)  # taken anew: another activation may have written since
        now = self._clock()
        taken = self._repo.take(key, holder=self.holder.identity, incarnation=self.holder.incarnation,  # type: ignore[attr-defined]
                                now=now, ttl_s=self.ttl_s)
        if taken is None:
            current = self._repo.find_one(key)  # type: ignore[attr-defined]
            if current is None:
                raise LeaseHeldError(f"{key} was just taken by another activation")
            raise LeaseHeldError(f"{key} is run by {current.holder} (lease token {current.token}, "
                                 f"{max(0.0, current.expires_at - now):.1f} s left)")
        stored, took_over = taken
        token = stored.token
        if took_over:
            log.warning("%s: took the lease over (token %d): its holder had not given it back", key, token)
        with self._lock:
            self._held[key] = stored
        self._start_renewer()
        return Grant(key, token, took_over)

    def release(self, key: str) -> None:
        """Give the lease back: after ``linger_s`` (the renewal thread does it), or now."""
        with self._lock:
            if key not in self._held or key in self._lingering:
                return
            if self.linger_s > 0 and not self._stopped.is_set():
                self._lingering[key] = time.monotonic() + self.linger_s
                self._wake.set()
                return
        self._release_now(key)

    def _release_now(self, key: str) -> None:
        """Release in the store (best effort: one taken over meanwhile is not ours to give)."""
        with self._lock:
            record = self._held.pop(key, None)
            self._lingering.pop(key, None)
            self._known.pop(key, None)
        for _ in range(3):  # a renewal may have written it meanwhile
            if record is None:
                return
            try:
                self._repo.update(record.model_copy(update={"released": True, "expires_at": self._clock()}))  # type: ignore[attr-defined]
                return
            except StaleRecordError:
                record = self._still_ours(record)
            except Exception:  # noqa: BLE001 - an unreleased lease expires by itself
                log.info("%s: lease not given back (the store failed); it will expire", key, exc_info=True)
                return

    def _still_ours(self, record: LeaseRecord) -> LeaseRecord | None:
        """The stored lease if it is still the one ``record`` took (same token, not released)."""
        current = self._repo.find_one(record.id)  # type: ignore[attr-defined]
        if current is None or current.released or current.token != record.token:
            return None
        return current

    @contextlib.contextmanager
    def hold(self, key: str, *, wait_s: float = 0.0,
             fence: Callable[[int], None] = lambda token: None) -> Iterator[int]:
        """Hold the lease on ``key`` for the block; yields the fencing token.

        ``wait_s``: how long to wait for a held lease to be given back or to expire.
        ``fence(token)`` runs when the lease was taken over, before the block: it must raise
        the token on the instance's records.
        """
        with self.holding(self.acquire_within(key, wait_s), fence=fence) as token:
            yield token

    @contextlib.contextmanager
    def holding(self, grant: Grant, *, fence: Callable[[int], None] = lambda token: None) -> Iterator[int]:
        """:meth:`hold` for a lease already taken (``grant``): fence if it was taken over, give
        it back after the block."""
        try:
            if grant.took_over:
                fence(grant.token)
            yield grant.token
        finally:
            self.release(grant.key)

    def acquire_within(self, key: str, wait_s: float) -> Grant:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return self.acquire(key)
            except LeaseHeldError:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(self._poll_s)

    def active(self, key: str) -> LeaseRecord | None:
        """The lease on ``key`` if some activation holds it now."""
        current = self._repo.find_one(key)  # type: ignore[attr-defined]
        return None if current is None or self._free(current, self._clock()) else current

    def left_over(self, kind: str) -> list[str]:
        """The keys of ``kind`` (``service``, ``vnf``) whose leases this holder's identity still
        holds in the store, unexpired: what a previous incarnation was running when it stopped
        (a restarted pre-started host resumes that instance's activation)."""
        now = self._clock()
        return sorted(lease.id for lease in self._repo.find({"holder": self.holder.identity})  # type: ignore[attr-defined]
                      if lease.id.startswith(f"{kind}:") and not lease.released and lease.expires_at > now)

    def remember(self, key: str, record: object) -> None:
        """Keep ``record`` (the instance's, as just read or written) while this keeper holds
        the lease on ``key`` without a break; nothing if it does not hold it."""
        with self._lock:
            if key in self._held:
                self._known[key] = record

    def known(self, key: str) -> object | None:
        """The record remembered under the lease on ``key``, if this keeper still holds it (in
        use or lingering, unexpired): no other activation can have written it since."""
        with self._lock:
            held = self._held.get(key)
            if held is None or held.expires_at <= self._clock():
                return None
            return self._known.get(key)

    def holds(self, key: str) -> bool:
        """True while a call of this keeper runs under the lease on ``key`` (not lingering)."""
        with self._lock:
            return key in self._held and key not in self._lingering

    def close(self) -> None:
        """Give lingering leases back and stop renewing (leases still in use then expire)."""
        self._stopped.set()
        self._wake.set()
        self._release_due(everything=True)

    # --- rules ----------------------------------------------------------------------------
    def _free(self, lease: LeaseRecord, now: float) -> bool:
        # The same rule as LeaseRepository.take's store filters, for a lease already read.
        if lease.released or lease.expires_at <= now:
            return True
        # A previous incarnation of this holder (a restarted actor) left it: it is ours again.
        return lease.holder == self.holder.identity and lease.incarnation != self.holder.incarnation

    # --- renewal ----------------------------------------------------------------------------
    def _start_renewer(self) -> None:
        with self._lock:
            if self._renewer is not None:
                return
            self._renewer = threading.Thread(target=self._renew_loop, name="lease-renewal", daemon=True)
        self._renewer.start()

    def _renew_loop(self) -> None:
        renew_at = time.monotonic() + self.ttl_s / 3
        while not self._stopped.is_set():
            with self._lock:
                if not self._held:  # nothing to renew: stop (the next acquire starts another)
                    self._renewer = None
                    return
                wake_at = min([renew_at, *self._lingering.values()])
            self._wake.wait(max(0.0, wake_at - time.monotonic()))
            self._wake.clear()
            self._release_due()
            if time.monotonic() >= renew_at:
                self.renew_all()
                renew_at = time.monotonic() + self.ttl_s / 3
        with self._lock:
            self._renewer = None

    def _release_due(self, everything: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            due = [key for key, at in self._lingering.items() if everything or at <= now]
        for key in due:
            self._release_now(key)

    def renew_all(self) -> None:
        """Push the expiry of every held lease one time to live ahead (the renewer's pass)."""
        with self._lock:
            held = list(self._held.items())
        for key, record in held:
            try:
                renewed = self._repo.update(record.model_copy(update={"expires_at": self._clock() + self.ttl_s}))  # type: ignore[attr-defined]
            except StaleRecordError:
                current = self._still_ours(record)
                with self._lock:
                    if self._held.get(key) is not record:
                        continue  # given back meanwhile
                    if current is None:
                        log.warning("%s: lease lost to another activation; its writes will be refused", key)
                        del self._held[key]
                        self._known.pop(key, None)
                    else:
                        self._held[key] = current  # renewed next pass
                continue
            except Exception:  # noqa: BLE001 - try again next pass, before it expires
                log.warning("%s: lease renewal failed", key, exc_info=True)
                continue
            with self._lock:
                if self._held.get(key) is record:
                    self._held[key] = renewed
