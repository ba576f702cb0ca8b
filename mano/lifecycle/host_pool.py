"""Pre-started hosts: instance-actor processes started before the request that needs one.

Starting an actor is starting a Ray worker process: about 0.6 s of CPU on a 2-core machine,
most of an instantiation's latency. A manager (the SLM for services, the FLM for VNFs) keeps
``size`` hosts ready: actor processes of the instance class, started ahead of time, that belong
to no instance yet. The Ray dashboard shows them as what they are (``service-host-<hex>``,
``vnf-host-<hex>``, :func:`host_name`), never under an instance's name: an instance id is made
when its instance is, not when a process is started for some future one.

A new instance's first work goes to a ready host (:meth:`HostPool.take`), which becomes that
instance's activation: it runs the instance's steps under the instance's lease, exactly as the
instance's own actor would, keeps its state warm for the next request, and passivates when idle
like any instance actor. The manager remembers which host runs which instance's activation
(:class:`HostedInstances`) and sends that instance's next requests there while it may still be
up; after that (or after a restart of the manager, which forgets) the instance is activated on
demand in an actor of its own, ``service:<id>`` / ``vnf:<id>``. The lease keeps the two from
ever running steps at once.

The pool refills shortly after a host is taken, so the start-up cost moves off the request's
path. It is still paid: under a sustained burst the pool is empty and the rate is bounded by how
fast Ray starts workers (docs/reliability.md); work then runs in the manager
(:mod:`mano.lifecycle.hosting`).

A waiting host does not passivate; the first work it gets releases that hold, so a host whose
instance's work never came (a request refused after the host was taken) must be given back
with :meth:`HostPool.release`: it then passivates by itself. Hosts left behind by a restart of
their manager are still waiting, which is how the actor shell finds and stops them.

Plain Python (``create`` and ``release`` are injected), tested without Ray
(``tests/lifecycle/test_host_pool.py``).
"""
from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from typing import Any, Callable, NamedTuple

log = logging.getLogger(__name__)


def host_name(kind: str) -> str:
    """A fresh pre-started host's actor name: ``service-host-<hex>`` or ``vnf-host-<hex>``."""
    return f"{kind}-host-{uuid.uuid4().hex[:10]}"


def is_host_name(kind: str, name: str) -> bool:
    return name.startswith(f"{kind}-host-")


class PrestartedHost(NamedTuple):
    name: str
    handle: Any


