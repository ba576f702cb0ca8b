"""A VNF instance's actor: a thin shell over :class:`VnfController`.

It is the instance's own actor (``vnf:<uuid>``, activated on demand) or a pre-started host
(``vnf-host-<hex>``) that the FLM gave a new VNF's deploy; either way it is that one VNF's
activation until it passivates.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import ray

from actors import calls, handles, naming, spares
from mano.lifecycle.idle import IdleTimer
from mano.errors import LifecycleError
from mano.lifecycle.ports import FunctionAction, FunctionDeployment
from mano.lifecycle.vnf import VnfController
from mano.settings import Settings
from mano.store.client import connect


@ray.remote(num_cpus=0, max_concurrency=4)
class VnfInstance(spares.ActivationMethods):
    def __init__(self, vnf_instance_id: str | None, settings: Settings, spare: bool = False):
        self._settings = settings
        self._store = connect(settings, stop_embedded_on_exit=False)
        self._leases = naming.actor_leases(self._store, settings)
        self._lock = threading.Lock()
        self.core: VnfController | None = None
        if vnf_instance_id is None and calls.restarted():
            # A host restarted after a crash: it goes on with the VNF whose lease it held.
            vnf_instance_id = next((key.partition(":")[2] for key in self._leases.left_over("vnf")), None)
            spare = False
        self._idle = IdleTimer(settings.idle_passivate_s, calls.passivate_self, name=calls.current_actor_name(),
                               held=spare)
        if vnf_instance_id is not None:
            self._bind(vnf_instance_id)
        elif spare:
            spares.warm_up((naming.INFRASTRUCTURE,))

    def _bind(self, vnf_instance_id: str) -> VnfController:
        with self._lock:
            if self.core is None:
                self.core = VnfController(vnf_instance_id, self._store, handles.InfrastructureAdaptor(self._settings.step_timeout_s),
                                          leases=self._leases, wait_s=self._settings.step_timeout_s)
            elif self.core.id != vnf_instance_id:
                raise LifecycleError(f"this actor hosts VNF {self.core.id}, not {vnf_instance_id}")
            return self.core

    @contextlib.contextmanager
    def _working(self, vnf_instance_id: str) -> Iterator[VnfController]:
        core = self._bind(vnf_instance_id)  # a pre-started host's first call binds it
        self._idle.release_hold()  # work means it was handed out
        # One lifecycle call at a time (a stale deploy from a workflow whose service actor died
        # finishes before the resumed workflow acts on this VNF): the core holds the VNF's lease.
        with self._idle.active():
            yield core

    def deploy(self, request: FunctionDeployment) -> dict[str, Any]:
        with self._working(request.vnf_instance_id) as core:
            return core.deploy(request)

    def start(self, action: FunctionAction) -> None:
        with self._working(action.vnf_instance_id) as core:
            core.start(action)

    def stop(self, action: FunctionAction) -> None:
        with self._working(action.vnf_instance_id) as core:
            core.stop(action)

    def configure(self, action: FunctionAction) -> None:
        with self._working(action.vnf_instance_id) as core:
            core.configure(action)

    def remove(self, action: FunctionAction) -> None:
        with self._working(action.vnf_instance_id) as core:
            core.remove(action)

    def heal(self, action: FunctionAction) -> dict[str, Any]:
        with self._working(action.vnf_instance_id) as core:
            return core.heal(action)

    def hosts(self) -> str | None:
        """The id of the VNF whose activation this actor is (None: a host still waiting)."""
        return None if self.core is None else self.core.id

    def status(self, vnf_instance_id: str) -> str:
        with self._working(vnf_instance_id) as core:
            return core.vim_status()
