"""A service instance's actor: a thin shell over ServiceController.

It is the instance's own actor (``service:<uuid>``, activated on demand) or a pre-started host
(``service-host-<hex>``) that the SLM gave a new instance's first operation; either way it is
that one instance's activation until it passivates.

``run`` is sent fire-and-forget by the SLM; progress is read from the operation record. A
restarted actor (crash, ``ray.kill``) resumes the in-flight operation from its persisted
step progress in ``__init__``; calls to ``run`` for an operation it is already running are
no-ops, so the SLM's recovery loop and a restart never run one operation twice.

``wait_for`` lets a caller block until an operation is final instead of polling its record;
it runs in its own concurrency group, so waiters can never take the threads ``run`` needs.
"""
from __future__ import annotations

import logging
import threading

import ray

from actors import calls, handles, naming, spares
from mano.lifecycle import waiting
from mano.lifecycle.idle import IdleTimer
from mano.errors import LeaseHeldError, LifecycleError
from mano.lifecycle.service import ServiceController
from mano.settings import Settings
from mano.store.client import connect

log = logging.getLogger(__name__)


@ray.remote(num_cpus=0, max_concurrency=8, concurrency_groups={"waiters": 64})
class ServiceInstance(spares.ActivationMethods):
    """A service instance's activation: ``service:<id>``, or a pre-started host
    (``service-host-<hex>``, ``service_id`` None) that becomes one service's activation with the
    first ``run`` it is sent (:mod:`mano.lifecycle.host_pool`)."""

    def __init__(self, service_id: str | None, settings: Settings, spare: bool = False):
        self._settings = settings
        self._store = connect(settings, stop_embedded_on_exit=False)
        self._leases = naming.actor_leases(self._store, settings)
        self.core: ServiceController | None = None
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._ended = waiting.RunEnded()
        if service_id is None and calls.restarted():
            # A host restarted after a crash: it resumes the activation whose lease it held.
            service_id = next((key.partition(":")[2] for key in self._leases.left_over("service")), None)
            spare = False  # taken already: nobody will hand it out again
        self._idle = IdleTimer(settings.idle_passivate_s, calls.passivate_self, name=calls.current_actor_name(),
                               held=spare)
        if service_id is None:
            if spare:
                spares.warm_up((naming.FLM, naming.INFRASTRUCTURE, naming.PLACEMENT))
            return
        self._bind(service_id)
        pending = self.core.pending_operation()
        if pending is not None:
            log.info("service %s: resuming operation %s", service_id, pending)
            threading.Thread(target=self.run, args=(pending,), daemon=True).start()

    def _bind(self, service_id: str) -> ServiceController:
        with self._lock:
            if self.core is None:
                functions, infrastructure, placement, sms = handles.service_ports(self._settings)
                self.core = ServiceController(service_id, self._store, functions, infrastructure, placement,
                                              sms=sms, leases=self._leases)
            elif self.core.service_id != service_id:
                raise LifecycleError(f"this actor hosts service {self.core.service_id}, not {service_id}")
            return self.core

    def run(self, operation_id: str, service_id: str | None = None) -> str:
        """Run (or resume) an operation; returns its final state. ``service_id``: a pre-started
        host's first run binds it to that service."""
        core = self._bind(service_id) if service_id is not None else self.core
        if core is None:
            raise LifecycleError(f"operation {operation_id} was sent to a pre-started host without its service's id")
        with self._lock:
            if operation_id in self._running:
                return "RUNNING"
            self._running.add(operation_id)
        self._idle.release_hold()  # work means it was handed out
        try:
            with self._idle.active():
                return core.run(operation_id).state.value
        except LeaseHeldError:
            return "RUNNING"  # another activation runs it (the SLM under a burst, or a zombie of ours)
        finally:
            with self._lock:
                self._running.discard(operation_id)
            self._ended.notify()

    @ray.method(concurrency_group="waiters")
    def wait_for(self, operation_id: str, timeout_s: float) -> str:
        """The operation's final state once it is final, or a :mod:`mano.lifecycle.waiting` answer."""
        return self._ended.wait(lambda: self._store.operations.find_one(operation_id), timeout_s)

    def hosts(self) -> str | None:
        """The id of the service whose activation this actor is (None: a host still waiting)."""
        return None if self.core is None else self.core.service_id

    def status(self) -> dict:
        if self.core is None:
            raise LifecycleError("this pre-started host runs no service yet")
        with self._idle.active():
            return self.core.record().model_dump(mode="json")
