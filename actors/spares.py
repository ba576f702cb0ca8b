"""Warm spare instance actors: an actor process started before the request that needs it.

Starting an actor is starting a Ray worker process: about 0.6 s of CPU on a 2-core machine,
most of an instantiation's latency. A spare is an instance actor created ahead of time under
a freshly allocated id (``service:<uuid>``, ``vnf:<uuid>``); a new instance takes a spare's
id, and its first call lands on a process that is already up. The pool refills shortly after
a spare is taken, so the start-up cost moves off the request's path. It is still paid: under a
sustained burst the pool is empty and the rate is bounded by how fast Ray starts workers
(docs/reliability.md).

A spare holds no state and does not passivate while it waits. Taking it *claims* it: from
then on it is an ordinary instance actor that passivates when idle, so a spare whose id ends
up unused (a request refused after the id was taken) goes away by itself. Spares left behind
by a restart of their pool's owner are still unclaimed, which is how :func:`stop_unclaimed`
finds them.

:class:`SparePool` is plain Python (``create`` and ``claim`` are injected), testable without Ray.
"""
from __future__ import annotations

import collections
import logging
import threading
import uuid
from typing import Any, Callable, NamedTuple

log = logging.getLogger(__name__)


class Spare(NamedTuple):
    id: str
    handle: Any


class SparePool:
    """Keep ``size`` spares ready; ``take`` claims one (None when the pool is empty or disabled)."""

    def __init__(self, size: int, create: Callable[[str], Any], claim: Callable[[Any], None],
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4()), *, refill_delay_s: float = 0.0,
                 idle: Callable[[], bool] = lambda: True):
        """``refill_delay_s``: replace taken spares that long after a take, one at a time and only
        while ``idle()`` says the machine has CPU to spare, else try again a delay later. A worker
        start takes a core for ~0.6 s: begun at once, it competes with the very request that
        took the spare (measured: 0.36 s instantiations became 1.8 s with four refills at once),
        and under a burst it would only add starts to a saturated machine."""
        self.size = max(0, size)
        self._create, self._claim, self._new_id = create, claim, new_id
        self._refill_delay_s = refill_delay_s
        self._idle = idle
        self._ready: collections.deque[Spare] = collections.deque()
        self._lock = threading.Lock()
        self._refill: threading.Timer | None = None

    def __len__(self) -> int:
        return len(self._ready)

    def ids(self) -> list[str]:
        with self._lock:
            return [s.id for s in self._ready]

    def fill(self, limit: int | None = None) -> int:
        """Create spares up to ``size`` (at most ``limit`` now); returns how many were created."""
        created = 0
        while limit is None or created < limit:
            with self._lock:
                if len(self._ready) >= self.size:
                    break
                spare_id = self._new_id()
                # create() only schedules the actor (Ray starts it in the background): cheap under the lock.
                self._ready.append(Spare(spare_id, self._create(spare_id)))
            created += 1
        return created

    def take(self) -> Spare | None:
        """Claim a ready spare and start its replacement; None if there is none."""
        with self._lock:
            spare = self._ready.popleft() if self._ready else None
        if spare is None:
            return None
        self._claim(spare.handle)
        self._schedule_refill()
        return spare

    def take_ids(self, count: int) -> list[str]:
        """``count`` ids for new instances: spares' ids first, then fresh ones."""
        ids = []
        for _ in range(count):
            spare = self.take()
            ids.append(spare.id if spare is not None else self._new_id())
        return ids

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
        except Exception:  # noqa: BLE001 - a later take schedules another; requests do not need spares
            log.warning("refilling spares failed", exc_info=True)


def warm_up(actor_names: tuple[str, ...]) -> None:
    """Open this worker's connections to the actors it will call, in the background.

    A fresh worker's first call to each actor resolves its address and opens a channel; done
    while the spare waits, the request that takes it does not pay for it (the place step of a
    fresh service actor took ~25 ms longer than on a used one).
    """
    def run() -> None:
        from actors import calls
        for name in actor_names:
            try:
                calls.call(calls.named(name), "ping", timeout=30, retries=0, what=f"{name}.ping")
            except Exception:  # noqa: BLE001 - only an optimisation: the real call retries
                log.debug("warm-up ping of %s failed", name, exc_info=True)
    threading.Thread(target=run, name="spare-warm-up", daemon=True).start()


def machine_idle(threshold_percent: float = 60.0, sample_s: float = 0.25) -> bool:
    """True if the machine's CPUs were less than ``threshold_percent`` busy over ``sample_s``."""
    import psutil
    return psutil.cpu_percent(interval=sample_s) < threshold_percent


def stop_unclaimed(kind: str, *, timeout_s: float = 5.0) -> list[str]:
    """Stop the unclaimed spares of ``kind`` (``service`` or ``vnf``) on the cluster; their names.

    Call it before the pool owner creates spares of its own: every unclaimed spare then
    belongs to a previous incarnation, and no one will ever take it.
    """
    import ray

    from actors import naming
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
             if a.get("namespace") == naming.NAMESPACE and a["name"].startswith(f"{kind}:")]
    from actors import calls
    handles = {name: h for name in names if (h := calls.lookup(name)) is not None}  # some may be gone meanwhile
    refs = {calls.tell(h, "unclaimed"): name for name, h in handles.items()}
    answered, _ = calls.wait(list(refs), timeout=timeout_s)
    stopped = []
    for ref in answered:
        try:
            unclaimed = calls.get(ref, timeout=0, what=f"{refs[ref]}.unclaimed")
        except Exception:  # noqa: BLE001 - dead or restarting: not a waiting spare
            continue
        if unclaimed:
            ray.kill(handles[refs[ref]], no_restart=True)
            stopped.append(refs[ref])
    if stopped:
        log.info("stopped %d unclaimed spare %s actors left by a previous run", len(stopped), kind)
    return stopped
