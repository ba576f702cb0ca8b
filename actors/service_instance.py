"""One actor per service instance (``service:<uuid>``): a thin shell over ServiceController.

``run`` is sent fire-and-forget by the SLM; progress is read from the operation record. A
restarted actor (crash, ``ray.kill``) resumes the in-flight operation from its persisted
step progress in ``__init__``; calls to ``run`` for an operation it is already running are
no-ops, so the SLM's recovery loop and a restart never run one operation twice.

``wait_for`` lets a caller block until an operation is final instead of polling its record;
it runs in its own concurrency group, so waiters can never take the threads ``run`` needs.
"""
from __future__ import annotations

import logging
import os
import threading

import ray

from actors import naming, spares, waiting
from actors.passivation import IdleTimer
from actors.ports import RayFunctions, RayInfrastructure, RayPlacement
from actors.smr_port import RaySpecificManagers
from mano.errors import LeaseHeldError
from mano.lifecycle.service import ServiceController
from actors.plugin import store_info
from mano.settings import Settings
from mano.store.client import connect

log = logging.getLogger(__name__)


@ray.remote(num_cpus=0, max_concurrency=8, concurrency_groups={"waiters": 64})
class ServiceInstance:
    def __init__(self, service_id: str, settings: Settings, spare: bool = False):
        self._settings = settings
        self._store = connect(settings, stop_embedded_on_exit=False)
        infrastructure = RayInfrastructure(settings)
        leases = naming.actor_leases(self._store, settings)
        self.core = ServiceController(service_id, self._store, RayFunctions(settings), infrastructure,
                                      RayPlacement(settings), sms=RaySpecificManagers(settings), leases=leases)
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._ended = waiting.RunEnded()
        # A spare (actors/spares.py) waits, without passivating, until it is handed out; an
        # actor restarted from a spare's arguments is no spare once its service exists.
        spare = spare and self._store.services.find_one(service_id) is None
        self._idle = IdleTimer(settings.idle_passivate_s, name=f"service:{service_id}", held=spare)
        if spare:
            spares.warm_up((naming.FLM, naming.INFRASTRUCTURE, naming.PLACEMENT_EXECUTIVE))
        pending = self.core.pending_operation()
        if pending is not None:
            log.info("service %s: resuming operation %s", service_id, pending)
            threading.Thread(target=self.run, args=(pending,), daemon=True).start()

    def run(self, operation_id: str) -> str:
        """Run (or resume) an operation; returns its final state."""
        with self._lock:
            if operation_id in self._running:
                return "RUNNING"
            self._running.add(operation_id)
        self._idle.release_hold()  # work means it was handed out, even if a restart forgot the claim
        try:
            with self._idle.active():
                return self.core.run(operation_id).state.value
        except LeaseHeldError:
            return "RUNNING"  # another activation runs it (the SLM under a burst, or a zombie of ours)
        finally:
            with self._lock:
                self._running.discard(operation_id)
            self._ended.notify()

    @ray.method(concurrency_group="waiters")
    def wait_for(self, operation_id: str, timeout_s: float) -> str:
        """The operation's final state once it is final, or a :mod:`actors.waiting` answer."""
        return self._ended.wait(lambda: self._store.operations.find_one(operation_id), timeout_s)

    def claim(self) -> None:
        """Handed out as a new service's actor: from now on an ordinary, passivating instance."""
        self._idle.release_hold()

    def unclaimed(self) -> bool:
        """True for a spare nobody has handed out (what a restarted pool owner may stop)."""
        return self._idle.held

    def status(self) -> dict:
        with self._idle.active():
            return self.core.record().model_dump(mode="json")

    def store_info(self) -> dict:
        """Which store this actor uses (see :func:`actors.plugin.store_info`)."""
        return store_info(getattr(self, "_store", None), getattr(self, "_settings", None))

    def pid(self) -> int:
        return os.getpid()
