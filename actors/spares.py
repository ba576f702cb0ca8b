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
up unused (a request refused after the id was taken) goes away by itself. A taker that sends
work to the spare at once may leave the claim to that work (an instance actor's first call
releases its hold) and claim only what got none, which saves a call per instantiation. Spares left behind
by a restart of their pool's owner are still unclaimed, which is how :func:`stop_unclaimed`
finds them.

:class:`SparePool` is plain Python (``create`` and ``claim`` are injected), testable without Ray.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
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
        self._handed_out: dict[str, tuple[Spare, float]] = {}  # taken unclaimed: (spare, claim deadline)
        self._sweep: threading.Timer | None = None

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

    def take(self, *, claim: bool = True) -> Spare | None:
        """Take a ready spare and start its replacement; None if there is none.

        ``claim=False``: the taker's first call on it claims it (an instance actor's first work
        releases its hold), which saves a call; the taker must :meth:`claim` it if that call
        never comes (a request refused after the spare was taken)."""
        with self._lock:
            spare = self._ready.popleft() if self._ready else None
        if spare is None:
            return None
        if claim:
            self._claim(spare.handle)
        self._schedule_refill()
        return spare

    def claim(self, spare: Spare) -> None:
        """Claim a spare taken with ``claim=False`` that will get no work: it then passivates."""
        self._claim(spare.handle)

    def take_ids(self, count: int, *, claim_after_s: float | None = None) -> list[str]:
        """``count`` ids for new instances: spares' ids first, then fresh ones.

        ``claim_after_s``: hand the spares out unclaimed, as :meth:`take` with ``claim=False``:
        the first work each gets claims it (say so with :meth:`used`, which saves a call per
        spare); those still unused that long after are claimed then, so that they passivate.
        """
        ids = []
        deadline = None if claim_after_s is None else time.monotonic() + claim_after_s
        handed_out = False
        for _ in range(count):
            spare = self.take(claim=deadline is None)
            if spare is None:
                ids.append(self._new_id())
                continue
            ids.append(spare.id)
            if deadline is not None:
                with self._lock:
                    self._handed_out[spare.id] = (spare, deadline)
                handed_out = True
        if handed_out:
            self._schedule_sweep(claim_after_s)  # type: ignore[arg-type]
        return ids

    def used(self, ids: list[str]) -> None:
        """These handed-out spares got their first work, which claimed them."""
        with self._lock:
            for spare_id in ids:
                self._handed_out.pop(spare_id, None)

    def _schedule_sweep(self, delay_s: float) -> None:
        with self._lock:
            if self._sweep is not None:
                return
            self._sweep = threading.Timer(delay_s, self._claim_unused)
            self._sweep.daemon = True
            self._sweep.start()

    def _claim_unused(self) -> None:
        """Claim the handed-out spares whose first work did not come in time."""
        now = time.monotonic()
        with self._lock:
            self._sweep = None
            due = [spare for spare, deadline in self._handed_out.values() if deadline <= now]
            for spare in due:
                del self._handed_out[spare.id]
            later = min((deadline for _, deadline in self._handed_out.values()), default=None)
        for spare in due:
            try:
                self._claim(spare.handle)
            except Exception:  # noqa: BLE001 - a spare gone meanwhile needs no claim
                log.info("claiming unused spare %s failed", spare.id, exc_info=True)
        if later is not None:
            self._schedule_sweep(max(0.0, later - now))

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
