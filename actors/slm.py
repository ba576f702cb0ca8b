"""The service lifecycle manager actor: admits requests and activates service actors.

Admission (and its SONATA error texts) is :class:`mano.lifecycle.slm.ServiceLifecycleManager`;
this shell validates descriptors at the edge, activates ``service:<uuid>`` actors and runs
the recovery loop: any operation that is not final but whose service actor is gone (killed
without restart, or lost with a node) gets its actor re-activated, which resumes it.

New services take their id from a warm spare actor when one is ready (``actors.spares``), so
an instantiation does not wait for a worker process to start. Under a burst, when no spare is
left, the SLM runs the instantiation itself (``Settings.burst_in_slm``): starting a worker
process costs ~0.6 CPU-s here, several times the workflow, and would cap a burst at the rate
Ray starts processes. Such a service is born passivated: its actor is activated by its next
request (unless that request comes in a burst too: then it also runs here), and if the SLM
dies meanwhile, its recovery loop hands the operation to the actor, which resumes it from the
persisted steps, as after any crash. Requests on passivated services make a burst of their
own (many services scaled at once): once as many service actors are starting as the machine
has CPUs, the next such request runs here too, instead of queueing one more process start.
That choice, the bookkeeping of what runs here and the recovery pass are
:class:`mano.lifecycle.dispatch.ServiceDispatch`; this shell supplies the Ray parts (activating
an actor, the workflow ports) and the observations. Wherever the operation runs, it holds the
service's lease.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping, Sequence

import ray

from actors import calls, naming, scheduling, spares, waiting
from actors.plugin import PluginActor
from actors.ports import RayFunctions, RayInfrastructure, RayPlacement
from actors.service_instance import ServiceInstance
from actors.smr_port import RaySpecificManagers
from mano.descriptors.service import ServicePackage, load_service
from mano.errors import LifecycleError
from mano.lifecycle.dispatch import ServiceDispatch
from mano.lifecycle.lease import service_key
from mano.lifecycle.service import ServiceController
from mano.lifecycle.slm import ServiceLifecycleManager
from mano.lifecycle.states import OperationType, PluginState
from mano.records import OperationRecord
from mano.settings import Settings
from mano.store.client import connect

log = logging.getLogger(__name__)

@ray.remote(num_cpus=0, max_concurrency=32, max_restarts=-1, concurrency_groups={"waiters": 64})
class ServiceLifecycleManagerActor(PluginActor):
    plugin_name = naming.SLM
    plugin_description = "Service lifecycle: instantiate, terminate, scale, heal"

    def __init__(self, settings: Settings):
        self._settings = settings
        self._store = connect(settings, stop_embedded_on_exit=False)
        self.core = ServiceLifecycleManager(self._store, default_policy=settings.placement_policy)
        self._leases = naming.actor_leases(self._store, settings)
        spares.stop_unclaimed("service")  # a previous incarnation's: nobody can take them now
        self.spares = spares.SparePool(settings.spare_service_actors, self._create_spare,
                                       lambda handle: calls.tell(handle, "claim"),
                                       refill_delay_s=settings.spare_refill_delay_s,
                                       idle=lambda: spares.machine_idle(settings.spare_idle_cpu_percent))
        self._spares_up: set[str] = set()  # spare actors known to be up (they answered)
        self._spares_lock = threading.Lock()
        self._here_ended = waiting.RunEnded()
        self.dispatch = ServiceDispatch(
            activate=self._activate_actor, run_here=self._run_here, on_ended=self._here_ended.notify,
            pool=ThreadPoolExecutor(max_workers=settings.slm_threads, thread_name_prefix="slm-burst"),
            cpus=os.cpu_count() or 1, manager_may_host=settings.burst_in_slm)
        self._ports: tuple | None = None  # the service workflows' ports, made on first use
        self._start_plugin(settings)
        self.spares.fill()
        threading.Thread(target=self._recovery_loop, args=(settings.recovery_period_s,), daemon=True).start()

    # --- requests ----------------------------------------------------------------------
    def instantiate(self, nsd: Mapping[str, Any] | ServicePackage, vnfds: Sequence[Mapping[str, Any]] = (), *,
                    vim: str | None = None, operation_id: str | None = None,
                    user_data: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
                    service_id: str | None = None) -> dict:
        """``nsd``, ``vnfds``: the descriptors as documents (the gateway's), validated here; or a
        package the caller loaded (``mano.instantiate``), validated once already, when it was loaded."""
        self._require_running()
        package = nsd if isinstance(nsd, ServicePackage) else load_service(
            dict(nsd), [dict(v) for v in vnfds], max_bytes=self._settings.max_descriptor_bytes)
        new = self._is_new(operation_id)
        # A spare taken is claimed by the run it is sent (its first work), or below if admission
        # refuses: then it passivates by itself.
        spare = self.spares.take(claim=False) if service_id is None and new else None
        if spare is not None:
            service_id = spare.id
        has_actor = lambda: spare is not None or (service_id is not None and self._has_actor(service_id))  # noqa: E731
        host = self.dispatch.host(has_actor=has_actor, new_operation=lambda: new, spares_ready=len(self.spares))
        try:
            op = self.dispatch.admit(lambda op_id: self.core.instantiate(
                package, vim=vim or self._settings.default_vim, operation_id=op_id, user_data=user_data,
                params=params, service_id=service_id), operation_id, host)
        except BaseException:
            if spare is not None:
                self.spares.claim(spare)
                with self._spares_lock:
                    self._spares_up.discard(spare.id)
            raise
        return op.model_dump(mode="json")

    def request(self, service_id: str, op_type: str, params: Mapping[str, Any] | None = None, *,
                operation_id: str | None = None) -> dict:
        self._require_running()
        host = self.dispatch.host(has_actor=lambda: self._has_actor(service_id),
                                  new_operation=lambda: self._is_new(operation_id), spares_ready=len(self.spares))
        return self.dispatch.admit(lambda op_id: self.core.request(service_id, OperationType(op_type), params,
                                                                   operation_id=op_id),
                                   operation_id, host).model_dump(mode="json")

    @staticmethod
    def _has_actor(service_id: str) -> bool:
        return calls.actor_exists(naming.service_actor(service_id), naming.NAMESPACE)

    def _is_new(self, operation_id: str | None) -> bool:
        return operation_id is None or self.core.store.operations.find_one(operation_id) is None

    def _require_running(self) -> None:
        if self._plugin_state != PluginState.RUNNING:
            raise LifecycleError(f"the SLM is {self._plugin_state.value.lower()}; it accepts no requests")

    def _activate_actor(self, op: OperationRecord, on_up: Callable[[], None] | None) -> None:
        handle = calls.create(ServiceInstance, op.service_id, self._settings, where=scheduling.instances(self._settings),
                              name=naming.service_actor(op.service_id),
                              namespace=naming.NAMESPACE, get_if_exists=True, lifetime="detached", max_restarts=-1)
        calls.tell(handle, "run", op.id)  # fire and forget: progress is on the operation record
        if on_up is None:
            return
        with self._spares_lock:
            was_spare_up = op.service_id in self._spares_up
            self._spares_up.discard(op.service_id)
        if was_spare_up:
            on_up()  # a spare that answered already: no call to learn it
        else:  # up once it answers (at once if it was up already); a dead one counts as up too
            calls.tell(handle, "pid").future().add_done_callback(lambda _done: on_up())

    def starting(self) -> list[str]:
        """Services whose actor this SLM started and that is not up yet."""
        return self.dispatch.starting()

    def _run_here(self, op: OperationRecord) -> None:
        """Run an operation in this process (under a burst: see the module docstring)."""
        if self._ports is None:
            self._ports = (RayFunctions(self._settings), RayInfrastructure(self._settings),
                           RayPlacement(self._settings), RaySpecificManagers(self._settings))
        functions, infrastructure, placement, sms = self._ports
        ServiceController(op.service_id, self._store, functions, infrastructure, placement,
                          sms=sms, leases=self._leases).run(op.id)

    def runs_here(self, operation_id: str) -> bool:
        """True while this SLM runs the operation itself (its service has no actor meanwhile)."""
        return self.dispatch.runs_here(operation_id)

    @ray.method(concurrency_group="waiters")
    def wait_for(self, operation_id: str, timeout_s: float) -> str:
        """Like the service actor's: for the operations this SLM runs itself (``ELSEWHERE`` for others)."""
        return self._here_ended.wait(lambda: self.core.store.operations.find_one(operation_id), timeout_s,
                                     runs_it=lambda: self.runs_here(operation_id))

    # --- spares --------------------------------------------------------------------------
    def _create_spare(self, service_id: str) -> Any:
        handle = calls.create(ServiceInstance, service_id, self._settings, True, where=scheduling.instances(self._settings),
                              name=naming.service_actor(service_id),
                              namespace=naming.NAMESPACE, lifetime="detached", max_restarts=-1)
        calls.tell(handle, "pid").future().add_done_callback(lambda _done: self._spare_up(service_id))
        return handle

    def _spare_up(self, service_id: str) -> None:
        """A spare answered: a request that takes it need not ask whether it is up."""
        with self._spares_lock:
            self._spares_up.add(service_id)

    def spare_ids(self) -> list[str]:
        return self.spares.ids()

    def fill_spares(self) -> list[str]:
        """Fill the spare pool now, whatever the CPU load, and return its ids: warming the runtime
        before a known burst. The automatic refill waits for idle CPUs, which a machine shared
        with a busy neighbour may not have for a long time (work then runs here, warm)."""
        self.spares.fill()
        return self.spares.ids()

    # --- recovery ----------------------------------------------------------------------
    def _recovery_loop(self, period_s: float) -> None:
        while True:
            try:
                self.recover()
            except Exception:  # noqa: BLE001 - the loop must survive store outages
                log.warning("recovery pass failed", exc_info=True)
            time.sleep(period_s)

    def recover(self) -> int:
        """Re-activate the service actors of in-flight operations that no activation runs: no actor,
        not run here, and no live lease (a lease that is not renewed expires in ``lease_ttl_s``)."""
        return self.dispatch.recover(
            self.core.in_flight(), has_actor=self._has_actor, read=self.core.store.operations.find_one,
            lease_active=lambda service_id: self._leases.active(service_key(service_id)) is not None)
