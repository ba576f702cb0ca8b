"""Typed, immutable models of SONATA descriptors (NSD and VNFD), SONATA.md §4.

The models type the fields mano acts on and keep every other field (``extra="allow"``), so a
descriptor written for SONATA round-trips unchanged through :meth:`Descriptor.to_dict`.
Validation happens once, at the edge (:mod:`mano.descriptors.loader`); inside mano these are
plain frozen objects. Cross-references (a virtual link naming a connection point, an NSD
naming a VNF) are checked in :mod:`mano.descriptors.references`, because they need the whole
document (and, for NSDs, the resolved VNFDs).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from mano.descriptors.conditions import Condition


def _to_text(value: Any) -> Any:
    # YAML reads an unquoted `version: 0.2` as a float; SONATA treats versions as strings.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, Field(min_length=1)]
VersionText = Annotated[str, BeforeValidator(_to_text), Field(min_length=1)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]

_MEMORY_UNITS_IN_GB = {
    "B": 1e-9, "KB": 1e-6, "MB": 1e-3, "GB": 1.0, "TB": 1e3,
    "KIB": 1024 / 1e9, "MIB": 1024**2 / 1e9, "GIB": 1024**3 / 1e9, "TIB": 1024**4 / 1e9,
}
# SONATA's own placement code divides MB by 1024 (SONATA.md §5); we keep that convention for
# MB/GB so that capacities in topology files (GB) compare the way SONATA operators expect.
_SONATA_UNITS_IN_GB = {"MB": 1 / 1024, "GB": 1.0, "TB": 1024.0}


class Model(BaseModel):
    """Base of every descriptor model: frozen, keeps unknown SONATA fields."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        """The descriptor as SONATA writes it (unset optional fields left out)."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


# --- shared pieces ---------------------------------------------------------------------
class ConnectionPoint(Model):
    id: Text
    type: str | None = None
    interface: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)


class Bandwidth(Model):
    bandwidth: NonNegative
    bandwidth_unit: str = "Mbps"


class Latency(Model):
    latency: NonNegative
    latency_unit: str = "ms"


