"""The function lifecycle manager actor: the Ray shell over :class:`mano.lifecycle.functions.FunctionLifecycle`.

The core decides, per VNF, whether a call runs on the VNF's own actor or here, and runs the
batch; this shell supplies the actors: it activates ``vnf:<uuid>`` actors (creating them, or
finding them again after passivation; new VNF instances get the ids of warm spare actors, see
``actors.spares``, claimed by their deploy) and calls them in parallel, retrying those that
were passivated meanwhile.
"""
from __future__ import annotations

from typing import Any, Sequence

import ray

from actors import calls, naming, scheduling, spares
from actors.plugin import PluginActor
from actors.ports import RayInfrastructure
from actors.vnf_instance import VnfInstance
from mano.lifecycle.functions import FunctionLifecycle
from mano.lifecycle.ports import FunctionAction, FunctionDeployment
from mano.settings import Settings
from mano.store.client import connect


@ray.remote(num_cpus=0, max_concurrency=64, max_restarts=-1)
class FunctionLifecycleManager(PluginActor):
    plugin_name = naming.FLM
    plugin_description = "Function lifecycle: deploy, start, stop, configure, heal, remove VNF instances"

    def __init__(self, settings: Settings):
        self._settings = settings
        self._store = connect(settings, stop_embedded_on_exit=False)
        spares.stop_unclaimed("vnf")  # a previous incarnation's: nobody can take them now
        size = settings.spare_vnf_actors if settings.vnf_actors == "per-instance" else 0
        self.spares = spares.SparePool(size, self._create_spare, lambda handle: calls.tell(handle, "claim"),
                                       refill_delay_s=settings.spare_refill_delay_s,
                                       idle=lambda: spares.machine_idle(settings.spare_idle_cpu_percent))
        self.core = FunctionLifecycle(self._store, RayInfrastructure(settings), naming.actor_leases(self._store, settings),
                                      wait_s=settings.step_timeout_s, threads=settings.flm_threads,
                                      has_actor=self._has_actor, on_actors=self._on_actors,
                                      new_ids=self._new_ids)
        self._start_plugin(settings)
        self.spares.fill()

    def _new_ids(self, count: int) -> list[str]:
        # Spares handed out unclaimed: the deploy on each claims it (see _on_actors); one whose
        # deploy never comes (the instantiation failed) is claimed a step's time later.
        return self.spares.take_ids(count, claim_after_s=self._settings.step_timeout_s)

    def _create_spare(self, vnf_instance_id: str) -> Any:
        return calls.create(VnfInstance, vnf_instance_id, self._settings, True, where=scheduling.instances(self._settings),
                            name=naming.vnf_actor(vnf_instance_id),
                            namespace=naming.NAMESPACE, lifetime="detached", max_restarts=-1)

    def new_instance_ids(self, count: int) -> list[str]:
        """Ids for ``count`` new VNF instances: those of warm spare actors first (actors/spares.py)."""
        return self.core.new_instance_ids(count)

    def spare_ids(self) -> list[str]:
        return self.spares.ids()

    def fill_spares(self) -> list[str]:
        """Fill the spare pool now, whatever the CPU load, and return its ids: warming the runtime
        before a known burst. The automatic refill waits for idle CPUs, which a machine shared
        with a busy neighbour may not have for a long time (work then runs here, warm)."""
        self.spares.fill()
        return self.spares.ids()

    def _vnf(self, vnf_instance_id: str) -> Any:
        return calls.create(VnfInstance, vnf_instance_id, self._settings, where=scheduling.instances(self._settings),
                            name=naming.vnf_actor(vnf_instance_id),
                            namespace=naming.NAMESPACE, get_if_exists=True, lifetime="detached", max_restarts=-1)

    def _has_actor(self, vnf_instance_id: str) -> bool:
        return calls.actor_exists(naming.vnf_actor(vnf_instance_id), naming.NAMESPACE)

    def _on_actors(self, method: str, items: Sequence[Any]) -> list[tuple[Any, BaseException | None]]:
        """Call ``method`` on each item's VNF actor in parallel; retry items whose actor was gone."""
        outcomes: list[tuple[Any, BaseException | None]] = [(None, None)] * len(items)
        pending = list(range(len(items)))
        if method == "deploy":
            self.spares.used([item.vnf_instance_id for item in items])  # the deploy claims a spare
        for attempt in range(3):
            refs = [calls.tell(self._vnf(items[i].vnf_instance_id), method, items[i]) for i in pending]
            retry = []
            for i, (value, error) in zip(pending, calls.gather(refs, timeout=self._settings.step_timeout_s,
                                                               what=f"vnf.{method}")):
                if isinstance(error, calls.ActorUnavailable) and attempt < 2:
                    retry.append(i)  # passivated or crashed between lookup and call
                else:
                    outcomes[i] = (value, error)
            if not retry:
                break
            pending = retry
        return outcomes

    # --- the Functions port: the core's ----------------------------------------------------
    def deploy(self, requests: Sequence[FunctionDeployment]) -> list[dict[str, Any]]:
        return self.core.deploy(requests)

    def start(self, actions: Sequence[FunctionAction]) -> None:
        self.core.start(actions)

    def stop(self, actions: Sequence[FunctionAction]) -> None:
        self.core.stop(actions)

    def configure(self, actions: Sequence[FunctionAction]) -> None:
        self.core.configure(actions)

    def remove(self, actions: Sequence[FunctionAction]) -> None:
        self.core.remove(actions)

    def heal(self, action: FunctionAction) -> dict[str, Any]:
        return self.core.heal(action)

    def status(self, vnf_instance_id: str) -> str:
        return calls.call(lambda: self._vnf(vnf_instance_id), "status", timeout=self._settings.step_timeout_s)
