"""The VIM driver port (DESIGN.md decision 7) and the data that crosses it.

The lifecycle core owns this interface; the drivers that implement it are adapters in
:mod:`mano.vim` (emulated, Docker), which also re-exports these names.

Every call is idempotent by its natural key (the VNF instance id, the service id), because
workflow steps are re-run after a crash: deploying a VNF that is already deployed returns the
existing deployment, removing one that is gone is a no-op.
"""
from __future__ import annotations

import abc
import dataclasses
from typing import Any, Mapping, Sequence

from mano.errors import VimError


@dataclasses.dataclass(frozen=True)
class Pop:
    """A point of presence (a VIM) with its capacity, as SONATA's IA lists it (memory in GB)."""

    vim_uuid: str
    name: str
    city: str = ""
    endpoint: str = ""
    type: str = "vm"
    core_total: float = 0.0
    core_used: float = 0.0
    memory_total: float = 0.0
    memory_used: float = 0.0
    domain: str = "default"

    @property
    def cores_free(self) -> float:
        return self.core_total - self.core_used

    @property
    def memory_free(self) -> float:
        return self.memory_total - self.memory_used

    def to_sonata(self) -> dict:
        """The ``vim_list`` entry of SONATA's ``infrastructure.management.compute.list`` reply."""
        return {"vim_uuid": self.vim_uuid, "vim_name": self.name, "vim_city": self.city,
                "vim_domain": self.domain, "vim_endpoint": self.endpoint, "type": self.type,
                "core_total": self.core_total, "core_used": self.core_used,
                "memory_total": self.memory_total, "memory_used": self.memory_used}


@dataclasses.dataclass(frozen=True)
class WanLink:
    """A WAN link between two PoPs (or a PoP and a plain network node, such as an ingress
    location): one ``qos`` pair of a SONATA WIM. Bandwidth in Mbps, latency in ms."""

    node_1: str
    node_2: str
    bandwidth: float = 0.0
    latency: float = 0.0

    def to_sonata(self) -> dict:
        return {"node_1": self.node_1, "node_2": self.node_2, "bandwidth": self.bandwidth, "latency": self.latency}


@dataclasses.dataclass(frozen=True)
class NetworkRequest:
    """One virtual link of a service to realise as a network (SONATA name ``<serv>_ns_<vl>``)."""

    vl_id: str
    connectivity_type: str = "E-LAN"
    cidr: str | None = None


@dataclasses.dataclass(frozen=True)
class Network:
    id: str
    vl_id: str
    cidr: str
    pop: str | None = None


@dataclasses.dataclass(frozen=True)
class UnitRequest:
    """One deployment unit (VDU or CDU) to start."""

    id: str
    image: str
    vcpus: float
    memory_gb: float
    connection_points: tuple[str, ...] = ()
    kind: str = "vm"
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class VnfDeployment:
    """Everything a VIM needs to run one VNF instance on one PoP."""

    service_id: str
    vnf_instance_id: str
    vnf_name: str
    pop: str
    units: tuple[UnitRequest, ...]
    # connection point id (``vdu01:eth0`` or the VNF's external point) -> network id
    networks: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # The VNFD as SONATA writes it, for a driver that hands the VIM the descriptor itself
    # (SONATA's infrastructure adaptor); None for a deployment rebuilt from records.
    descriptor: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def vcpus(self) -> float:
        return sum(u.vcpus for u in self.units if u.kind == "vm")

    @property
    def memory_gb(self) -> float:
        return sum(u.memory_gb for u in self.units if u.kind == "vm")


@dataclasses.dataclass(frozen=True)
class DeployedUnit:
    unit_id: str
    vc_id: str            # the VIM's id of the VM/container
    vim_id: str
    addresses: Mapping[str, str]  # connection point id -> IP address


@dataclasses.dataclass(frozen=True)
class DeployedVnf:
    vnf_instance_id: str
    pop: str
    units: tuple[DeployedUnit, ...]


class VimDriver(abc.ABC):
    """What the infrastructure adaptor needs from a VIM. Implementations must be thread-safe."""

    kind: str = "abstract"

    @abc.abstractmethod
    def list_pops(self) -> list[Pop]:
        """The PoPs with their current usage."""

    @abc.abstractmethod
    def create_networks(self, service_id: str, requests: Sequence[NetworkRequest]) -> list[Network]:
        """Create (or return the existing) networks of a service."""

    @abc.abstractmethod
    def delete_networks(self, service_id: str) -> None:
        """Delete all networks of a service; a no-op when there are none."""

    @abc.abstractmethod
    def deploy_vnf(self, deployment: VnfDeployment) -> DeployedVnf:
        """Allocate and start the units of one VNF instance on its PoP."""

    @abc.abstractmethod
    def remove_vnf(self, service_id: str, vnf_instance_id: str) -> None:
        """Remove a VNF instance and release its capacity; a no-op when it is gone."""

    @abc.abstractmethod
    def vnf_status(self, vnf_instance_id: str) -> str:
        """``running``, ``failed`` (the VIM lost it) or ``absent``."""

    @abc.abstractmethod
    def stats(self, vnf_instance_id: str) -> dict[str, float]:
        """Current metrics of a VNF instance (cpu %, memory %, network counters)."""

    def configure_vnf(self, service_id: str, vnf_instance_id: str, envs: Mapping[str, str]) -> None:
        """Set a running VNF's environment (SONATA's env injection) to ``envs``: the whole of it,
        as its VNFR records it (the caller merges new values over the old); idempotent. A
        driver that cannot says so."""
        raise VimError(f"the {self.kind} VIM cannot configure a running VNF")

    def deployments(self) -> dict[str, DeployedVnf]:
        """Every VNF instance this driver currently runs (for reconciliation)."""
        return {}

    def close(self) -> None:
        """Release driver resources (connections); deployed VNFs stay."""
