"""The emulated VIM: in-process PoPs with core and memory accounting, for any scale.

It is the default driver: no server, no containers, so thousands of VNFs cost a few KB each.
It behaves like a VIM where it matters to the orchestrator: capacity is checked and reserved
atomically, addresses are handed out per network, deployments are idempotent, and it can be
told to misbehave (:class:`FaultPlan`, :meth:`EmulatedVim.crash_vnf`), as an emulator such
as son-emu can, so that rollback and healing are exercised without real infrastructure.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import logging
import random
import threading
import time
import uuid
from typing import Iterable, Mapping, Sequence

from mano.descriptors.models import ResourceRequirements
from mano.errors import CapacityError, TemporaryVimError, VimError
from mano.lifecycle.vim_port import (DeployedUnit, DeployedVnf, Network, NetworkRequest, Pop, UnitRequest, VimDriver,
                                     VnfDeployment)
from mano.records import VnfrRecord

log = logging.getLogger(__name__)

_EPSILON = 1e-9


@dataclasses.dataclass
class FaultPlan:
    """Make the next matching deployments fail (an emulator feature, used for chaos runs).

    ``vnf_name``/``pop`` narrow which deployments fail (None matches any); ``skip`` lets that
    many matching deployments succeed first; ``times`` is how many then fail.
    """

    vnf_name: str | None = None
    pop: str | None = None
    skip: int = 0
    times: int = 1
    temporary: bool = False
    message: str = "injected fault"
    delay_s: float = 0.0  # a slow VIM: sleep this long, then fail only if ``fail`` is set
    fail: bool = True

    def matches(self, deployment: VnfDeployment) -> bool:
        return ((self.vnf_name is None or self.vnf_name == deployment.vnf_name)
                and (self.pop is None or self.pop == deployment.pop))


class EmulatedVim(VimDriver):
    """Thread-safe in-memory PoPs. ``pops`` give capacity and the usage already there."""

    kind = "emulated"

    def __init__(self, pops: Sequence[Pop], *, seed: int | None = None):
        if not pops:
            raise VimError("the emulated VIM needs at least one PoP")
        self._lock = threading.Lock()
        self._pops = {p.vim_uuid: p for p in pops}
        self._deployed: dict[str, DeployedVnf] = {}
        self._demand: dict[str, tuple[str, float, float]] = {}  # vnf id -> (pop, cores, GB)
        self._service_of: dict[str, str] = {}
        self._failed: set[str] = set()
        self._networks: dict[str, dict[str, Network]] = {}
        self._hosts: dict[str, itertools.count] = {}
        self._cidr_of: dict[str, str] = {}
        self._subnets = ipaddress.ip_network("10.0.0.0/8").subnets(new_prefix=24)
        self._faults: list[FaultPlan] = []
        self._load: dict[str, dict[str, float]] = {}
        self._envs: dict[str, dict[str, str]] = {}
        self._random = random.Random(seed)

    # --- PoPs and faults -------------------------------------------------------------
    def list_pops(self) -> list[Pop]:
        with self._lock:
            return list(self._pops.values())

    def inject_fault(self, plan: FaultPlan) -> None:
        with self._lock:
            self._faults.append(plan)

    def clear_faults(self) -> None:
        """Forget every fault plan not used up yet: the VIM behaves again."""
        with self._lock:
            self._faults.clear()

    def crash_vnf(self, vnf_instance_id: str) -> None:
        """Mark a VNF instance's units as dead, as a VIM reports a crashed VM/container."""
        with self._lock:
            if vnf_instance_id not in self._deployed:
                raise VimError(f"no VNF instance {vnf_instance_id} on the emulated VIM")
            self._failed.add(vnf_instance_id)

    # --- networks ----------------------------------------------------------------------
    def create_networks(self, service_id: str, requests: Sequence[NetworkRequest]) -> list[Network]:
        with self._lock:
            nets = self._networks.setdefault(service_id, {})
            for req in requests:
                if req.vl_id not in nets:
                    cidr = req.cidr or str(next(self._subnets))
                    nets[req.vl_id] = Network(id=f"{service_id}_ns_{req.vl_id}", vl_id=req.vl_id, cidr=cidr)
                    self._hosts[nets[req.vl_id].id] = itertools.count(2)
                    self._cidr_of[nets[req.vl_id].id] = cidr
            return [nets[r.vl_id] for r in requests]

    def delete_networks(self, service_id: str) -> None:
        with self._lock:
            for net in self._networks.pop(service_id, {}).values():
                self._hosts.pop(net.id, None)
                self._cidr_of.pop(net.id, None)

    def _address(self, network_id: str | None) -> str:
        if network_id is None or network_id not in self._cidr_of:
            # a point on no service network gets a management address
            network_id = "__mgmt__"
            self._hosts.setdefault(network_id, itertools.count(2))
            self._cidr_of.setdefault(network_id, "172.16.0.0/12")
        base = ipaddress.ip_network(self._cidr_of[network_id])
        return str(base.network_address + next(self._hosts[network_id]))

    # --- VNFs --------------------------------------------------------------------------
    def deploy_vnf(self, deployment: VnfDeployment) -> DeployedVnf:
        with self._lock:
            plan = self._matching_fault(deployment)
        if plan is not None and plan.delay_s > 0:
            time.sleep(plan.delay_s)  # outside the lock: a slow VIM does not stall other calls
        with self._lock:
            existing = self._deployed.get(deployment.vnf_instance_id)
            if existing is not None and deployment.vnf_instance_id not in self._failed:
                return existing
            if existing is not None:  # re-deploy of a failed instance (heal): release first
                self._release(deployment.vnf_instance_id)
            if plan is not None and plan.fail:
                error = TemporaryVimError if plan.temporary else VimError
                raise error(f"{plan.message}: deploying {deployment.vnf_name} on {deployment.pop}")
            self._reserve(deployment)
            units = tuple(
                DeployedUnit(unit_id=u.id, vc_id=f"{u.id}-{uuid.uuid4()}", vim_id=deployment.pop,
                             addresses={cp: self._address(deployment.networks.get(cp))
                                        for cp in u.connection_points})
                for u in deployment.units)
            deployed = DeployedVnf(deployment.vnf_instance_id, deployment.pop, units)
            self._deployed[deployment.vnf_instance_id] = deployed
            self._service_of[deployment.vnf_instance_id] = deployment.service_id
            return deployed

    def _matching_fault(self, deployment: VnfDeployment) -> FaultPlan | None:
        """The fault plan that applies to this deployment (consuming one of its uses), if any."""
        for plan in self._faults:
            if plan.matches(deployment):
                if plan.skip > 0:
                    plan.skip -= 1
                    return None
                plan.times -= 1
                if plan.times <= 0:
                    self._faults.remove(plan)
                return plan
        return None

    def _reserve(self, d: VnfDeployment) -> None:
        pop = self._pops.get(d.pop)
        if pop is None:
            raise VimError(f"unknown PoP {d.pop!r}; known: {', '.join(sorted(self._pops))}")
        if d.vcpus > pop.cores_free + _EPSILON:
            raise CapacityError(f"PoP {pop.name} ({pop.vim_uuid}) has {pop.cores_free:g} free cores; "
                                f"{d.vnf_name} needs {d.vcpus:g}")
        if d.memory_gb > pop.memory_free + _EPSILON:
            raise CapacityError(f"PoP {pop.name} ({pop.vim_uuid}) has {pop.memory_free:g} GB free memory; "
                                f"{d.vnf_name} needs {d.memory_gb:g} GB")
        self._pops[d.pop] = dataclasses.replace(pop, core_used=pop.core_used + d.vcpus,
                                                memory_used=pop.memory_used + d.memory_gb)
        self._demand[d.vnf_instance_id] = (d.pop, d.vcpus, d.memory_gb)

    def _release(self, vnf_instance_id: str) -> None:
        pop_id, cores, memory = self._demand.pop(vnf_instance_id)
        pop = self._pops[pop_id]
        self._pops[pop_id] = dataclasses.replace(pop, core_used=max(0.0, pop.core_used - cores),
                                                 memory_used=max(0.0, pop.memory_used - memory))
        self._deployed.pop(vnf_instance_id, None)
        self._service_of.pop(vnf_instance_id, None)
        self._failed.discard(vnf_instance_id)
        self._envs.pop(vnf_instance_id, None)

    def remove_vnf(self, service_id: str, vnf_instance_id: str) -> None:
        with self._lock:
            if vnf_instance_id in self._demand:
                self._release(vnf_instance_id)

    def configure_vnf(self, service_id: str, vnf_instance_id: str, envs: Mapping[str, str]) -> None:
        with self._lock:
            if vnf_instance_id not in self._deployed or vnf_instance_id in self._failed:
                raise VimError(f"no running VNF instance {vnf_instance_id} on the emulated VIM to configure")
            self._envs[vnf_instance_id] = {str(k): str(v) for k, v in envs.items()}

    def configuration(self, vnf_instance_id: str) -> dict[str, str]:
        """The environment a VNF was configured with (what its processes would read)."""
        with self._lock:
            return dict(self._envs.get(vnf_instance_id, {}))

    def vnf_status(self, vnf_instance_id: str) -> str:
        with self._lock:
            if vnf_instance_id not in self._deployed:
                return "absent"
            return "failed" if vnf_instance_id in self._failed else "running"

    def set_load(self, vnf_instance_id: str, metrics: dict[str, float] | None) -> None:
        """Pin a VNF's metrics (synthetic load for monitoring drills); None: back to random."""
        with self._lock:
            if metrics is None:
                self._load.pop(vnf_instance_id, None)
            else:
                self._load[vnf_instance_id] = dict(metrics)

    def stats(self, vnf_instance_id: str) -> dict[str, float]:
        """Synthetic load: pinned by :meth:`set_load`, else random values in a quiet range."""
        with self._lock:
            if vnf_instance_id not in self._deployed:
                raise VimError(f"no VNF instance {vnf_instance_id} on the emulated VIM")
            if vnf_instance_id in self._load:
                return dict(self._load[vnf_instance_id])
            return {"vm_cpu_perc": round(self._random.uniform(1, 20), 2),
                    "vm_mem_perc": round(self._random.uniform(5, 30), 2),
                    "vm_net_rx_MB": round(self._random.uniform(0, 5), 3),
                    "vm_net_tx_MB": round(self._random.uniform(0, 5), 3)}

    def deployments(self) -> dict[str, DeployedVnf]:
        with self._lock:
            return dict(self._deployed)

    def adopt(self, service_id: str, deployment: VnfDeployment, deployed: DeployedVnf) -> None:
        """Re-register a VNF known from the records after the adaptor restarted (reconcile)."""
        with self._lock:
            if deployment.vnf_instance_id in self._deployed:
                return
            self._reserve(deployment)
            self._deployed[deployment.vnf_instance_id] = deployed
            self._service_of[deployment.vnf_instance_id] = service_id

    def adopt_records(self, vnfrs: Iterable[VnfrRecord]) -> int:
        """Re-adopt the VNFs these records (the live VNFRs of this VIM) say are deployed, so a
        restarted adaptor does not forget capacity that is in use; how many it adopted. One it
        cannot adopt (its PoP is gone, it no longer fits) is logged and skipped."""
        adopted = 0
        for vnfr in vnfrs:
            if vnfr.pop is None:
                continue
            units, deployed_units = [], []
            for vdu in vnfr.virtual_deployment_units:
                rr = ResourceRequirements.model_validate(vdu.get("resource_requirements") or {})
                units.append(UnitRequest(id=vdu["id"], image=vdu.get("vm_image", ""), vcpus=rr.cpu.vcpus,
                                         memory_gb=rr.memory.gb))
                deployed_units += [DeployedUnit(unit_id=vdu["id"], vc_id=vnfc.get("vc_id", ""), vim_id=vnfr.pop,
                                                addresses={}) for vnfc in vdu.get("vnfc_instance") or []]
            deployment = VnfDeployment(service_id=vnfr.service_id or "", vnf_instance_id=vnfr.id,
                                       vnf_name=vnfr.name or "", pop=vnfr.pop, units=tuple(units))
            try:
                self.adopt(vnfr.service_id or "", deployment, DeployedVnf(vnfr.id, vnfr.pop, tuple(deployed_units)))
                adopted += 1
            except Exception as exc:  # noqa: BLE001 - report, keep going
                log.warning("cannot re-adopt VNF %s: %s", vnfr.id, exc)
        return adopted