class HostPool:
    """Keep ``size`` hosts ready; ``take`` hands one out (None when the pool is empty or disabled)."""

    def __init__(self, size: int, create: Callable[[str], Any], release: Callable[[Any], None],
                 new_name: Callable[[], str], *, refill_delay_s: float = 0.0,
                 idle: Callable[[], bool] = lambda: True):
        """``create(name)`` starts a host's actor and returns its handle (scheduling it only:
        cheap); ``release(handle)`` tells a host it will get no work (it then passivates).

        ``refill_delay_s``: replace taken hosts that long after a take, one at a time and only
        while ``idle()`` says the machine has CPU to spare, else try again a delay later. A worker
        start takes a core for ~0.6 s: begun at once, it competes with the very request that
        took the host (measured: 0.36 s instantiations became 1.8 s with four refills at once),
        and under a burst it would only add starts to a saturated machine."""
        self.size = max(0, size)
        self._create, self._release, self._new_name = create, release, new_name
        self._refill_delay_s = refill_delay_s
        self._idle = idle
        self._ready: collections.deque[PrestartedHost] = collections.deque()
        self._up: set[str] = set()  # hosts known to be up (they answered): no need to ask again
        self._lock = threading.Lock()
        self._refill: threading.Timer | None = None

    def __len__(self) -> int:
        return len(self._ready)

    def names(self) -> list[str]:
        with self._lock:
            return [host.name for host in self._ready]

    def fill(self, limit: int | None = None) -> int:
        """Start hosts up to ``size`` (at most ``limit`` now); returns how many were started."""
        created = 0
        while limit is None or created < limit:
            with self._lock:
                if len(self._ready) >= self.size:
                    break
                name = self._new_name()
                self._ready.append(PrestartedHost(name, self._create(name)))
            created += 1
        return created

    def take(self) -> PrestartedHost | None:
        """The oldest ready host, its replacement scheduled; None if there is none. The taker
        sends it work at once (which ends its wait) or gives it back with :meth:`release`."""
        taken = self.take_up_to(1)
        return taken[0] if taken else None

    def take_up_to(self, count: int) -> list[PrestartedHost]:
        """Up to ``count`` ready hosts (fewer when the pool has fewer)."""
        taken = []
        with self._lock:
            while self._ready and len(taken) < count:
                taken.append(self._ready.popleft())
        if taken:
            self._schedule_refill()
        return taken

    def release(self, host: PrestartedHost) -> None:
        """Give back a host taken for work that will not come: it passivates when idle."""
        self.was_up(host)
        self._release(host.handle)

    def mark_up(self, name: str) -> None:
        """The host called ``name`` answered: whoever takes it need not ask whether it is up."""
        with self._lock:
            self._up.add(name)

    def was_up(self, host: PrestartedHost) -> bool:
        """Whether the host had answered (:meth:`mark_up`) before it was taken; told once."""
        with self._lock:
            if host.name in self._up:
                self._up.discard(host.name)
                return True
            return False

    def _schedule_refill(self) -> None:
        if self._refill_delay_s <= 0:
            self.fill()
            return
        with self._lock:
            if self._refill is not None:
                return  # one pending refill fills every gap
            self._refill = threading.Timer(self._refill_delay_s, self._delayed_fill)
            self._refill.daemon = True
            self._refill.start()

    def _delayed_fill(self) -> None:
        with self._lock:
            self._refill = None
        try:
            while len(self) < self.size:
                if not self._idle():
                    self._schedule_refill()  # busy: try again later
                    return
                self.fill(limit=1)
        except Exception:  # noqa: BLE001 - a later take schedules another; requests do not need hosts
            log.warning("refilling pre-started hosts failed", exc_info=True)


class HostedInstances:
    """Which pre-started host runs which instance's activation, while it may still be up.

    A host passivates ``idle_s`` after its last call ended, never during one. The manager counts
    its calls in flight (:meth:`begin`, :meth:`end`) and the time since the last one ended as it
    saw it (never earlier than the host's own count), and stops using a host once half of
    ``idle_s`` has passed without a call, so it does not send work to one that is passivating:
    the instance is then activated in its own actor instead. A host found dead is
    :meth:`forget` -ten.
    """

    def __init__(self, idle_s: float, *, clock: Callable[[], float] = time.monotonic):
        self._valid_s = idle_s / 2 if idle_s > 0 else float("inf")
        self._clock = clock
        self._lock = threading.Lock()
        self._hosts: dict[str, list] = {}  # instance id -> [host, last call's end, calls in flight]

    def assign(self, instance_id: str, host: PrestartedHost) -> None:
        with self._lock:
            self._hosts[instance_id] = [host, self._clock(), 0]

    def get(self, instance_id: str) -> PrestartedHost | None:
        """The host of the instance's activation, if it may still be up."""
        now = self._clock()
        with self._lock:
            entry = self._hosts.get(instance_id)
            if entry is None:
                return None
            host, last, in_flight = entry
            if not in_flight and now - last >= self._valid_s:
                del self._hosts[instance_id]
                return None
            return host

    def begin(self, instance_id: str) -> None:
        """A call was sent to the instance's host."""
        with self._lock:
            entry = self._hosts.get(instance_id)
            if entry is not None:
                entry[2] += 1

    def end(self, instance_id: str) -> None:
        """A call on the instance's host ended: its idle time starts again."""
        with self._lock:
            entry = self._hosts.get(instance_id)
            if entry is not None:
                entry[1], entry[2] = self._clock(), max(0, entry[2] - 1)

    def forget(self, instance_id: str) -> None:
        with self._lock:
            self._hosts.pop(instance_id, None)
