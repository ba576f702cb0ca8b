"""The function lifecycle manager actor: the Ray shell over :class:`mano.lifecycle.functions.FunctionLifecycle`.

The core decides, per VNF, whether a call runs on the VNF's actor or here, and runs the batch;
this shell supplies the actors: a new VNF's deploy goes to a pre-started host
(``vnf-host-<hex>``, :mod:`mano.lifecycle.host_pool`) while the pool has one, which stays that
VNF's activation until it passivates; other VNFs' actors are ``vnf:<uuid>``, activated on demand
(heal). It calls them in parallel, retrying those that were passivated meanwhile.
"""
from __future__ import annotations

from typing import Any, Sequence

import ray

from actors import calls, handles, naming, spares
from actors.plugin import PluginActor
from actors.vnf_instance import VnfInstance
from mano.lifecycle import nodes
from mano.lifecycle.functions import FunctionLifecycle
from mano.lifecycle.host_pool import HostedInstances, HostPool, host_name
from mano.lifecycle.ports import FunctionAction, FunctionDeployment
from mano.settings import Settings
from mano.store.client import connect


@ray.remote(num_cpus=0, max_concurrency=64, max_restarts=-1)
class FunctionLifecycleManager(spares.SparePoolMethods, PluginActor):
    plugin_name = naming.FLM
    plugin_description = "Function lifecycle: deploy, start, stop, configure, heal, remove VNF instances"

    def __init__(self, settings: Settings):
        self._settings = settings
        self._store = connect(settings, stop_embedded_on_exit=False)
        spares.stop_unclaimed("vnf")  # a previous incarnation's: nobody can take them now
        size = settings.spare_vnf_actors if settings.vnf_actors == "per-instance" else 0
        self.spares = HostPool(size, self._create_host, lambda handle: calls.tell(handle, "claim"),
                               lambda: host_name("vnf"), refill_delay_s=settings.spare_refill_delay_s,
                               idle=lambda: spares.machine_idle(settings.spare_idle_cpu_percent))
        self._hosted = HostedInstances(settings.idle_passivate_s)
        self.core = FunctionLifecycle(self._store, handles.InfrastructureAdaptor(settings.step_timeout_s), naming.actor_leases(self._store, settings),
                                      wait_s=settings.step_timeout_s, threads=settings.flm_threads,
                                      has_actor=self._has_actor, on_actors=self._on_actors,
                                      prestarted=self._give_hosts)
        self._start_plugin(settings)
        self.spares.fill()

    def _create_host(self, name: str) -> Any:
        # Restarted by Ray after a crash, a host resumes the VNF whose lease it held (VnfInstance).
        return calls.create(VnfInstance, None, self._settings, True, where=nodes.instances(self._settings), name=name,
                            namespace=naming.NAMESPACE, lifetime="detached", max_restarts=-1)

    def _give_hosts(self, vnf_instance_ids: Sequence[str]) -> None:
        """New VNFs about to be deployed get the ready pre-started hosts, one each."""
        for vnf_instance_id, host in zip(vnf_instance_ids, self.spares.take_up_to(len(vnf_instance_ids))):
            self._hosted.assign(vnf_instance_id, host)

    def drain_spares(self) -> list[str]:
        """Give every ready pre-started host back unused (they passivate), as a burst that took
        them all would leave the pool; the refill follows as usual. Their names."""
        taken = self.spares.take_up_to(self.spares.size)
        for host in taken:
            self.spares.release(host)
        return [host.name for host in taken]

    def activation_of(self, vnf_instance_id: str) -> str | None:
        """The name of the actor that is the VNF's activation now, if any."""
        return spares.activation_name(self._hosted, vnf_instance_id, naming.vnf_actor(vnf_instance_id))

    def _vnf(self, vnf_instance_id: str) -> Any:
        host = self._hosted.get(vnf_instance_id)
        if host is not None:
            return host.handle
        return calls.create(VnfInstance, vnf_instance_id, self._settings, where=nodes.instances(self._settings),
                            name=naming.vnf_actor(vnf_instance_id),
                            namespace=naming.NAMESPACE, get_if_exists=True, lifetime="detached", max_restarts=-1)

    def _has_actor(self, vnf_instance_id: str) -> bool:
        return self.activation_of(vnf_instance_id) is not None

    def _on_actors(self, method: str, items: Sequence[Any]) -> list[tuple[Any, BaseException | None]]:
        """Call ``method`` on each item's VNF actor in parallel; retry items whose actor was gone."""
        outcomes: list[tuple[Any, BaseException | None]] = [(None, None)] * len(items)
        pending = list(range(len(items)))
        for attempt in range(3):
            refs = []
            for i in pending:
                refs.append(calls.tell(self._vnf(items[i].vnf_instance_id), method, items[i]))
                self._hosted.begin(items[i].vnf_instance_id)
            retry = []
            for i, (value, error) in zip(pending, calls.gather(refs, timeout=self._settings.step_timeout_s,
                                                               what=f"vnf.{method}")):
                vnf_instance_id = items[i].vnf_instance_id
                self._hosted.end(vnf_instance_id)
                if isinstance(error, calls.ActorUnavailable) and attempt < 2:
                    self._hosted.forget(vnf_instance_id)  # a host gone: its own actor next
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
        try:
            return calls.call(lambda: self._vnf(vnf_instance_id), "status", vnf_instance_id,
                              timeout=self._settings.step_timeout_s, retries=0)
        except calls.ActorUnavailable:
            self._hosted.forget(vnf_instance_id)  # its host passivated: its own actor answers
            return calls.call(lambda: self._vnf(vnf_instance_id), "status", vnf_instance_id,
                              timeout=self._settings.step_timeout_s)
