"""The Ray side of pre-started hosts (:mod:`mano.lifecycle.host_pool`): warming a host's
connections while it waits, the machine's idleness for refills, and stopping the hosts a
previous incarnation of their manager left waiting.
"""
from __future__ import annotations

import logging
import threading

from mano.lifecycle.host_pool import HostedInstances, HostPool, is_host_name

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
    import ray

    from actors import naming
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
             if a.get("namespace") == naming.NAMESPACE and is_host_name(kind, a["name"])]
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
        log.info("stopped %d waiting %s hosts left by a previous run", len(stopped), kind)
    return stopped


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
