"""The service lifecycle manager actor: admits requests and activates service actors.

Admission (and its SONATA error texts) is :class:`mano.lifecycle.slm.ServiceLifecycleManager`;
where each admitted operation runs (its service's activation, or this process under a burst)
and the recovery pass are :class:`mano.lifecycle.dispatch.ServiceDispatch`, by the decision of
:mod:`mano.lifecycle.hosting`, which says why. This shell validates descriptors at the edge,
supplies the Ray parts (activating ``service:<uuid>``, the workflow ports, the observations)
and runs the recovery loop: an operation that is not final and that no activation runs gets
its service's actor re-activated, which resumes it from its persisted steps.

A new service's first operation goes to a pre-started host when one is ready
(``service-host-<hex>``, :mod:`mano.lifecycle.host_pool`); that host stays the service's
activation until it passivates, and this SLM sends the service's next requests there meanwhile
and answers their waiters (the host has no name a caller could find it by). Wherever the
operation runs, it holds the service's lease.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping, Sequence

import ray

from actors import calls, handles, naming, spares
from mano.lifecycle import nodes
from mano.lifecycle import waiting
from actors.plugin import PluginActor
from actors.service_instance import ServiceInstance
from mano.descriptors.service import ServicePackage, load_service
from mano.errors import LifecycleError
from mano.lifecycle.dispatch import ServiceDispatch
from mano.lifecycle.host_pool import HostedInstances, HostPool, PrestartedHost, host_name
from mano.lifecycle.lease import service_key
from mano.lifecycle.service import ServiceController
from mano.lifecycle.slm import ServiceLifecycleManager
from mano.lifecycle.states import OperationState, OperationType, PluginState
from mano.records import OperationRecord
from mano.settings import Settings
from mano.store.client import connect

log = logging.getLogger(__name__)

@ray.remote(num_cpus=0, max_concurrency=32, max_restarts=-1, concurrency_groups={"requests": 64, "waiters": 64})
class ServiceLifecycleManagerActor(spares.SparePoolMethods, PluginActor):
    plugin_name = naming.SLM
    plugin_description = "Service lifecycle: instantiate, terminate, scale, heal"

    def __init__(self, settings: Settings):
        self._settings = settings
        self._store = connect(settings, stop_embedded_on_exit=False)
        self.core = ServiceLifecycleManager(self._store, default_policy=settings.placement_policy)
        self._leases = naming.actor_leases(self._store, settings)
        spares.stop_unclaimed("service")  # a previous incarnation's: nobody can take them now
        self.spares = HostPool(settings.spare_service_actors, self._create_host,
                               lambda handle: calls.tell(handle, "claim"), lambda: host_name("service"),
                               refill_delay_s=settings.spare_refill_delay_s,
                               idle=lambda: spares.machine_idle(settings.spare_idle_cpu_percent))
        self._hosted = HostedInstances(settings.idle_passivate_s)
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
    # Requests have threads of their own: with ``wait_s`` they stay until their operation ends,
    # which must not take the threads of the other calls (pings, recovery, wait_for).
    @ray.method(concurrency_group="requests")
    def instantiate(self, nsd: Mapping[str, Any] | ServicePackage, vnfds: Sequence[Mapping[str, Any]] = (), *,
                    vim: str | None = None, operation_id: str | None = None,
                    user_data: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
                    service_id: str | None = None, wait_s: float = 0.0) -> dict:
        """``nsd``, ``vnfds``: the descriptors as documents (the gateway's), validated here; or a
        package the caller loaded (``mano.instantiate``), validated once already, when it was loaded.

        ``wait_s``: answer once the operation is final, within that long, if it runs here or on
        a pre-started host (this SLM sees it end): a caller that waits saves its ``wait_for``
        call. Otherwise, or when the time is up, the record as admitted."""
        self._require_running()
        package = nsd if isinstance(nsd, ServicePackage) else load_service(
            dict(nsd), [dict(v) for v in vnfds], max_bytes=self._settings.max_descriptor_bytes)
        new = self._is_new(operation_id)
        # A host taken becomes the new service's activation with the run it is sent (its first
        # work), or is given back below if admission refuses: then it passivates by itself.
        prestarted = self.spares.take() if new else None
        if prestarted is not None:
            service_id = service_id or str(uuid.uuid4())
            self._hosted.assign(service_id, prestarted)
        has_actor = lambda: prestarted is not None or (service_id is not None and self._has_actor(service_id))  # noqa: E731
        host = self.dispatch.host(has_actor=has_actor, new_operation=lambda: new, spares_ready=len(self.spares))
        try:
            op = self.dispatch.admit(lambda op_id: self.core.instantiate(
                package, vim=vim or self._settings.default_vim, operation_id=op_id, user_data=user_data,
                params=params, service_id=service_id), operation_id, host)
        except BaseException:
            if prestarted is not None:
                self._hosted.forget(service_id)  # type: ignore[arg-type]
                self.spares.release(prestarted)
            raise
        return self._answer(op, wait_s)

    @ray.method(concurrency_group="requests")
    def request(self, service_id: str, op_type: str, params: Mapping[str, Any] | None = None, *,
                operation_id: str | None = None, wait_s: float = 0.0) -> dict:
        """An operation on an existing service; ``wait_s`` as for :meth:`instantiate`."""
        self._require_running()
        host = self.dispatch.host(has_actor=lambda: self._has_actor(service_id),
                                  new_operation=lambda: self._is_new(operation_id), spares_ready=len(self.spares))
        op = self.dispatch.admit(lambda op_id: self.core.request(service_id, OperationType(op_type), params,
                                                                 operation_id=op_id), operation_id, host)
        return self._answer(op, wait_s)

    # The operator's decisions on a FAILED_TEMP operation: recorded by the core (which refuses
    # them for any other state), then the operation goes to its service's activation again.
    @ray.method(concurrency_group="requests")
    def retry(self, operation_id: str, *, wait_s: float = 0.0) -> dict:
        """Resume a FAILED_TEMP operation at its failed step; ``wait_s`` as for :meth:`instantiate`."""
        self._require_running()
        return self._resume(self.core.retry(operation_id), wait_s)

    @ray.method(concurrency_group="requests")
    def roll_back(self, operation_id: str, *, wait_s: float = 0.0) -> dict:
        """Undo a FAILED_TEMP operation; ``wait_s`` as for :meth:`instantiate`."""
        self._require_running()
        return self._resume(self.core.roll_back(operation_id), wait_s)

    @ray.method(concurrency_group="requests")
    def cancel(self, operation_id: str, *, reason: str | None = None, wait_s: float = 0.0) -> dict:
        """Ask a PROCESSING operation to stop at its next step boundary (it goes FAILED_TEMP);
        ``wait_s`` as for :meth:`instantiate`: the record once it is FAILED_TEMP, or final if it
        ended first."""
        self._require_running()
        answer = self._answer(self.core.cancel(operation_id, reason), wait_s)
        self.core.forget_cancel(operation_id, OperationState(answer["state"]))
        return answer

    def _resume(self, op: OperationRecord, wait_s: float) -> dict:
        self.dispatch.activate(op)
        return self._answer(op, wait_s)

    def _answer(self, op: OperationRecord, wait_s: float) -> dict:
        if wait_s > 0 and not op.state.is_settled:
            last = [op]

            def read() -> OperationRecord | None:
                found = self.core.store.operations.find_one(op.id)
                last[0] = found or last[0]
                return found
            self._here_ended.wait(read, wait_s, runs_it=lambda: self.dispatch.answers_for(op.id))
            op = last[0]  # the record as the wait last read it: final, or as it stood when it stopped
        return op.model_dump(mode="json")

    def _has_actor(self, service_id: str) -> bool:
        return self.activation_of(service_id) is not None

    def _activation_alive(self, service_id: str) -> bool:
        """Like ``_has_actor``, but a host is asked of Ray, not only remembered: recovery must
        not trust a host that died without its run's answer ever coming."""
        host = self._hosted.get(service_id)
        if host is not None and calls.actor_exists(host.name, naming.NAMESPACE):
            return True
        if host is not None:
            self._hosted.forget(service_id)
        return calls.actor_exists(naming.service_actor(service_id), naming.NAMESPACE)

    def activation_of(self, service_id: str) -> str | None:
        """The name of the actor that is the service's activation now, if any: the pre-started
        host it was given, or its own ``service:<id>``."""
        return spares.activation_name(self._hosted, service_id, naming.service_actor(service_id))

    def _is_new(self, operation_id: str | None) -> bool:
        return operation_id is None or self.core.store.operations.find_one(operation_id) is None

    def _require_running(self) -> None:
        if self._plugin_state != PluginState.RUNNING:
            raise LifecycleError(f"the SLM is {self._plugin_state.value.lower()}; it accepts no requests")

    def _activate_actor(self, op: OperationRecord, on_up: Callable[[], None] | None) -> None:
        """Send the operation to the service's activation: the pre-started host it has, else its
        own actor (activated if it is not up). Fire and forget: progress is on the record."""
        host = self._hosted.get(op.service_id)
        if host is not None:
            handle = host.handle
            self._run_on_host(op, host)
        else:
            handle = calls.create(ServiceInstance, op.service_id, self._settings, where=nodes.instances(self._settings),
                                  name=naming.service_actor(op.service_id),
                                  namespace=naming.NAMESPACE, get_if_exists=True, lifetime="detached", max_restarts=-1)
            calls.tell(handle, "run", op.id)
        if on_up is None:
            return
        if host is not None and self.spares.was_up(host):
            on_up()  # a host that answered already: no call to learn it
        else:  # up once it answers (at once if it was up already); a dead one counts as up too
            calls.tell(handle, "pid").future().add_done_callback(lambda _done: on_up())

    def _run_on_host(self, op: OperationRecord, host: PrestartedHost) -> None:
        """Run the operation on the service's pre-started host; this SLM answers its waiters
        (the host has no name a caller could find it by)."""
        self.dispatch.sent_to_host(op.id)
        self._hosted.begin(op.service_id)

        def ended(future: Any) -> None:
            if future.exception() is not None:  # the host died: recovery re-activates the service
                self._hosted.forget(op.service_id)
            else:
                self._hosted.end(op.service_id)
            self.dispatch.host_run_ended(op.id)
        calls.tell(host.handle, "run", op.id, op.service_id).future().add_done_callback(ended)

    def starting(self) -> list[str]:
        """Services whose actor this SLM started and that is not up yet."""
        return self.dispatch.starting()

    def _run_here(self, op: OperationRecord) -> None:
        """Run an operation in this process (under a burst: see the module docstring)."""
        if self._ports is None:
            self._ports = handles.service_ports(self._settings)
        functions, infrastructure, placement, sms = self._ports
        ServiceController(op.service_id, self._store, functions, infrastructure, placement,
                          sms=sms, leases=self._leases).run(op.id)

    def runs_here(self, operation_id: str) -> bool:
        """True while this SLM runs the operation itself (its service has no actor meanwhile)."""
        return self.dispatch.runs_here(operation_id)

    @ray.method(concurrency_group="waiters")
    def wait_for(self, operation_id: str, timeout_s: float) -> str:
        """Like the service actor's: for the operations this SLM runs itself or sent to a
        pre-started host (``ELSEWHERE`` for others)."""
        return self._here_ended.wait(lambda: self.core.store.operations.find_one(operation_id), timeout_s,
                                     runs_it=lambda: self.dispatch.answers_for(operation_id))

    # --- pre-started hosts ---------------------------------------------------------------
    def _create_host(self, name: str) -> Any:
        # Restarted by Ray after a crash, a host resumes the service whose lease it held.
        handle = calls.create(ServiceInstance, None, self._settings, True, where=nodes.instances(self._settings), name=name,
                              namespace=naming.NAMESPACE, lifetime="detached", max_restarts=-1)
        calls.tell(handle, "pid").future().add_done_callback(lambda _done: self.spares.mark_up(name))
        return handle

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
            self.core.in_flight(), has_actor=self._activation_alive, read=self.core.store.operations.find_one,
            lease_active=lambda service_id: self._leases.active(service_key(service_id)) is not None)
