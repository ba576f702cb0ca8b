"""The Ray side of pre-started hosts (:mod:`mano.lifecycle.host_pool`): warming a host's
connections while it waits, the machine's idleness for refills, and stopping the hosts a
previous incarnation of their manager left waiting.
"""
from __future__ import annotations

import logging
import os
import threading

from mano.lifecycle.host_pool import HostedInstances, HostPool, is_host_name
from mano.lifecycle.idle import IdleTimer

log = logging.getLogger(__name__)


def warm_up(actor_names: tuple[str, ...]) -> None:
    """Open this worker's connections to the actors it will call, in the background.

    A fresh worker's first call to each actor resolves its address and opens a channel; done
    while the host waits, the request that takes it does not pay for it (the place step of a
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


def activation_name(hosted: HostedInstances, instance_id: str, own_name: str) -> str | None:
    """The name of the actor that is an instance's activation now: the pre-started host its
    manager gave it, else its own actor ``own_name`` if that is up; None if it has none."""
    host = hosted.get(instance_id)
    if host is not None:
        return host.name
    from actors import calls, naming
    return own_name if calls.actor_exists(own_name, naming.NAMESPACE) else None


def machine_idle(threshold_percent: float = 60.0, sample_s: float = 0.25) -> bool:
    """True if the machine's CPUs were less than ``threshold_percent`` busy over ``sample_s``."""
    import psutil
    return psutil.cpu_percent(interval=sample_s) < threshold_percent


def stop_unclaimed(kind: str, *, timeout_s: float = 5.0) -> list[str]:
    """Stop the waiting pre-started hosts of ``kind`` (``service`` or ``vnf``) on the cluster;
    their names.

    Call it before the pool's manager starts hosts of its own: every host still waiting then
    belongs to a previous incarnation, and no one will ever take it.
    """
    from actors import calls, naming
    names = [name for name in calls.actor_names(naming.NAMESPACE) if is_host_name(kind, name)]
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
            calls.kill(handles[refs[ref]])
            stopped.append(refs[ref])
    if stopped:
        log.info("stopped %d waiting %s hosts left by a previous run", len(stopped), kind)
    return stopped


class ActivationMethods:
    """What an instance's activation answers, a service's or a VNF's, a pre-started host or the
    instance's own actor (``self._idle`` holds a waiting host from passivating)."""

    _idle: IdleTimer

    def claim(self) -> None:
        """A pre-started host given back without work: from now on it passivates when idle."""
        self._idle.release_hold()

    def unclaimed(self) -> bool:
        """True for a pre-started host still waiting to be handed out (what a restarted manager stops)."""
        return self._idle.held

    def store_info(self) -> dict:
        """Which store this actor uses (see :func:`actors.plugin.store_info`)."""
        from actors.plugin import store_info
        return store_info(getattr(self, "_store", None), getattr(self, "_settings", None))

    def pid(self) -> int:
        return os.getpid()


class SparePoolMethods:
    """The methods a manager with a pool of pre-started hosts (``self.spares``, a
    :class:`~mano.lifecycle.host_pool.HostPool`) offers: the SLM's and the FLM's."""

    spares: HostPool

    def spare_ids(self) -> list[str]:
        """The names of the pre-started hosts ready now."""
        return self.spares.names()

    def fill_spares(self) -> list[str]:
        """Fill the pool of pre-started hosts now, whatever the CPU load, and return their names:
        warming the runtime before a known burst. The automatic refill waits for idle CPUs, which
        a machine shared with a busy neighbour may not have for a long time (work then runs here, warm)."""
        self.spares.fill()
        return self.spares.names()
