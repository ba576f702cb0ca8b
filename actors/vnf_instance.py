"""One actor per VNF instance (``vnf:<uuid>``): a thin shell over :class:`VnfController`."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import ray

from actors import naming, spares
from actors.passivation import IdleTimer
from actors.ports import RayInfrastructure
from mano.lifecycle.ports import FunctionAction, FunctionDeployment
from mano.lifecycle.vnf import VnfController
from actors.plugin import store_info
from mano.settings import Settings
from mano.store.client import connect


@ray.remote(num_cpus=0, max_concurrency=4)
class VnfInstance:
    def __init__(self, vnf_instance_id: str, settings: Settings, spare: bool = False):
        self._settings = settings
        self._store = connect(settings, stop_embedded_on_exit=False)
        self.core = VnfController(vnf_instance_id, self._store, RayInfrastructure(settings),
                                  leases=naming.actor_leases(self._store, settings),
                                  wait_s=settings.step_timeout_s)
        # A spare (actors/spares.py) waits without passivating until the FLM hands its id out.
        spare = spare and self._store.vnfr.find_one(vnf_instance_id) is None
        self._idle = IdleTimer(settings.idle_passivate_s, name=f"vnf:{vnf_instance_id}", held=spare)
        if spare:
            spares.warm_up((naming.INFRASTRUCTURE,))

    @contextlib.contextmanager
    def _working(self) -> Iterator[None]:
        self._idle.release_hold()  # work means it was handed out, even if a restart forgot the claim
        # One lifecycle call at a time (a stale deploy from a workflow whose service actor died
        # finishes before the resumed workflow acts on this VNF): the core holds the VNF's lease.
        with self._idle.active():
            yield

    def deploy(self, request: FunctionDeployment) -> dict[str, Any]:
        with self._working():
            return self.core.deploy(request)

    def start(self, action: FunctionAction) -> None:
        with self._working():
            self.core.start(action)

    def stop(self, action: FunctionAction) -> None:
        with self._working():
            self.core.stop(action)

    def configure(self, action: FunctionAction) -> None:
        with self._working():
            self.core.configure(action)

    def remove(self, action: FunctionAction) -> None:
        with self._working():
            self.core.remove(action)

    def heal(self, action: FunctionAction) -> dict[str, Any]:
        with self._working():
            return self.core.heal(action)

    def claim(self) -> None:
        """Its id was handed out and its deploy never came (the FLM claims such spares a step's
        time after handing them out; a deploy claims the others): it passivates when idle."""
        self._idle.release_hold()

    def unclaimed(self) -> bool:
        return self._idle.held

    def status(self) -> str:
        with self._idle.active():
            return self.core.vim_status()

    def store_info(self) -> dict:
        """Which store this actor uses (see :func:`actors.plugin.store_info`)."""
        return store_info(getattr(self, "_store", None), getattr(self, "_settings", None))

    def pid(self) -> int:
        import os
        return os.getpid()
