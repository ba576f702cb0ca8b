"""The function lifecycle manager actor: fans requests out to the VNF instance actors.

It activates ``vnf:<uuid>`` actors (creating them, or finding them again after passivation;
new VNF instances get the ids of warm spare actors, see ``actors.spares``) and runs a batch in
parallel; a batch fails as a whole with every failure named, after all its calls have ended, so
the caller's rollback knows what happened. Which VNF runs on its actor and which here is
:func:`mano.lifecycle.hosting.host_vnf_call`; each call holds the VNF's lease either way.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import ray

from actors import calls, naming, spares
from actors.plugin import PluginActor
from actors.ports import RayInfrastructure
from actors.vnf_instance import VnfInstance
from mano.errors import ManoError
from mano.lifecycle.hosting import Host, host_vnf_call
from mano.lifecycle.local import raise_failures
from mano.lifecycle.ports import FunctionAction, FunctionDeployment
from mano.lifecycle.vnf import VnfController
from mano.settings import Settings
from mano.store.client import connect


@ray.remote(num_cpus=0, max_concurrency=64, max_restarts=-1)
class FunctionLifecycleManager(PluginActor):
    plugin_name = naming.FLM
    plugin_description = "Function lifecycle: deploy, start, stop, configure, heal, remove VNF instances"

    def __init__(self, settings: Settings):
        self._settings = settings
        self._store = connect(settings, stop_embedded_on_exit=False)
        self._infrastructure = RayInfrastructure(settings)
        self._leases = naming.actor_leases(self._store, settings)
        self._pool = ThreadPoolExecutor(max_workers=settings.flm_threads, thread_name_prefix="vnf")
        spares.stop_unclaimed("vnf")  # a previous incarnation's: nobody can take them now
        size = settings.spare_vnf_actors if settings.vnf_actors == "per-instance" else 0
        self.spares = spares.SparePool(size, self._create_spare, lambda handle: handle.claim.remote(),
                                       refill_delay_s=settings.spare_refill_delay_s,
                                       idle=lambda: spares.machine_idle(settings.spare_idle_cpu_percent))
        self._start_plugin(settings)
        self.spares.fill()

    def _create_spare(self, vnf_instance_id: str) -> Any:
        return VnfInstance.options(name=naming.vnf_actor(vnf_instance_id), namespace=naming.NAMESPACE,
                                   lifetime="detached", max_restarts=-1).remote(
            vnf_instance_id, self._settings, spare=True)

    def new_instance_ids(self, count: int) -> list[str]:
        """Ids for ``count`` new VNF instances: those of warm spare actors first (actors/spares.py)."""
        return self.spares.take_ids(count)

    def spare_ids(self) -> list[str]:
        return self.spares.ids()

    def fill_spares(self) -> list[str]:
        """Fill the spare pool now, whatever the CPU load, and return its ids: warming the runtime
        before a known burst. The automatic refill waits for idle CPUs, which a machine shared
        with a busy neighbour may not have for a long time (work then runs here, warm)."""
        self.spares.fill()
        return self.spares.ids()

    def _vnf(self, vnf_instance_id: str) -> Any:
        return VnfInstance.options(name=naming.vnf_actor(vnf_instance_id), namespace=naming.NAMESPACE,
                                   get_if_exists=True, lifetime="detached", max_restarts=-1).remote(
            vnf_instance_id, self._settings)

    def _batch(self, method: str, items: Sequence[Any], key: Any, arg: Any = lambda item: item, *,
               activate: bool = False) -> list[Any]:
        """Run ``method`` for every item in parallel; raise one error naming every failure.

        ``activate``: single-VNF work on a VNF's own state (heal) activates its actor. Otherwise
        a VNF whose actor is up (a warm spare it was deployed on, or an active one) is called
        there and the others run here, so lifecycle work never waits for a worker process to
        start: a burst of 50 instantiations with an actor start per VNF timed steps out, and
        scaling 200 services out by one VNF each queued 200 process starts.
        """
        hosts = [host_vnf_call(has_actor=not activate and self._has_actor(item.vnf_instance_id), needs_actor=activate)
                 for item in items]
        on_actors = [i for i, host in enumerate(hosts) if host is Host.OWN_ACTOR]
        here = [i for i, host in enumerate(hosts) if host is Host.MANAGER]
        pending = self._pool.submit(self._in_process, method, [items[i] for i in here], arg) if here else None
        outcomes: list[Any] = [None] * len(items)
        for i, outcome in zip(on_actors, self._on_actors(method, [items[i] for i in on_actors], arg)):
            outcomes[i] = outcome
        for i, outcome in zip(here, pending.result() if pending else []):
            outcomes[i] = outcome
        raise_failures(method, len(items), [(key(item), error) for item, (_, error) in zip(items, outcomes)
                                            if error is not None])
        return [value for value, _ in outcomes]

    def _has_actor(self, vnf_instance_id: str) -> bool:
        return calls.actor_exists(naming.vnf_actor(vnf_instance_id), naming.NAMESPACE)

    def _in_process(self, method: str, items: Sequence[Any], arg: Any) -> list[tuple[Any, BaseException | None]]:
        """Run items on VnfControllers here, in parallel threads. Each call holds its VNF's lease,
        so calls on one VNF run one after the other, here or on its actor alike."""
        def one(item: Any) -> Any:
            core = VnfController(item.vnf_instance_id, self._store, self._infrastructure, leases=self._leases,
                                 wait_s=self._settings.step_timeout_s)
            return getattr(core, method)(arg(item))
        futures = [self._pool.submit(one, item) for item in items]
        outcomes: list[tuple[Any, BaseException | None]] = []
        for future in futures:
            try:
                outcomes.append((future.result(timeout=self._settings.step_timeout_s), None))
            except ManoError as exc:
                outcomes.append((None, exc))
        return outcomes

    def _on_actors(self, method: str, items: Sequence[Any], arg: Any) -> list[tuple[Any, BaseException | None]]:
        """Call ``method`` on each item's VNF actor in parallel; retry items whose actor was gone."""
        outcomes: list[tuple[Any, BaseException | None]] = [(None, None)] * len(items)
        pending = list(range(len(items)))
        for attempt in range(3):
            refs = [getattr(self._vnf(items[i].vnf_instance_id), method).remote(arg(items[i])) for i in pending]
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

    def deploy(self, requests: Sequence[FunctionDeployment]) -> list[dict[str, Any]]:
        return self._batch("deploy", requests, lambda r: f"{r.vnf_id} ({r.vnf_instance_id})")

    def start(self, actions: Sequence[FunctionAction]) -> None:
        self._batch("start", actions, lambda a: a.vnf_instance_id)

    def stop(self, actions: Sequence[FunctionAction]) -> None:
        self._batch("stop", actions, lambda a: a.vnf_instance_id)

    def configure(self, actions: Sequence[FunctionAction]) -> None:
        self._batch("configure", actions, lambda a: a.vnf_instance_id)

    def remove(self, actions: Sequence[FunctionAction]) -> None:
        self._batch("remove", actions, lambda a: a.vnf_instance_id)

    def heal(self, action: FunctionAction) -> dict[str, Any]:
        return self._batch("heal", [action], lambda a: a.vnf_instance_id, activate=True)[0]

    def status(self, vnf_instance_id: str) -> str:
        return calls.call(lambda: self._vnf(vnf_instance_id), "status", timeout=self._settings.step_timeout_s)