def _wrap_number(key: str):
    def wrap(value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {key: value}
        return value
    return wrap


class QosRequirements(Model):
    """Link QoS. NSDs write ``minimum_bandwidth: {bandwidth: 10}``; VNFDs may write a bare number."""

    minimum_bandwidth: Annotated[Bandwidth, BeforeValidator(_wrap_number("bandwidth"))] | None = None
    latency: Annotated[Latency, BeforeValidator(_wrap_number("latency"))] | None = None

    @property
    def bandwidth_mbps(self) -> float:
        return self.minimum_bandwidth.bandwidth if self.minimum_bandwidth else 0.0

    @property
    def latency_ms(self) -> float | None:
        return self.latency.latency if self.latency else None


class VirtualLink(Model):
    id: Text
    connectivity_type: Literal["E-Line", "E-LAN", "E-Tree"]
    connection_points_reference: tuple[Text, ...] = Field(min_length=1)
    dhcp: bool | None = None
    cidr: str | None = None
    access: bool | None = None
    qos_requirements: QosRequirements | None = None


class SpecificManagerOption(Model):
    key: Text
    value: Annotated[str, BeforeValidator(_to_text)]


class SpecificManager(Model):
    """An SSM or FSM entry: ``{id, description, image, options[{key, value}]}`` (SONATA.md §3)."""

    id: Text
    description: str | None = None
    image: Text
    options: tuple[SpecificManagerOption, ...] = ()

    @property
    def types(self) -> tuple[str, ...]:
        """The lifecycle events this manager overrides (its ``type`` options)."""
        return tuple(o.value for o in self.options if o.key == "type")

    def option(self, key: str) -> str | None:
        return next((o.value for o in self.options if o.key == key), None)


class DeploymentFlavour(Model):
    name: Text


class MonitoringParameter(Model):
    name: Text
    unit: str | None = None


class Notification(Model):
    name: str | None = None
    type: Text


class MonitoringRule(Model):
    name: Text
    description: str | None = None
    duration: NonNegative | None = None
    duration_unit: str | None = None
    condition: Text
    notification: tuple[Notification, ...] = ()


# --- VNFD --------------------------------------------------------------------------------
class Cpu(Model):
    vcpus: Annotated[float, Field(gt=0)]


class Memory(Model):
    size: NonNegative
    size_unit: str = "MB"

    @model_validator(mode="after")
    def _known_unit(self) -> "Memory":
        if self.size_unit.upper() not in _MEMORY_UNITS_IN_GB:
            raise ValueError(f"unknown size_unit {self.size_unit!r}; expected one of MB, GB, TB, MiB, GiB")
        return self

    @property
    def gb(self) -> float:
        unit = self.size_unit.upper()
        return self.size * _SONATA_UNITS_IN_GB.get(unit, _MEMORY_UNITS_IN_GB[unit])


class ResourceRequirements(Model):
    cpu: Cpu
    memory: Memory
    storage: Memory | None = None


class VirtualDeploymentUnit(Model):
    """A VM-based deployment unit."""

    id: Text
    vm_image: Text
    vm_image_format: str | None = None
    vm_image_md5: str | None = None
    resource_requirements: ResourceRequirements
    connection_points: tuple[ConnectionPoint, ...] = ()
    monitoring_parameters: tuple[MonitoringParameter, ...] = ()


class CloudnativeDeploymentUnit(Model):
    """A container-based deployment unit (no VM resources: SONATA places it at 0 cores)."""

    id: Text
    image: Text
    connection_points: tuple[ConnectionPoint, ...] = ()
    parameters: dict[str, Any] | None = None
    resource_requirements: ResourceRequirements | None = None


class Vnfd(Model):
    """A SONATA VNF descriptor."""

    descriptor_version: VersionText | None = None
    vendor: Text
    name: Text
    version: VersionText
    uuid: str | None = None
    author: str | None = None
    description: str | None = None
    virtual_deployment_units: tuple[VirtualDeploymentUnit, ...] = ()
    cloudnative_deployment_units: tuple[CloudnativeDeploymentUnit, ...] = ()
    connection_points: tuple[ConnectionPoint, ...] = ()
    virtual_links: tuple[VirtualLink, ...] = ()
    function_specific_managers: tuple[SpecificManager, ...] = ()
    deployment_flavours: tuple[DeploymentFlavour, ...] = ()
    monitoring_rules: tuple[MonitoringRule, ...] = ()

    @model_validator(mode="after")
    def _has_units(self) -> "Vnfd":
        if not self.virtual_deployment_units and not self.cloudnative_deployment_units:
            raise ValueError("a VNFD needs at least one virtual_deployment_units or "
                             "cloudnative_deployment_units entry")
        return self

    @property
    def key(self) -> tuple[str, str, str]:
        """(vendor, name, version): how NSDs refer to this VNFD."""
        return (self.vendor, self.name, self.version)

    @property
    def deployment_units(self) -> tuple[VirtualDeploymentUnit | CloudnativeDeploymentUnit, ...]:
        return self.virtual_deployment_units + self.cloudnative_deployment_units

    @property
    def vcpus(self) -> float:
        """Cores needed by all VM deployment units (containers count as 0, as in SONATA)."""
        return sum(u.resource_requirements.cpu.vcpus for u in self.virtual_deployment_units)

    @property
    def memory_gb(self) -> float:
        return sum(u.resource_requirements.memory.gb for u in self.virtual_deployment_units)


# --- NSD ---------------------------------------------------------------------------------
class NetworkFunction(Model):
    vnf_id: Text
    vnf_vendor: Text
    vnf_name: Text
    vnf_version: VersionText
    vnf_flavour: str | None = None

    @property
    def vnfd_key(self) -> tuple[str, str, str]:
        return (self.vnf_vendor, self.vnf_name, self.vnf_version)


class PathConnectionPoint(Model):
    connection_point_ref: Text
    position: int = Field(ge=1)


class ForwardingPath(Model):
    fp_id: Text
    policy: str | None = None
    connection_points: tuple[PathConnectionPoint, ...] = ()


class ForwardingGraph(Model):
    fg_id: Text
    number_of_endpoints: int | None = Field(default=None, ge=0)
    number_of_virtual_links: int | None = Field(default=None, ge=0)
    constituent_virtual_links: tuple[Text, ...] = ()
    constituent_vnfs: tuple[Text, ...] = ()
    network_forwarding_paths: tuple[ForwardingPath, ...] = ()


class SoftConstraint(Model):
    objective: Literal["proximity", "affinity"]
    involved_actors: tuple[Text, ...] = Field(min_length=1)


def _condition(text: str) -> str:
    Condition.parse(text)  # raises ValueError with what is wrong
    return text


class AutoScalePolicy(Model):
    """mano's scaling policy for one network function (``auto_scale_policy.<vnf_id>`` of an NSD).

    An alert of the VNF's monitoring rules scales it out by one, up to ``max_instances``; while
    the mean of ``scale_in_when``'s metric over its live instances satisfies it for
    ``scale_in_duration_s``, it is scaled in by one, down to ``min_instances``. No action
    follows another on the same VNF within ``cooldown_s`` (default: the monitor's, 30 s).
    """

    max_instances: Annotated[int, Field(ge=1)] | None = None
    min_instances: Annotated[int, Field(ge=1)] = 1
    cooldown_s: NonNegative | None = None
    scale_in_when: Annotated[str, AfterValidator(_condition)] | None = None
    scale_in_duration_s: NonNegative = 0.0

    @model_validator(mode="after")
    def _bounds(self) -> "AutoScalePolicy":
        if self.max_instances is not None and self.min_instances > self.max_instances:
            raise ValueError(f"min_instances ({self.min_instances}) is above max_instances ({self.max_instances})")
        return self


class Nsd(Model):
    """A SONATA network service descriptor."""

    descriptor_version: VersionText | None = None
    vendor: Text
    name: Text
    version: VersionText
    uuid: str | None = None
    author: str | None = None
    description: str | None = None
    network_functions: tuple[NetworkFunction, ...] = Field(min_length=1)
    connection_points: tuple[ConnectionPoint, ...] = ()
    virtual_links: tuple[VirtualLink, ...] = ()
    forwarding_graphs: tuple[ForwardingGraph, ...] = ()
    service_specific_managers: tuple[SpecificManager, ...] = ()
    deployment_flavours: tuple[DeploymentFlavour, ...] = ()
    soft_constraints: tuple[SoftConstraint, ...] = ()
    auto_scale_policy: dict[Text, AutoScalePolicy] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _policies_name_functions(self) -> "Nsd":
        unknown = sorted(set(self.auto_scale_policy) - {nf.vnf_id for nf in self.network_functions})
        if unknown:
            raise ValueError(f"auto_scale_policy names {', '.join(unknown)}, which is not a vnf_id of "
                             f"network_functions")
        return self

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.vendor, self.name, self.version)

    def network_function(self, vnf_id: str) -> NetworkFunction:
        for nf in self.network_functions:
            if nf.vnf_id == vnf_id:
                return nf
        raise KeyError(vnf_id)
